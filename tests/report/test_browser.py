"""The report in a real browser: headless Chromium renders every chart, offline, without errors.

Needs Debian's chromium (``make test`` installs it where apt-get is available and it
is missing); skipped with the install command otherwise.
"""

from __future__ import annotations

import pytest

from daskcloud.report import write_report

from ._browser import find_chromium, inspect_page

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed: apt-get install -y chromium (make test does this on Debian)",
)

LOCAL_SCHEMES = ("file:", "data:", "about:", "blob:")


def _check_rendered(report, html: str) -> None:
    assert report.errors == [], f"console errors: {report.errors}"
    remote = [u for u in report.requests if not u.startswith(LOCAL_SCHEMES)]
    assert remote == [], f"the report made network requests: {remote}"
    n_charts = html.count("Plotly.newPlot(")
    assert report.counts["plots"] == n_charts > 0
    assert report.counts["svgs"] >= n_charts  # plotly draws each chart into svg.main-svg layers
    assert report.screenshot.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(report.charts) == n_charts
    for chart in report.charts:
        # a drawn chart has axes, lines, bars or text: well over 1 % non-white pixels
        assert chart["ink"] > 0.01 * chart["area"], f"{chart['id']} looks empty: {chart}"


# the halving run's report (rungs, more charts) is the default suite's; the grid run's is slow
@pytest.mark.parametrize("run", [pytest.param("dask_run", marks=pytest.mark.slow), "halving_run"])
def test_report_renders_in_chromium(run, request, tmp_path):
    path = write_report(request.getfixturevalue(run))
    report = inspect_page(path, chromium=CHROMIUM)
    (tmp_path / "screenshot.png").write_bytes(report.screenshot)  # kept for a failing run
    _check_rendered(report, path.read_text(encoding="utf-8"))


def test_the_harness_sees_errors_requests_and_blank_charts(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text(
        "<html><body><div class='js-plotly-plot' id='blank' style='height:200px'></div>"
        "<img src='http://127.0.0.1:9/x.png'>"
        "<script>console.error('boom'); missingFunction();</script></body></html>"
    )
    report = inspect_page(page, chromium=CHROMIUM, settle_s=0.5)
    assert any("boom" in e for e in report.errors)
    assert any("missingFunction" in e for e in report.errors)
    assert "http://127.0.0.1:9/x.png" in report.requests
    assert report.charts[0]["ink"] == 0
    with pytest.raises(AssertionError):
        _check_rendered(report, "Plotly.newPlot(")
