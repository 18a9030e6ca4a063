"""File writing at the edge: atomic replace, no partial files, no write when nothing changed."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from generator.errors import RenderError, WriteError


def write_atomic(path: Path, data: bytes, *, mode: int | None = None, sync: bool = True) -> bool:
    """Write ``data`` to ``path`` through a temp file in the same folder and ``os.replace``.

    Returns False (and writes nothing) when the file already holds exactly ``data``. The file mode
    of an existing file is kept unless ``mode`` is given. ``sync=False`` skips the per-file fsync
    (the replace stays atomic: readers see the old file or the whole new one, never a part); batch
    writers call ``os.sync()`` once at the end instead, and regenerable outputs (the rendered tree)
    skip it altogether. Keep the default for anything that cannot be produced again.
    """
    try:
        return _write_atomic(path, data, mode=mode, sync=sync)
    except WriteError:
        raise
    except OSError as err:
        raise write_error(path, err) from err


_FIXES = {
    errno.ENOSPC: "free space on that file system and rerun",
    errno.EDQUOT: "your disk quota is used up; free space and rerun",
    errno.EROFS: "the file system is mounted read-only; write somewhere else or remount it",
    errno.EACCES: "check the permissions of the file and its folder",
    errno.EPERM: "check the permissions (and immutable/append-only attributes) of the file and its folder",
    errno.ENOTDIR: "a folder on this path is a file; move it away",
    errno.EEXIST: "a folder on this path is a file; move it away",
    errno.EISDIR: "it is a folder; move it away or choose another name",
    errno.ENAMETOOLONG: "choose a shorter name",
}


def write_error(path: Path, err: OSError) -> WriteError:
    """The one wording of a failed write, for every writer: ``PATH: cannot write: REASON; FIX``.

    ``REASON`` is the OS's (``No space left on device``), never ``None``; ``path`` is the file the
    user asked for (not a temp file or a parent folder the OS named)."""
    if isinstance(err, WriteError):
        return err
    reason = err.strerror or str(err) or type(err).__name__
    fix = _FIXES.get(err.errno or 0, "check the folder exists and is writable")
    return WriteError(f"{path}: cannot write: {reason}; {fix}", path=path, errno=err.errno, reason=reason)


def _write_atomic(path: Path, data: bytes, *, mode: int | None, sync: bool) -> bool:
    try:
        if path.read_bytes() == data:
            if mode is not None and path.stat().st_mode & 0o7777 != mode:
                path.chmod(mode)  # identical bytes, but e.g. plaintext must not stay world-readable
            return False
        keep_mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        keep_mode = None
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if sync:
                os.fsync(fh.fileno())
        final_mode = mode if mode is not None else keep_mode
        Path(tmp).chmod(final_mode if final_mode is not None else 0o644)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def read_optional(path: Path, *, writer: str, below: str, limit: int = -1) -> bytes | None:
    """The bytes of ``path`` (at most ``limit``), or None when it does not exist.

    Anything else in the way is a ``RenderError`` naming the path: a folder where ``writer`` puts a
    file ("is a folder, but {writer} a file there"), a file where a folder of the path belongs
    ("move it away, {below}"), or the OS reason.
    """
    try:
        with path.open("rb") as fh:
            return fh.read(limit)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise RenderError(f"{path}: is a folder, but {writer} a file there") from None
    except NotADirectoryError:
        raise RenderError(f"{path}: a folder on this path is a file; move it away, {below}") from None
    except OSError as err:
        raise RenderError(f"{path}: cannot read: {err.strerror or err}") from None
