"""SIGTERM (a batch system) and SIGINT (Ctrl-C) to a real driver: a clean stop, an exact resume."""

from __future__ import annotations

import json
import signal
import time

import pytest
from _procs import cluster, driver, finish, stop, write_spec

from driver_journal import journal_rows, wait_until


def last_line(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return " ".join(lines[-1].split()) if lines else ""


SLOW = pytest.mark.slow  # real scheduler, worker and driver processes, twice: 30-90 s


@pytest.mark.parametrize(
    ("signum", "code", "resume"),
    [
        (signal.SIGTERM, 143, False),
        pytest.param(signal.SIGTERM, 143, True, marks=SLOW),
        pytest.param(signal.SIGINT, 130, True, marks=SLOW),
    ],
)
def test_a_signal_stops_the_driver_cleanly_and_the_rerun_fits_only_the_rest(
    tmp_path, signum, code, resume
):
    spec = write_spec(tmp_path, n_candidates=20, delay=0.1)
    out = tmp_path / "run"
    journal = out / "journal.sqlite"
    with cluster(tmp_path, n_workers=2 if resume else 1) as c:
        proc = driver(spec, c.address, out)
        try:
            assert wait_until(lambda: journal_rows(journal) >= 6, timeout=120), proc.stderr.read()
            proc.send_signal(signum)
            rc, stdout, stderr = finish(proc, timeout=60)
        finally:
            stop(proc)
        assert rc == code, stderr
        assert "Traceback" not in stderr and stdout == ""
        line = last_line(stderr)
        name = signal.Signals(signum).name
        assert line.startswith(f"interrupted by {name}: fits in flight were cancelled;"), line
        done = journal_rows(journal)
        assert 6 <= done < 60, "the signal must come half way"
        assert f"{done} of 60 fits are in the journal {journal}" in line
        assert line.endswith("rerun the same command to resume")
        # the fits it had in flight were cancelled: the scheduler runs nothing of it now
        assert wait_until(lambda: c.processing() == 0, timeout=30)
        if not resume:
            return

        rc, stdout, stderr = finish(driver(spec, c.address, out), timeout=180)
        assert rc == 0, stderr
        resumed = json.loads(stdout)
        assert (resumed["n_fits_skipped"], resumed["n_fits"]) == (done, 60 - done)
        assert journal_rows(journal) == 60


@pytest.mark.slow  # a cluster and a driver of its own: ~20 s
def test_a_second_signal_exits_at_once(tmp_path):
    spec = write_spec(tmp_path, n_candidates=20, delay=0.3)
    out = tmp_path / "run"
    with cluster(tmp_path, n_workers=1) as c:
        proc = driver(spec, c.address, out)
        try:
            assert wait_until(lambda: journal_rows(out / "journal.sqlite") >= 2, timeout=120)
            proc.send_signal(signal.SIGINT)
            proc.send_signal(signal.SIGINT)
            started = time.monotonic()
            rc, _, stderr = finish(proc, timeout=60)
        finally:
            stop(proc)
        assert rc == 130 and "Traceback" not in stderr
        assert time.monotonic() - started < 10
