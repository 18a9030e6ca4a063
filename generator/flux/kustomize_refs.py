"""Which local files a ``kustomize build`` of a folder reads, as kustomize-controller builds it.

A folder with a ``kustomization.yaml`` (``.yml``, ``Kustomization``) reads what that file names:
``resources``, ``bases``, ``components``, ``crds``, ``patchesStrategicMerge``, and the ``path`` of
``patches`` and ``patchesJson6902``; a named folder is built the same way, recursively. A folder
without one is what kustomize-controller generates a kustomization for: every YAML file below it, a
sub-folder with its own kustomization file taken as one resource (fluxcd/pkg kustomize generator
``scanManifests``). Remote bases (URLs) are skipped; so are paths outside the repository and cycles.

Reads files only (no kustomize, no network). Used by ``fluxforge lint`` (which files a Flux
Kustomization with ``postBuild`` substitutes).
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator.yamlio import YamlError, load_plain

__all__ = ["KUSTOMIZATION_FILES", "BuildInputs", "RealPaths", "build_inputs", "kustomization_file"]

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_LISTS = ("resources", "bases", "components", "crds", "patchesStrategicMerge")
_PATH_LISTS = ("patches", "patchesJson6902")
_MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
_SKIP_DIRS = frozenset({".git"})


@dataclass
class BuildInputs:
    """Repository-relative POSIX paths: the manifest files a build reads and the folders it enters."""

    files: set[str] = field(default_factory=set)
    folders: set[str] = field(default_factory=set)
    remote: set[tuple[str, str]] = field(default_factory=set)
    """(kustomization file, entry) of each remote base named (``--no-remote-bases`` refuses them)."""
    seen: list[str] = field(default_factory=list)
    """Every path the walk looked at, as it named them (``RealPaths.see`` heard of each): a later pass over a
    tree changed only elsewhere may take this build over as it is."""


def kustomization_file(folder: Path) -> Path | None:
    """The folder's kustomization file, or None (then kustomize-controller generates one)."""
    return _kustomization_file(folder)[0]


def _kustomization_file(folder: Path) -> tuple[Path | None, bool]:
    """``kustomization_file``, and whether a symlink stands among the names tried before the one found (a
    dangling one, which a file written at its target would make the kustomization): one ``lstat`` a name,
    a symlink followed as ``Path.is_file`` follows it."""
    linked = False
    for name in KUSTOMIZATION_FILES:
        candidate = folder / name
        try:
            mode = os.lstat(candidate).st_mode
        except OSError as err:
            if err.errno in _GONE:
                continue
            raise
        if stat.S_ISLNK(mode):
            if candidate.is_file():
                return candidate, linked
            linked = True
        elif stat.S_ISREG(mode):
            return candidate, linked
    return None, linked


def _unwatched(path: str | Path) -> None:
    """No one watches this walk."""


def _look(real: RealPaths, found: BuildInputs, path: str | Path) -> None:
    """The walk looks at ``path`` now: the pass's watcher hears of it, the build remembers it."""
    text = os.fspath(path)
    found.seen.append(text)
    real.see(text)


class RealPaths:
    """Repository-relative real paths (symlinks resolved, as ``Path.resolve``), remembered per path prefix:
    one ``lstat`` per folder or file instead of one per path component of every path asked about. Valid while
    the tree does not change: make one per pass over the repository (one render, one lint)."""

    def __init__(self, root: Path, see: Callable[[str | Path], None] | None = None) -> None:
        self.see = see if see is not None else _unwatched
        """Called with each path before the walk looks at it (the render index watches them)."""
        self.linked = False  # a symlink was on the way (or in a folder listed: even a dangling one)
        self._root = os.path.realpath(root)
        self._prefix = self._root.rstrip("/") + "/"
        self._memo: dict[str, str] = {}  # real folder + name -> real path
        self._texts: dict[str, str] = {}  # a path as asked -> real path

    def real(self, path: str | Path) -> str:
        """``os.path.realpath(path)``: each component in turn, a symlink resolved where it stands, ``..``
        taken after the symlinks before it (the real parent), a missing component kept as written."""
        text = os.fspath(path)
        found = self._texts.get(text)
        if found is None:
            head, slash, part = text.rpartition("/")
            if not slash:
                parent = os.getcwd()  # noqa: PTH109 - strings throughout: this runs once per path asked
            else:
                parent = self.real(head) if head else "/"
            found = self._texts[text] = self._step(parent, part)
        return found

    def _step(self, parent: str, part: str) -> str:
        """The real path of ``part`` in the real folder ``parent``."""
        if part in {"", "."}:
            return parent
        if part == "..":
            return os.path.dirname(parent)  # noqa: PTH120 - textual on a real path, as realpath does
        step = os.path.join(parent, part)  # noqa: PTH118 - strings: no Path object per component
        found = self._memo.get(step)
        if found is None:
            link = os.path.islink(step)  # noqa: PTH114 - one lstat, on the string
            self.linked = self.linked or link
            found = self._memo[step] = os.path.realpath(step) if link else step
        return found

    def relative(self, path: str | Path) -> str | None:
        """``path`` relative to the repository root (POSIX; ``""`` for the root), or None when it resolves
        outside it."""
        real = self.real(path)
        if real == self._root:
            return ""
        return real[len(self._prefix) :] if real.startswith(self._prefix) else None


