"""The scheduler killed under a running ``tune --scheduler``: one line, exit 1, exact resume."""

from __future__ import annotations

import json
import time

import pytest
from _procs import Cluster, driver, finish, stop, write_spec

from driver_journal import journal_rows, wait_until


@pytest.mark.parametrize(
    "resume",
    [False, pytest.param(True, marks=pytest.mark.slow)],  # two clusters, two drivers: 40-90 s
)
def test_losing_the_scheduler_is_one_line_and_a_new_scheduler_resumes_exactly(tmp_path, resume):
    spec = write_spec(tmp_path, n_candidates=20, delay=0.15)
    out = tmp_path / "run"
    journal = out / "journal.sqlite"
    first = Cluster(tmp_path)
    try:
        address = first.start_scheduler()
        first.start_workers(2 if resume else 1)
        proc = driver(spec, address, out)
        try:
            assert wait_until(lambda: journal_rows(journal) >= 6, timeout=120)
            first.kill_scheduler()
            killed = time.monotonic()
            rc, stdout, stderr = finish(proc, timeout=120)
        finally:
            stop(proc)
        waited = time.monotonic() - killed
    finally:
        first.close()
    done = journal_rows(journal)
    assert 6 <= done < 60, "the scheduler must die half way"
    assert rc == 1 and stdout == "" and "Traceback" not in stderr, stderr
    lines = [line for line in stderr.strip().splitlines() if not line.startswith("[daskcloud]")]
    assert lines[0].startswith("dashboard: ") and len(lines) == 2, stderr
    assert " ".join(lines[-1].split()) == (
        f"error: lost the Dask scheduler at {address}; {done} of 60 fits are in the journal "
        f"{journal}; rerun the same command to resume"
    )
    # a refused connection ends the wait at once, not after Dask's reconnect timeout (30 s)
    assert waited < 25
    if not resume:
        return

    second = Cluster(tmp_path)
    try:
        second.start_scheduler()
        second.start_workers(2)
        rc, stdout, stderr = finish(driver(spec, second.address, out), timeout=180)
    finally:
        second.close()
    assert rc == 0, stderr
    resumed = json.loads(stdout)
    assert (resumed["n_fits_skipped"], resumed["n_fits"]) == (done, 60 - done)
    assert journal_rows(journal) == 60
