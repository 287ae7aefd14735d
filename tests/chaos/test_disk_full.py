"""The disk fills up under a running driver (a file-size limit on its process): one line naming
the file and the fix, exit 1, no traceback; the journal keeps every fit committed before, and
a rerun with space fits only the rest."""

from __future__ import annotations

import contextlib
import json
import resource
import signal
import sqlite3

import pytest
from _procs import cluster, driver, finish, stop, write_spec

from driver_journal import journal_rows

N_FITS = 120  # 40 candidates x 3 folds


def _limit_files_to(limit: int):
    def preexec() -> None:  # in the driver, before exec: files stop at ``limit`` bytes
        # a write past the limit then fails with EFBIG instead of killing the process
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return preexec


SLOW = pytest.mark.slow  # real scheduler, worker and driver processes, twice: 40-90 s

JOURNAL = 256 * 1024  # the journal's WAL fills after a few commits
REPORT = 2 * 1024 * 1024  # the journal is whole; report.html is the first file too big


@pytest.mark.parametrize(
    ("limit", "full", "resume"),
    [
        (JOURNAL, "journal", False),
        pytest.param(JOURNAL, "journal", True, marks=SLOW),
        pytest.param(REPORT, "report", True, marks=SLOW),
    ],
)
def test_a_full_disk_is_one_line_and_the_rerun_fits_only_the_rest(tmp_path, limit, full, resume):
    spec = write_spec(tmp_path, n_candidates=40, delay=0.0)
    out = tmp_path / "run"
    journal = out / "journal.sqlite"
    with cluster(tmp_path, n_workers=1) as c:
        proc = driver(spec, c.address, out, preexec=_limit_files_to(limit))
        try:
            rc, stdout, stderr = finish(proc, timeout=180)
        finally:
            stop(proc)
        assert rc == 1 and stdout == "" and "Traceback" not in stderr, stderr
        line = " ".join(stderr.strip().splitlines()[-1].split())
        if full == "journal":
            assert line.startswith(f"error: cannot append to the journal {journal}:"), stderr
            assert line.endswith("every fit committed before is kept: free disk space and "
                                 "rerun the same command to resume")  # fmt: skip
        else:
            assert line.startswith(f"error: cannot write '{out / 'report.html'}': File too "
                                   "large; it was left as it was: free disk space")  # fmt: skip
        # readable by anyone, whole up to the last commit: every row complete, none twice
        done = journal_rows(journal)
        assert 0 < done < N_FITS if full == "journal" else done == N_FITS
        with contextlib.closing(sqlite3.connect(journal)) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            rows = db.execute("SELECT key, status, test_scores FROM fits").fetchall()
        assert len({key for key, _, _ in rows}) == len(rows) == done
        assert all(status == "ok" and scores is not None for _, status, scores in rows)
        if not resume:
            return
        rc, stdout, stderr = finish(driver(spec, c.address, out), timeout=180)
    assert rc == 0, stderr
    resumed = json.loads(stdout)
    assert (resumed["n_fits_skipped"], resumed["n_fits"]) == (done, N_FITS - done)
    assert (out / "report.html").is_file()
