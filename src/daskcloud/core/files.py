"""Write a file so that a reader sees the old content or the new, never half of it.

>>> from pathlib import Path
>>> with atomic_write(Path(tmp) / "summary.json") as part:   # doctest: +SKIP
...     part.write_text("{}")

Every module that writes a result, a record or a credential uses :func:`atomic_write`:
write to a temporary file in the same directory, then ``os.replace`` it onto the
target (atomic on POSIX within one file system). On an exception the temporary file
is removed and the target is left as it was; a full disk, a file-size limit or a
read-only folder becomes one :class:`~daskcloud.exceptions.DaskcloudError` line naming
the file (exit code 1 on the command line).
"""

from __future__ import annotations

import contextlib
import errno
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from daskcloud.exceptions import DaskcloudError

__all__ = ["atomic_write"]

#: errors of the file system, not of the writer: no space, too large, read-only, no access
_CANNOT_WRITE = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                 errno.EIO}  # fmt: skip


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], *, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` when the block succeeds.

    Args:
        path: the file to write.
        mode: permission bits for the new file (``0o600`` for a private key); the
            temporary file is created with them before anything is written into it.
            None: whatever the writer creates (the umask's default).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        if mode is not None:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            try:
                os.fchmod(fd, mode)  # the umask may have taken bits away
            finally:
                os.close(fd)
        yield tmp
        os.replace(tmp, path)
    except OSError as e:
        if e.errno not in _CANNOT_WRITE:
            raise
        raise DaskcloudError(
            f"cannot write {str(path)!r}: {e.strerror or e}; it was left as it was: free disk "
            "space (or check the folder's permissions) and rerun the same command"
        ) from e
    finally:
        tmp.unlink(missing_ok=True)
