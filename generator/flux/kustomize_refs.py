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

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator.yamlio import YamlError, load_plain

__all__ = ["KUSTOMIZATION_FILES", "BuildInputs", "build_inputs", "kustomization_file"]

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


def kustomization_file(folder: Path) -> Path | None:
    """The folder's kustomization file, or None (then kustomize-controller generates one)."""
    for name in KUSTOMIZATION_FILES:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def _relative(root: Path, path: Path) -> str | None:
    try:
        rel = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None  # outside the repository
    return "" if rel == "." else rel


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


def build_inputs(root: Path, folder: str) -> BuildInputs:
    """What building ``folder`` (relative to ``root``) reads; an absent folder reads nothing."""
    found = BuildInputs()
    pending = [root / folder] if folder else [root]
    while pending:
        current = pending.pop()
        rel = _relative(root, current)
        if rel is None or rel in found.folders or not current.is_dir():
            continue
        found.folders.add(rel)
        kfile = kustomization_file(current)
        if kfile is None:
            pending.extend(_scan(root, current, found))
            continue
        pending.extend(_follow(root, current, kfile, found))
    return found


def _follow(root: Path, folder: Path, kfile: Path, found: BuildInputs) -> list[Path]:
    """Add the local files the kustomization in ``folder`` names; return the folders it names."""
    folders = []
    for entry in _entries(kfile):
        if _is_remote(entry):
            if (kfile_rel := _relative(root, kfile)) is not None:
                found.remote.add((kfile_rel, entry))
            continue
        target = folder / posixpath.normpath(entry)
        if target.is_dir():
            folders.append(target)
        elif target.is_file() and (target_rel := _relative(root, target)) is not None:
            found.files.add(target_rel)
    return folders


def _scan(root: Path, folder: Path, found: BuildInputs) -> list[Path]:
    """Add the manifests below ``folder``; return the sub-folders that have their own kustomization."""
    nested: list[Path] = []
    for child in sorted(folder.iterdir()):
        if child.is_dir() and child.name not in _SKIP_DIRS:
            if kustomization_file(child) is not None:
                nested.append(child)
            else:
                nested.extend(_scan(root, child, found))
                if (rel := _relative(root, child)) is not None:
                    found.folders.add(rel)
        elif child.is_file() and child.suffix in _MANIFEST_SUFFIXES and (rel := _relative(root, child)) is not None:
            found.files.add(rel)
    return nested
