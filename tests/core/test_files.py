"""atomic_write: the target holds the old content or the new, never a half-written file."""

from __future__ import annotations

import errno
import stat

import pytest

from daskcloud.core.files import atomic_write
from daskcloud.exceptions import DaskcloudError


def test_the_file_appears_whole_only_when_the_block_succeeds(tmp_path):
    target = tmp_path / "summary.json"
    with atomic_write(target) as part:
        part.write_text("new")
        assert not target.exists() and part.parent == tmp_path
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "results.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(target) as part:
        part.write_text("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.csv"]


def test_a_private_file_is_never_readable_by_others(tmp_path):
    target = tmp_path / "client-key.pem"
    with atomic_write(target, mode=0o600) as part:
        assert stat.S_IMODE(part.stat().st_mode) == 0o600  # before any byte is written
        part.write_text("secret")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600 and target.read_text() == "secret"


def test_a_full_disk_is_one_line_naming_the_file(tmp_path):
    target = tmp_path / "report.html"
    target.write_text("old")
    with pytest.raises(DaskcloudError) as info, atomic_write(target) as part:
        part.write_text("half")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert str(info.value) == (
        f"cannot write {str(target)!r}: No space left on device; it was left as it was: free "
        "disk space (or check the folder's permissions) and rerun the same command"
    )
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_other_os_errors_of_the_writer_pass_through(tmp_path):
    with pytest.raises(FileNotFoundError), atomic_write(tmp_path / "out.txt"):
        (tmp_path / "absent").read_text()
