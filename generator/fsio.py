"""File I/O at the edge: bounded reads of regular files, atomic replace, write-through for the rest.

Reading (``read_input``): only regular files, at most ``FLUXFORGE_MAX_INPUT_SIZE`` bytes; a FIFO, a
device, a socket or a folder is refused before a byte is read (it could block or never end).

Writing (``write_atomic``):
* a regular file (or a new one) is replaced atomically: a temp file in the same folder, then
  ``os.replace``; no write at all when it already holds the bytes;
* a symlink is written through to its target, as sops does (the link stays a link);
* a device, a FIFO or ``/dev/stdout``-style descriptor links (``/dev/std*``, ``/dev/fd/N``,
  ``/proc/self/fd/N``) are written to, never renamed over;
* temp files are named ``.NAME.fluxforge-PID-N.tmp`` (``TEMP_GLOB``): ``fluxforge check`` and the
  hook refuse them, and the next write into the same folder removes those whose process is gone
  (a SIGKILL leaves one behind) and says so on the ``fluxforge`` logger.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import re
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from generator.errors import InputError, RenderError, WriteError

if TYPE_CHECKING:
    import logging

MAX_INPUT_ENV = "FLUXFORGE_MAX_INPUT_SIZE"
DEFAULT_MAX_INPUT = 64 * 1024 * 1024
TEMP_GLOB = ".*.fluxforge-*.tmp"  # the .gitignore pattern the docs recommend
TEMP_NAME = re.compile(r"^\..+\.fluxforge-(\d+)-[A-Za-z0-9_]+\.tmp$")
_FD_LINK = re.compile(r"^/(?:dev/fd|proc/self/fd|proc/(\d+)/fd)/(\d+)$")
_STD_NAMES = {"/dev/stdin": 0, "/dev/stdout": 1, "/dev/stderr": 2}
_SWEPT: set[str] = set()
_TEMPS = itertools.count()  # the numbers of this process's temp files
_NOTES_TO_STDERR = False  # set by notes_to_stderr(): the command line's set-up, before any note
SKIP_DIRS = frozenset({".git", ".hg", ".svn", ".fluxforge", ".venv", "node_modules", "__pycache__"})
"""Folders no repository walk enters: version control, tool state, installed dependencies."""


def walk_files(root: Path) -> Iterator[Path]:
    """Every file below ``root`` in sorted order, without entering ``SKIP_DIRS`` or following symlinked
    folders (a symlinked file is listed)."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for name in sorted(filenames):
            yield Path(dirpath) / name


