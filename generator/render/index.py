"""The render index: an unchanged ``fluxforge render`` answers from it without rendering, as git's index
spares ``git status`` from reading unchanged files.

After a render that leaves the tree exactly as rendered (every generated file and ``fluxforge.lock`` hold
the render's bytes; nothing merged, forced, removed or warned about), the index records:

* a stamp of everything the render depends on besides the repository's files: the config's bytes, the
  paths the run was given, the current folder, fluxforge's version and the size and time of each of its
  modules and templates, the ``FLUXFORGE_*`` environment;
* every generated file and the lock: its ``stat`` (type, size, mtime, ctime, inode) and the SHA-256 of the
  bytes render wrote;
* every other path render reads (what the kustomize builds of the decrypting folders read, each cluster's
  folder and ``gotk-components.yaml``, each workload's ``kustomization.yaml``): its ``stat`` from before
  it was read, or that it did not exist.

A later run with the same stamp checks each path: the same ``stat`` means the same content, except for a
path changed within a few seconds of the recording (an edit in the same tick of the file system's clock
can keep size and times: git's "racy" entries), whose content is compared by its hash instead (a file's
bytes, a folder's names). A racy path is settled at the recording instead when the file system's clock had
visibly passed its mtime before the recording compared its content: the run's ``fluxforge.lock``, written
after every generated file on the same file system, has a later mtime (not in the future). An edit after
that comparison gets an mtime no earlier than the lock's, so its stat tells; an edit before it fails the
comparison and nothing is recorded. The run straight after a render then reads no generated file.
All the same: the run prints what the recorded run printed and writes nothing.
Anything else (an edited, deleted or new file, another config, another fluxforge) and the render runs in
full, exactly as without the index, so a hand edit is found and merged as always.

The index lives in the user's cache (``$XDG_CACHE_HOME/fluxforge/render``, else ``~/.cache/...``), one file
per config and output folder, never in the repository; it holds paths, stat fields and hashes, no content.
``FLUXFORGE_RENDER_CACHE=off`` turns it off. Light on purpose: no YAML, Jinja or JSON Schema on this path.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RACY_NS", "Outcome", "Watch", "enabled", "lookup", "record", "stamp"]

_FORMAT = "fluxforge-render-index 2"
RACY_NS = 3_000_000_000
"""A path whose mtime is this close to the recording (or later) is compared by content, not by its stat."""
_NONE = "-"
_SETTLED = "="
"""Prefixes the digest of a path whose content was compared after the file system's clock passed its mtime."""


@dataclass(frozen=True)
class Outcome:
    """What an unchanged render reports: the number of generated files and the notes."""

    total: int
    notes: tuple[str, ...]


class _Unusable(Exception):
    """A path whose state cannot be told: the run is not indexed (or the index not trusted)."""


def enabled() -> bool:
    """The index is on unless ``FLUXFORGE_RENDER_CACHE=off``."""
    return os.environ.get("FLUXFORGE_RENDER_CACHE", "on") != "off"


def _stat(path: str) -> os.stat_result | None:
    """``os.stat(path)`` (symlinks followed), or None when it does not exist."""
    try:
        return os.stat(path)  # noqa: PTH116 - strings: thousands of paths per run
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as err:
        raise _Unusable(path) from err


def _signature_of(info: os.stat_result | None) -> str:
    if info is None:
        return _NONE
    return f"{stat.S_IFMT(info.st_mode):o}:{info.st_size}:{info.st_mtime_ns}:{info.st_ctime_ns}:{info.st_ino}"


def _signature(path: str) -> str:
    """``type:size:mtime:ctime:inode`` of ``path`` (symlinks followed), or ``-`` when it does not exist."""
    return _signature_of(_stat(path))


def _mtime(sig: str) -> int:
    return int(sig.split(":")[2])


def _racy(sig: str, recorded: int) -> bool:
    return sig != _NONE and _mtime(sig) >= recorded - RACY_NS


def _compared(sig: str, digest: str, recorded: int) -> bool:
    """Whether a run must compare this entry's content: racy, and not settled at the recording."""
    return not digest.startswith(_SETTLED) and _racy(sig, recorded)


