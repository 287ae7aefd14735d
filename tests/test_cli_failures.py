"""The bad-input corpus of ``daskcloud tune``: one line, the right exit code, nothing touched.

Every case asserts the exit code (2: an input that could never work, 1: a failure), no
traceback, exactly one line naming the problem, and that the run directory's journal is
byte for byte what it was (or, for a new run directory, that nothing was written).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import daskcloud.cluster
from daskcloud.cli import main

SPEC = """\
name = "corpus"
estimator = "sklearn.linear_model:Ridge"
[data]
path = "data.csv"
target = "y"
[space]
alpha = [0.1, 1.0]
[cv]
name = "kfold"
n_splits = 3
"""


@pytest.fixture
def spec_dir(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=40), "b": rng.normal(size=40)})
    frame["y"] = frame["a"] * 2 - frame["b"]
    frame.to_csv(tmp_path / "data.csv", index=False)
    (tmp_path / "spec.toml").write_text(SPEC)
    return tmp_path


@pytest.fixture
def no_cluster(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a cluster was started for an input that could never work")

    monkeypatch.setattr(daskcloud.cluster, "open_client", refuse)


def run(capsys, spec_dir: Path, *args: str) -> tuple[int, str]:
    code = main(["tune", str(spec_dir / "spec.toml"), "--out", str(spec_dir / "run"), *args])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    return code, " ".join(lines[0].split())


def digest(path: Path) -> dict[str, str]:
    """Every file of a run directory with its hash: the journal and its -wal/-shm companions."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(path.iterdir())}


# --- inputs that could never work: exit 2, before any cluster, nothing written ---------------

NEVER = {
    "text column for a numeric model": (
        lambda d: _with_text_column(d / "data.csv"),
        "no candidate can be fitted on this data: ValueError: could not convert string to float",
    ),
    "more folds than rows": (
        lambda d: (d / "spec.toml").write_text(SPEC.replace("n_splits = 3", "n_splits = 50")),
        "cannot split these 40 rows: Cannot have number of splits n_splits=50",
    ),
    "a stratified splitter on a continuous target": (
        lambda d: (d / "spec.toml").write_text(
            SPEC.replace('name = "kfold"', 'name = "stratified"')
        ),
        "cannot split these 40 rows",
    ),
}


def _with_text_column(path: Path) -> None:
    frame = pd.read_csv(path)
    frame["city"] = np.resize(["Berlin", "Essen", "Kiel"], len(frame))
    frame.to_csv(path, index=False)


@pytest.mark.parametrize("case", list(NEVER))
def test_input_that_could_never_work_is_exit_2_before_any_cluster(spec_dir, capsys, no_cluster,
                                                                  case):  # fmt: skip
    change, message = NEVER[case]
    change(spec_dir)
    code, line = run(capsys, spec_dir)
    assert code == 2 and line.startswith("error: ") and message in line, line
    assert not (spec_dir / "run").exists()  # nothing half-written


# --- a corrupt journal: exit 1, the file named and left byte for byte as it was --------------


def _random_bytes(journal: Path) -> None:
    journal.write_bytes(np.random.default_rng(0).bytes(4096))


def _truncated(journal: Path) -> None:
    with sqlite3.connect(journal) as db:
        db.execute("CREATE TABLE fits (key TEXT, search TEXT)")
        db.executemany("INSERT INTO fits VALUES (?, ?)", [("k" * 500, "s")] * 200)
    data = journal.read_bytes()
    journal.write_bytes(data[: len(data) // 2])


def _foreign(journal: Path) -> None:
    with sqlite3.connect(journal) as db:
        db.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
        db.execute("INSERT INTO customers VALUES (1, 'Ada')")


def _old_schema(journal: Path) -> None:
    with sqlite3.connect(journal) as db:
        for table in ("fits", "tasks", "searches"):
            db.execute(f"CREATE TABLE {table} (seq INTEGER PRIMARY KEY, key TEXT)")


CORRUPT = {
    "random bytes": (_random_bytes, "file is not a database"),
    "truncated": (_truncated, "database disk image is malformed"),
    "another program's SQLite file": (_foreign, "SQLite file of another program"),
    "a fits table without the journal's columns": (_old_schema, "its fits table lacks"),
}


@pytest.mark.parametrize("case", list(CORRUPT))
def test_corrupt_journal_is_exit_1_and_left_as_it_was(spec_dir, capsys, no_cluster, case):
    make, message = CORRUPT[case]
    run_dir = spec_dir / "run"
    run_dir.mkdir()
    journal = run_dir / "journal.sqlite"
    make(journal)
    before = digest(run_dir)
    code, line = run(capsys, spec_dir)
    assert code == 1, line
    assert f"the journal '{journal}'" in line and message in line, line
    assert "it was left as it was" in line
    assert digest(run_dir) == before


@pytest.mark.slow  # a local cluster starts before the bad row is read: ~10-20 s
def test_a_malformed_journal_row_is_exit_1_and_left_as_it_was(spec_dir, capsys):
    run_dir = spec_dir / "run"
    assert main(["tune", str(spec_dir / "spec.toml"), "--out", str(run_dir), "--workers", "1",
                 "--json"]) == 0  # fmt: skip
    capsys.readouterr()
    journal = run_dir / "journal.sqlite"
    with sqlite3.connect(journal) as db:
        db.execute("UPDATE fits SET test_scores = '{not json' WHERE seq = 1")
    before = hashlib.sha256(journal.read_bytes()).hexdigest()
    code, line = run(capsys, spec_dir, "--workers", "1")
    assert code == 1 and "holds a malformed row (test_scores" in line, line
    assert "it was left as it was" in line
    assert hashlib.sha256(journal.read_bytes()).hexdigest() == before


@pytest.mark.slow  # starts a local cluster: ~10-20 s
def test_every_fit_failing_on_the_workers_is_exit_1_naming_the_first(spec_dir, capsys,
                                                                     monkeypatch):  # fmt: skip
    monkeypatch.syspath_prepend(str(Path(__file__).parent / "search"))  # test_precheck
    spec = SPEC.replace("sklearn.linear_model:Ridge", "test_precheck:FailsOnWorkers")
    (spec_dir / "spec.toml").write_text(spec)
    code, line = run(capsys, spec_dir, "--workers", "1")
    assert code == 1
    assert "all 6 fits failed; the first with RuntimeError: no licence server" in line
    assert f"every error is in the journal {spec_dir / 'run' / 'journal.sqlite'}" in line
    summary = spec_dir / "run" / "summary.json"
    assert not summary.exists() or "best_score" not in json.loads(summary.read_text())