# --- reading -------------------------------------------------------------------------------------------
def input_limit() -> int:
    """The largest input in bytes (``FLUXFORGE_MAX_INPUT_SIZE``: bytes, or with K/M/G; 0 = no limit)."""
    raw = os.environ.get(MAX_INPUT_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_INPUT
    match = re.fullmatch(r"(\d+)\s*([KMG]i?B?)?", raw, re.IGNORECASE)
    if match is None:
        raise InputError(
            f"{MAX_INPUT_ENV}={raw!r}: expected a number of bytes, optionally with K, M or G (0 = no limit)"
        )
    unit = (match.group(2) or " ")[0].upper()
    return int(match.group(1)) * {" ": 1, "K": 1024, "M": 1024**2, "G": 1024**3}[unit]


def file_kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def read_input(path: Path | str, *, what: str = "input") -> bytes:
    """The bytes of the regular file ``path`` (symlinks followed), bounded by ``input_limit()``.

    Anything else is an ``InputError`` before a byte is read; ``OSError`` (missing file, permission)
    is left to the caller, which knows whether that is a problem.
    """
    limit = input_limit()
    _refuse_special(path, Path(path).stat().st_mode, what)  # a socket cannot even be opened
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # never blocks, even on a FIFO
    try:
        info = os.fstat(fd)
        _refuse_special(path, info.st_mode, what)  # swapped since the stat
        if limit and info.st_size > limit:
            raise InputError(_too_big(path, info.st_size, limit))
        os.set_blocking(fd, True)
        data = _read_fd(fd, info.st_size, limit + 1 if limit else None)
    finally:
        os.close(fd)
    if limit and len(data) > limit:
        raise InputError(_too_big(path, len(data), limit))
    return data


def _read_fd(fd: int, size: int, most: int | None) -> bytes:
    """At most ``most`` bytes (None: all) of ``fd`` to its end, read in pieces of the file's ``size`` (a
    file may grow meanwhile): no buffer the size of the input limit is allocated for a small file."""
    piece = max(size + 1, 65536)
    parts: list[bytes] = []
    total = 0
    while most is None or total < most:
        part = os.read(fd, piece if most is None else min(piece, most - total))
        if not part:
            break
        parts.append(part)
        total += len(part)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _refuse_special(path: Path | str, mode: int, what: str) -> None:
    if not stat.S_ISREG(mode):
        raise InputError(
            f"{path}: {what} is {file_kind(mode)}, not a regular file; fluxforge reads only "
            "regular files (a FIFO, device, socket or folder may block or never end)"
        )


def check_size(name: str, size: int) -> None:
    """Refuse ``size`` bytes of input from ``name`` (a blob, stdin) above ``input_limit()``."""
    limit = input_limit()
    if limit and size > limit:
        raise InputError(_too_big(name, size, limit))


def _too_big(path: Path | str, size: int, limit: int) -> str:
    return (
        f"{path}: {size} bytes, more than the input limit of {limit} bytes; set {MAX_INPUT_ENV} "
        "(bytes, K/M/G, 0 = no limit) if the file is meant to be this big"
    )


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


# --- writing -------------------------------------------------------------------------------------------
def write_atomic(path: Path, data: bytes, *, mode: int | None = None, sync: bool = True) -> bool:
    """Write ``data`` to ``path``: atomically for regular files, through for links, devices and FIFOs.

    Returns False (and writes nothing) when a regular file already holds exactly ``data``. The file
    mode of an existing file is kept unless ``mode`` is given. ``sync=False`` skips the per-file fsync
    (the replace stays atomic: readers see the old file or the whole new one, never a part); batch
    writers call ``os.sync()`` once at the end instead, and regenerable outputs (the rendered tree)
    skip it altogether. Keep the default for anything that cannot be produced again.
    """
    try:
        info = _regular_or_missing(path)
        if info is not False:  # the common case: no link, no device, a regular file or none yet
            return _write_atomic(Path(path), data, mode=mode, sync=sync, info=info)
        fd = descriptor_of(path)
        if fd is not None:
            _write_fd(fd, data)
            return True
        target = link_target(path)  # write through symlinks, as sops does
        try:
            info = target.stat()
        except FileNotFoundError:
            info = None
        if info is not None and not stat.S_ISREG(info.st_mode):
            return _write_through(target, data, info.st_mode)
        return _write_atomic(target, data, mode=mode, sync=sync, info=info)
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


def descriptor_of(path: Path | str) -> int | None:
    """The open file descriptor ``path`` names (``/dev/stdout``, ``/dev/fd/3``, ``/proc/self/fd/1``,
    or a symlink chain ending there), else None."""
    text = os.path.abspath(path)  # noqa: PTH100 - textual, the links are followed one by one below
    for _ in range(40):
        if text in _STD_NAMES:
            return _STD_NAMES[text]
        match = _FD_LINK.match(text)
        if match and (match.group(1) is None or int(match.group(1)) == os.getpid()):
            return int(match.group(2))
        link = Path(text)
        try:
            if not link.is_symlink():
                return None
            text = os.path.normpath(link.parent / link.readlink())
        except OSError:  # a link we may not read is written like any other path
            return None
    return None


def link_target(path: Path) -> Path:
    """``path`` with its last component's symlinks followed (folders on the way are left to the OS)."""
    for _ in range(40):
        if not path.is_symlink():
            return path
        path = path.parent / path.readlink()  # an absolute link target replaces the parent
    raise write_error(path, OSError(errno.ELOOP, os.strerror(errno.ELOOP)))


def _write_fd(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _write_through(target: Path, data: bytes, st_mode: int) -> bool:
    """A device or FIFO is opened and written (a FIFO waits for its reader); a folder is an error."""
    if stat.S_ISDIR(st_mode):
        raise write_error(target, IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR)))
    fd = os.open(target, os.O_WRONLY | os.O_CLOEXEC)
    try:
        _write_fd(fd, data)
    finally:
        os.close(fd)
    return True