def _entries(kfile: Path) -> Iterator[str]:
    try:
        data: Any = load_plain(kfile.read_text(encoding="utf-8", errors="replace"))
    except (OSError, YamlError):  # an unreadable kustomization names nothing we can follow
        return
    if isinstance(data, dict):
        yield from _named(data)


def _named(data: dict[str, Any]) -> Iterator[str]:
    """The local references of a kustomization: the string lists, then the ``path`` of patch-like entries."""
    yield from (item for key in _LISTS for item in data.get(key) or [] if isinstance(item, str))
    for key in _PATH_LISTS:
        yield from (
            item["path"] for item in data.get(key) or [] if isinstance(item, dict) and isinstance(item.get("path"), str)
        )


def _is_remote(entry: str) -> bool:
    return "://" in entry or entry.startswith(("github.com/", "git@", "gitlab.com/", "bitbucket.org/"))


def build_inputs(root: Path, folder: str, paths: RealPaths | None = None) -> BuildInputs:
    """What building ``folder`` (relative to ``root``) reads; an absent folder reads nothing. ``paths``: the
    real paths of this pass over ``root`` (several builds of one tree share one)."""
    found = BuildInputs()
    real = paths if paths is not None else RealPaths(root)
    pending = [root / folder] if folder else [root]
    while pending:
        current = pending.pop()
        _look(real, found, current)
        if not current.is_dir():  # first: most folders a fleet names do not exist (yet)
            continue
        rel = real.relative(current)
        if rel is None or rel in found.folders:
            continue
        found.folders.add(rel)
        kfile = _found(real, current)
        if kfile is None:
            pending.extend(_scan(real, current, found))
            continue
        _look(real, found, kfile)
        pending.extend(_follow(real, current, kfile, found))
    return found


def _follow(real: RealPaths, folder: Path, kfile: Path, found: BuildInputs) -> list[Path]:
    """Add the local files the kustomization in ``folder`` names; return the folders it names."""
    folders = []
    for entry in _entries(kfile):
        if _is_remote(entry):
            if (kfile_rel := real.relative(kfile)) is not None:
                found.remote.add((kfile_rel, entry))
            continue
        target = folder / posixpath.normpath(entry)
        _look(real, found, target)
        if target.is_dir():
            folders.append(target)
        elif target.is_file() and (target_rel := real.relative(target)) is not None:
            found.files.add(target_rel)
    return folders


def _found(real: RealPaths, folder: Path) -> Path | None:
    """The kustomization file of a folder the walk enters; a symlink tried before it puts a symlink on the
    walk's way."""
    kfile, linked = _kustomization_file(folder)
    real.linked = real.linked or linked
    return kfile


def _scan(real: RealPaths, folder: Path, found: BuildInputs) -> list[Path]:
    """Add the manifests below ``folder``; return the sub-folders that have their own kustomization. The
    listing's entries answer "folder or file?" (symlinks followed, as ``Path.is_dir``) without a stat each."""
    nested: list[Path] = []
    with os.scandir(folder) as listing:
        children = sorted(listing, key=_entry_name)
    for child in children:
        path = os.path.join(folder, child.name)  # noqa: PTH118 - strings: one per file of the tree
        if child.is_symlink():  # even a dangling one: a file written at its target changes this build
            real.linked = True
        if _is(child.is_dir) and child.name not in _SKIP_DIRS:
            _look(real, found, path)  # its names: whether it has a kustomization file, what it holds
            sub = Path(path)
            if _found(real, sub) is not None:
                nested.append(sub)
            else:
                nested.extend(_scan(real, sub, found))
                if (rel := real.relative(path)) is not None:
                    found.folders.add(rel)
        elif (
            _is(child.is_file)
            and _suffix(child.name) in _MANIFEST_SUFFIXES
            and (rel := real.relative(path)) is not None
        ):
            found.files.add(rel)
    return nested


def _is(test: Callable[[], bool]) -> bool:
    """A listing entry's ``is_dir``/``is_file``, False where ``Path.is_dir``/``is_file`` would say False for
    the error (a symlink loop, a name gone since the listing)."""
    try:
        return test()
    except OSError as err:
        if err.errno in _GONE:
            return False
        raise


_GONE = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP})  # pathlib's ignored errors


def _entry_name(entry: os.DirEntry[str]) -> str:
    return entry.name


def _suffix(name: str) -> str:
    """``Path(name).suffix``: from the last dot, unless the name starts or ends there."""
    dot = name.rfind(".")
    return name[dot:] if 0 < dot < len(name) - 1 else ""