def _regular_bytes(path: str | Path) -> bytes | None:
    """A regular file's bytes; None for anything else, one bigger than the input limit, or one that cannot
    be read (the full render then says why). Opened without blocking, so a FIFO swapped in since the
    caller's stat is not waited on, and checked with ``fstat`` before a byte is read: four system calls,
    where ``fsio.read_input`` (which also words why it refuses) makes eight."""
    from generator.errors import InputError
    from generator.fsio import input_limit

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        limit = input_limit()
        if not stat.S_ISREG(info.st_mode) or (limit and info.st_size > limit):
            return None
        data = os.read(fd, info.st_size + 1)
    except (InputError, OSError):
        return None
    finally:
        os.close(fd)
    return data if len(data) == info.st_size else None  # grown or shrunk while read: changed


def _content(path: str, sig: str) -> str:
    """The SHA-256 of a file's bytes, or of a folder's sorted names."""
    if sig.startswith(f"{stat.S_IFDIR:o}:"):
        try:
            data: bytes | None = "\0".join(sorted(os.listdir(path))).encode("utf-8", "surrogateescape")  # noqa: PTH208
        except OSError as err:
            raise _Unusable(path) from err
    else:
        data = _regular_bytes(path)
    if data is None:
        raise _Unusable(path)
    return hashlib.sha256(data).hexdigest()


class Watch:
    """The paths a render reads besides the config, each with its stat from before it was read (the first
    time); ``linked``: a symlink on the way (such a tree is not indexed)."""

    def __init__(self) -> None:
        self.paths: dict[str, str] = {}
        self.unusable = False
        self.linked = False

    def see(self, path: str | Path) -> None:
        text = os.fspath(path)
        if text not in self.paths:
            try:
                self.paths[text] = _signature(text)
            except _Unusable:
                self.unusable = True


def _index_file(config_file: Path, root: Path) -> Path:
    home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    where = f"{os.path.realpath(config_file)}\0{os.path.realpath(root)}"
    return Path(home, "fluxforge", "render", hashlib.sha256(where.encode("utf-8", "surrogateescape")).hexdigest()[:32])


def _code_stamp() -> bytes:
    """fluxforge's version, modules and templates (size and time of each), found without importing them."""
    import generator

    package = Path(generator.__file__).parent
    parts = [generator.__version__]
    data = [package / name for name in ("templates", "schemas")] + [
        package.parent / n for n in ("templates", "schemas")
    ]
    for folder in (package, *data):
        for top, dirs, names in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(n for n in names if n.endswith((".py", ".j2", ".json"))):
                info = os.stat(os.path.join(top, name))  # noqa: PTH116, PTH118
                parts.append(f"{top}/{name}:{info.st_size}:{info.st_mtime_ns}")
    return "\0".join(parts).encode("utf-8", "surrogateescape")


def stamp(config_file: Path, root: Path) -> str | None:
    """Everything the render depends on besides the repository's files, as one digest; None when the index
    is off or the config cannot be read (the full render then says why)."""
    config = _regular_bytes(config_file) if enabled() else None
    if config is None:
        return None
    env = sorted((k, v) for k, v in os.environ.items() if k.startswith("FLUXFORGE_"))
    given = json.dumps([_FORMAT, str(config_file), str(root), str(Path.cwd()), env])
    digest = hashlib.sha256(given.encode("utf-8", "surrogateescape"))
    digest.update(hashlib.sha256(config).digest())
    digest.update(_code_stamp())
    return digest.hexdigest()


def _entries(lines: list[str]) -> Iterable[tuple[str, str, str]]:
    for line in lines:
        sig, digest, path = line.split(" ", 2)
        yield path, sig, digest


def lookup(config_file: Path, root: Path, current: str | None) -> Outcome | None:
    """The recorded outcome when nothing the render depends on changed since, else None. ``current``:
    :func:`stamp` of this run."""
    if current is None:
        return None
    file = _index_file(config_file, root)
    try:
        found = _read(file, current)
        if found is None:
            return None
        recorded, outcome, entries = found
        racy = [(path, sig, digest) for path, sig, digest in entries if _compared(sig, digest, recorded)]
        if not _unchanged(entries, racy):
            return None
    except _Unusable:
        return None
    if racy:
        # their content is ours now: from here on a change shows in their stat (a later time); remember that
        _write(file, f"{_FORMAT} {current}", time.time_ns(), outcome, entries)
    return outcome


def _unchanged(entries: list[tuple[str, str, str]], racy: list[tuple[str, str, str]]) -> bool:
    """Every path has its recorded stat, and each racy one its recorded content."""
    if any(_signature(path) != sig for path, sig, _ in entries):
        return False
    return all(_content(path, sig) == digest for path, sig, digest in racy)