def _regular_or_missing(path: Path | str) -> os.stat_result | None | Literal[False]:
    """One ``lstat``: the file's status when ``path`` is a regular file (not a link), None when nothing is
    there yet, False for anything else (a link, a device, a descriptor name, an error): the general way."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        info = None
    except OSError:
        return False
    if info is not None and not stat.S_ISREG(info.st_mode):
        return False
    text = os.path.abspath(path)  # noqa: PTH100 - textual, as descriptor_of
    if text in _STD_NAMES or _FD_LINK.match(text):
        return False
    return info


def _write_atomic(path: Path, data: bytes, *, mode: int | None, sync: bool, info: os.stat_result | None) -> bool:
    """Replace the regular file ``path`` (status ``info``; None: a new file) by ``data`` through a 0600 temp
    file in its folder: written, fsynced when ``sync``, given its final mode, then ``os.replace``d."""
    keep_mode = None
    if info is not None:
        if info.st_size == len(data) and _same_bytes(path, data):
            if mode is not None and info.st_mode & 0o7777 != mode:
                path.chmod(mode)  # identical bytes, but e.g. plaintext must not stay world-readable
            return False
        keep_mode = info.st_mode & 0o7777
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_temps(path.parent)
    final_mode = mode if mode is not None else keep_mode
    _replace(os.fspath(path), data, mode=final_mode if final_mode is not None else 0o644, sync=sync)
    return True


def _temp_file(path: str, made: list[str]) -> int:
    """A new 0600 temp file for ``path`` in its folder, named ``.NAME.fluxforge-PID-N.tmp``: its descriptor;
    its name is put on ``made`` before it is created, so an interrupt (Ctrl-C) at any point still finds it.
    ``O_EXCL``: never an existing file or a link planted under that name (the next number is tried)."""
    folder, name = os.path.split(os.path.abspath(path))  # noqa: PTH100 - as the folder's name reads now
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(10_000):
        made.append(os.path.join(folder, f".{name}.fluxforge-{os.getpid()}-{next(_TEMPS)}.tmp"))  # noqa: PTH118
        try:
            return os.open(made[-1], flags, 0o600)
        except FileExistsError:
            made.pop()
    raise FileExistsError(errno.EEXIST, "no unused temp file name", path)


def _replace(path: str, data: bytes, *, mode: int, sync: bool) -> None:
    """Write ``data`` to a temp file in ``path``'s folder (fsynced when ``sync``, given ``mode``), then
    ``os.replace`` it onto ``path``: readers see the old file or the whole new one. The temp file is
    removed on any failure, an interrupt while it is created included."""
    made: list[str] = []
    try:
        fd = _temp_file(path, made)
        try:
            _write_fd(fd, data)
            if sync:
                os.fsync(fd)
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
        os.replace(made[-1], path)  # noqa: PTH105 - strings: thousands of files per run
    except BaseException:
        for tmp in made:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)  # noqa: PTH108
        raise


def make_folders(folder: str) -> list[str]:
    """Create ``folder`` and its missing parents; the folders this call created (parents first), in which nothing
    is yet (no file, link or stale temp file): :func:`write_new` may write there. Empty when ``folder`` was there
    already or cannot be made (then :func:`write_atomic` makes the usual checks and reports the usual error)."""
    try:
        os.mkdir(folder)  # noqa: PTH102
    except FileNotFoundError:
        parent = os.path.dirname(folder)  # noqa: PTH120
        if parent in ("", folder):
            return []
        made = make_folders(parent)
        try:
            os.mkdir(folder)  # noqa: PTH102
        except OSError:
            return made
        return [*made, folder]
    except OSError:
        return []
    return [folder]


def write_new(path: str, data: bytes, *, sync: bool = False) -> None:
    """Write ``data`` to ``path`` in a folder :func:`make_folders` just created: what :func:`write_atomic` does
    for a new file (temp file in the same folder, mode 0644, ``os.replace``), without its checks for a file,
    link, device or stale temp file already there (nothing can be). Errors as :func:`write_atomic`'s."""
    try:
        _replace(path, data, mode=0o644, sync=sync)
    except OSError as err:
        raise write_error(Path(path), err) from err


def _same_bytes(path: Path, data: bytes) -> bool:
    with path.open("rb") as fh:
        return fh.read(len(data) + 1) == data


def is_temp_name(name: str) -> bool:
    """A name fluxforge gives its temp files (``.NAME.fluxforge-PID-N.tmp``)."""
    return TEMP_NAME.match(name) is not None


def sweep_stale_temps(folder: Path) -> list[Path]:
    """Remove temp files of ours in ``folder`` whose process is gone (once per folder and run)."""
    key = os.path.abspath(folder)  # noqa: PTH100
    if key in _SWEPT:
        return []
    _SWEPT.add(key)
    removed = []
    try:
        names = [e.name for e in os.scandir(folder) if e.name.startswith(".") and e.name.endswith(".tmp")]
    except OSError:
        return []
    for name in names:
        match = TEMP_NAME.match(name)
        if match is None or process_alive(int(match.group(1))):
            continue
        try:
            (folder / name).unlink()
        except OSError:
            continue
        removed.append(folder / name)
        note(
            "%s: removed a stale temp file left by an interrupted fluxforge run (process %s is gone)",
            folder / name,
            match.group(1),
        )
    return removed


def notes_to_stderr() -> None:
    """Notes (``note``) go to stderr as ``fluxforge: MESSAGE`` lines: the command line's set-up. The
    ``fluxforge`` logger gets its handler now if ``logging`` is loaded already, else with the first note
    (a run that notes nothing never loads ``logging``)."""
    global _NOTES_TO_STDERR
    _NOTES_TO_STDERR = True
    if "logging" in sys.modules:
        _logger()


def note(message: str, *args: object) -> None:
    """A note for the user (a warning on the ``fluxforge`` logger; ``message % args`` as logging formats it)."""
    _logger().warning(message, *args)


def _logger() -> logging.Logger:
    import logging

    logger = logging.getLogger("fluxforge")
    if _NOTES_TO_STDERR and not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("fluxforge: %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    return logger


def process_alive(pid: int) -> bool:
    """True unless process ``pid`` is certainly gone (ours counts as alive)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True
