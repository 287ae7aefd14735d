"""examples/rossmann.ipynb runs top to bottom (nbclient, a real kernel) on the small preset."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the test extras are not installed")
nbclient = pytest.importorskip("nbclient", reason="the test extras are not installed")

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "rossmann.ipynb"


def test_rossmann_notebook_runs_top_to_bottom(tmp_path, monkeypatch):
    monkeypatch.setenv("DASKCLOUD_NOTEBOOK_QUICK", "1")
    monkeypatch.setenv("DASKCLOUD_NOTEBOOK_DIR", str(tmp_path / "work"))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not cell.get("outputs") for cell in nb.cells if cell.cell_type == "code"), (
        "commit the notebook without outputs"
    )
    client = nbclient.NotebookClient(
        nb, kernel_name="python3", timeout=240, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute(env=dict(os.environ))  # raises CellExecutionError on the first failing cell
    work = tmp_path / "work"
    assert (work / "run" / "report.html").is_file()
    assert (work / "run" / "journal.sqlite").is_file()
    submission = (work / "submission.csv").read_text().splitlines()
    assert submission[0] == "Id,Sales" and len(submission) > 100
    text = "\n".join(
        str(out.get("text", "")) for cell in nb.cells for out in cell.get("outputs", [])
    )
    assert "best CV RMSPE" in text