def _read(file: Path, current: str) -> tuple[int, Outcome, list[tuple[str, str, str]]] | None:
    """The recording time, outcome and entries of an index of stamp ``current`` (None: none, another stamp,
    or damaged)."""
    try:
        lines = file.read_text(encoding="utf-8", errors="surrogateescape").split("\n")
        if len(lines) < 4 or lines[0] != f"{_FORMAT} {current}" or lines[-1] != "":
            return None
        outcome = json.loads(lines[2])
        notes = tuple(str(note) for note in outcome["notes"])
        return int(lines[1]), Outcome(int(outcome["total"]), notes), list(_entries(lines[3:-1]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def record(
    config_file: Path,
    root: Path,
    *,
    stamped: str | None,
    outcome: Outcome,
    outputs: Mapping[str, bytes],
    watch: Watch,
    clock: str | None = None,
) -> bool:
    """Remember a tree that holds exactly the render: ``outputs`` (path -> the bytes render wrote or found
    there), ``watch`` (the other paths read, with their stat from before), ``stamped`` (:func:`stamp` from
    before the config was read), ``clock`` (a file this run wrote after every output: its mtime settles the
    racy paths of its file system that are older). Not recorded (False) when the index is off, the config or a
    watched path changed during the run, an output does not hold its bytes, a symlink is on the builds' way,
    or the index cannot be written: it only costs speed."""
    if stamped is None or watch.unusable or watch.linked or stamp(config_file, root) != stamped:
        return False
    now = time.time_ns()
    try:
        passed = _clock(clock)  # before any content is compared
        entries = [*_watched(watch.paths, outputs, now), *_written(outputs, now)]
        if passed is not None:
            entries = [_settled(entry, passed, now) for entry in entries]
    except _Unusable:
        return False
    return _write(_index_file(config_file, root), f"{_FORMAT} {stamped}", now, outcome, entries)


def _clock(path: str | None) -> tuple[int, int] | None:
    """The file system (``st_dev``) and mtime of ``path``: that file system's clock had passed that time
    before any content was compared. None without one, or when its mtime is in the future."""
    info = _stat(path) if path is not None else None
    if info is None or info.st_mtime_ns > time.time_ns():
        return None
    return info.st_dev, info.st_mtime_ns


def _settled(entry: tuple[str, str, str], passed: tuple[int, int], now: int) -> tuple[str, str, str]:
    """A racy entry whose content was just compared is settled when it lies on the clock's file system and is
    older than the clock: a later edit gets a later mtime (the entry is read again if its stat changed)."""
    path, sig, digest = entry
    if digest == _NONE or not _racy(sig, now) or _mtime(sig) >= passed[1]:
        return entry
    info = _stat(path)
    if info is None or info.st_dev != passed[0] or _signature_of(info) != sig:
        return entry
    return path, sig, _SETTLED + digest


def _watched(paths: Mapping[str, str], outputs: Mapping[str, bytes], now: int) -> Iterable[tuple[str, str, str]]:
    for path, sig in paths.items():
        if path in outputs:
            continue  # recorded by its bytes
        digest = _content(path, sig) if _racy(sig, now) else _NONE
        if "\n" in path or _signature(path) != sig:
            raise _Unusable(path)  # changed since it was read
        yield path, sig, digest


def _written(outputs: Mapping[str, bytes], now: int) -> Iterable[tuple[str, str, str]]:
    for path, data in outputs.items():
        digest = hashlib.sha256(data).hexdigest()
        sig = _signature(path)
        if "\n" in path or sig == _NONE or (_racy(sig, now) and _regular_bytes(path) != data):
            raise _Unusable(path)
        if _signature(path) != sig:
            raise _Unusable(path)
        yield path, sig, digest


def _write(file: Path, header: str, recorded: int, outcome: Outcome, entries: list[tuple[str, str, str]]) -> bool:
    from generator.fsio import write_atomic

    body = [f"{header}\n{recorded}\n", json.dumps({"total": outcome.total, "notes": list(outcome.notes)}) + "\n"]
    body += [f"{sig} {digest} {path}\n" for path, sig, digest in entries]
    try:
        file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomic(file, "".join(body).encode("utf-8", "surrogateescape"), sync=False)
    except Exception:  # noqa: BLE001 - an index that cannot be written only costs speed next time
        return False
    return True
