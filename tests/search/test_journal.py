"""The journal: append-only, unique finished keys, WAL readers, clear errors."""

from __future__ import annotations

import math
import sqlite3

import pytest

from daskcloud.exceptions import JournalError
from daskcloud.search.journal import FitRecord, Journal, TaskRecord, open_journal


def rec(key, status="ok", fold=0, scores=0.5, **kw):
    return FitRecord(key=key, search="s1", params={"alpha": 1.0, "k": 3}, fold=fold,
                     status=status, test_scores=scores, **kw)  # fmt: skip


def test_append_lookup_read_round_trip(tmp_path):
    path = tmp_path / "run" / "journal.sqlite"
    with Journal(path) as j:
        records = [
            rec("a", scores={"r2": 0.9, "mae": -1.5}, train_scores={"r2": 1.0}),
            rec("b", fold=1, scores=math.nan, worker="tcp://w:1", start=1.0, end=2.5),
            TaskRecord("s1", "prefix", "p1", start=1.0, end=2.0, cpu_s=0.9),
        ]
        assert j.append(records) == 2
        found = j.lookup(["a", "b", "zzz"])
        assert sorted(found) == ["a", "b"]
        assert found["a"].test_scores == {"r2": 0.9, "mae": -1.5}
        assert found["a"].params == {"alpha": 1.0, "k": 3}
        assert math.isnan(found["b"].test_scores) and found["b"].worker == "tcp://w:1"
        assert [r.key for r in j.read("s1")] == ["a", "b"] and j.read("other") == []
        assert j.read_tasks()[0].cpu_s == 0.9
        assert len(j) == 2
    assert path.exists()


def test_duplicate_finished_keys_are_ignored_but_cancelled_ones_do_not_block(tmp_path):
    with Journal(tmp_path / "j.sqlite") as j:
        assert j.append([rec("a", status="cancelled")]) == 1
        assert j.lookup(["a"]) == {}  # a cancelled fit is run again on resume
        assert j.append([rec("a", scores=0.1)]) == 1
        assert j.append([rec("a", scores=0.2), rec("b")]) == 1  # a rerun after a worker died
        assert j.lookup(["a"])["a"].test_scores == 0.1
        assert len(j.read(include_cancelled=True)) == 3


def test_wal_mode_and_a_concurrent_reader_sees_committed_rows(tmp_path):
    path = tmp_path / "j.sqlite"
    with Journal(path) as j:
        j.append([rec("a")])
        reader = sqlite3.connect(path)
        assert reader.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert reader.execute("SELECT COUNT(*) FROM fits").fetchone()[0] == 1
        j.append([rec("b")])
        assert reader.execute("SELECT COUNT(*) FROM fits").fetchone()[0] == 2
        reader.close()
    with Journal(path) as again:  # reopening keeps everything
        assert len(again) == 2


def test_numpy_params_and_unjsonable_values_are_stored(tmp_path):
    import numpy as np

    with Journal() as j:
        j.append([FitRecord(key="a", search="s", params={"alpha": np.float64(0.5),
                            "n": np.int64(3), "obj": object}, fold=0, status="ok")])  # fmt: skip
        params = j.read()[0].params
        assert params["alpha"] == 0.5 and params["n"] == 3 and "__repr__" in params["obj"]


def test_errors_name_the_file_and_close_is_idempotent(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(JournalError, match="cannot open the journal"):
        Journal(blocker / "journal.sqlite")
    j = Journal(tmp_path / "ok.sqlite")
    j.close()
    j.close()
    with pytest.raises(JournalError, match="closed"):
        j.append([rec("a")])


def test_open_journal_normalises():
    j, owned = open_journal(None)
    assert owned and j.path is None
    same, owned2 = open_journal(j)
    assert same is j and not owned2
    with pytest.raises(TypeError):
        open_journal(42)
