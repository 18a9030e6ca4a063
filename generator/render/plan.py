"""What ``fluxforge render`` would write: the render, merged three ways into the files the user edited.

For each generated file whose bytes on disk differ from the render:

* the file is missing: it is written from the render;
* ``fluxforge.lock`` holds its base (what fluxforge generated last): base, the file (ours) and the
  render (theirs) are merged by :func:`generator.merge.plan.plan_merge`, the same planning function
  ``fluxforge upgrade`` uses; a file nobody edited simply becomes the render, the user's edits
  survive a change of the config, and a clash is a conflict;
* there is no base (no lock yet, a deleted lock, or a file the lock does not know): a file whose first
  line carries the generated-file marker was written by fluxforge, but edits in it cannot be told from
  an older render (``overwritten``: render refuses to replace it unless forced, so no edit is dropped
  with exit 0); any other file (a hand-written ``.sops.yaml``, the ``kustomization.yaml`` or
  ``gotk-sync.yaml`` that ``flux bootstrap`` wrote) is ``foreign``: render refuses to replace it
  unless forced.

Orphans are files fluxforge generated earlier but the config no longer yields. With a lock, they are
the files the lock records that the render does not yield (:func:`generator.merge.plan.stale_paths`,
the rule ``fluxforge upgrade`` follows too; a removed cluster's files included), and an orphan the
user edited is a conflict; without one, files in the folders of the clusters in the config whose
first line carries the generated-file marker (removed only when forced: edits cannot be told). A
generated file the user deleted is written again.
Reads only.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from generator.config.model import Config
from generator.fsio import read_optional
from generator.merge.lock import LOCK_NAME, Lock, dumps, loads
from generator.merge.plan import MergePlan, plan_merge, stale_paths
from generator.render.files import DECRYPTION_SA_FILE, GENERATED_MARKER

__all__ = ["RenderPlan", "is_marked", "orphan_candidates", "plan_render", "read_bytes"]


@dataclass(frozen=True)
class RenderPlan:
    """The writes a render needs; ``disk`` holds the current bytes of every path it names."""

    disk: Mapping[str, bytes | None]
    writes: dict[str, bytes]  # relpath -> bytes to write (differs from disk), in render order
    removes: list[str]  # orphaned generated files to delete
    merged: list[str]  # written paths that keep the user's edits (three-way merged)
    overwritten: list[str]  # differing files with no base in the lock but our marker: replaced by the render
    foreign: list[str]  # differing files with no base and no marker: not ours, replaced only when forced
    unbased_removes: list[
        str
    ]  # orphans found by the marker, without a lock: edits unknowable, removed only when forced
    conflicts: list[str]  # "file: key.path: conflict: ..."
    lock: Lock  # what the lock must hold afterwards: the render itself (the next merge's base)
    lock_data: bytes  # its bytes (``dumps(lock)``, made once)
    has_lock: bool  # a lock file exists (it is parsed only when something differs)


def read_bytes(path: Path) -> bytes | None:
    """A file's bytes, or None when it is missing; a folder in the way is an error."""
    return read_optional(path, writer="fluxforge generates", below="fluxforge generates files below it")


def _read_generated(root: Path, files: Mapping[str, bytes]) -> dict[str, bytes | None]:
    """``read_bytes`` of each generated path; the files of a folder that does not exist are missing without
    a try each (a first render: one stat per folder instead of a failed open per file)."""
    missing: dict[str, bool] = {}
    disk: dict[str, bytes | None] = {}
    for path in files:
        folder = posixpath.dirname(path)
        gone = missing.get(folder)
        if gone is None:
            gone = missing[folder] = _missing_folder(root / folder)
        disk[path] = None if gone else read_bytes(root / path)
    return disk


def _missing_folder(folder: Path) -> bool:
    """Nothing is at ``folder`` (anything else, a file in the way included, is for ``read_bytes`` to word)."""
    try:
        os.stat(folder)  # noqa: PTH116 - one call, no Path method
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return False


def is_marked(data: bytes) -> bool:
    """The bytes start with fluxforge's generated-file marker (gotk-sync.yaml carries Flux's own header)."""
    return data.startswith(GENERATED_MARKER.encode())


def _has_marker(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(len(GENERATED_MARKER)) == GENERATED_MARKER.encode()
    except (FileNotFoundError, IsADirectoryError):
        return False


def orphan_candidates(root: Path, config: Config, files: Mapping[str, bytes]) -> list[str]:
    """Existing files in the clusters' folders (``<path>/*.yaml``, and the sync folder's
    ``kustomization.yaml`` and default decryption ServiceAccount) that the render does not yield:
    fluxforge may have generated them earlier."""
    found: list[str] = []
    for cluster in config.clusters:
        folder = root / cluster.path
        sync = root / config.sync_dir(cluster)
        for path in [*sorted(folder.glob("*.yaml")), sync / "kustomization.yaml", sync / DECRYPTION_SA_FILE]:
            relpath = path.relative_to(root).as_posix()
            if relpath not in files and path.is_file():
                found.append(relpath)
    return found


def plan_render(root: Path, config: Config, files: Mapping[str, bytes], *, force: bool = False) -> RenderPlan:
    """Plan writing the render ``files`` under ``root``. The lock is only parsed when a file differs
    or an orphan candidate exists, so a no-op render stays a read-and-compare pass."""
    disk = _read_generated(root, files)
    differing = _differing(files, disk)
    candidates = orphan_candidates(root, config, files)
    new_lock = Lock(str(config.flux.version), {path: data.decode("utf-8") for path, data in files.items()})
    lock_data = dumps(new_lock)
    recorded, has_lock = _recorded(root, lock_data, bool(differing or candidates))
    bases = dict(recorded or {})
    orphans, marked = _orphans(root, recorded, files, candidates)
    disk.update((path, read_bytes(root / path)) for path in [*orphans, *marked])
    merge = _merge(root, bases, files, [path for path in differing if path in bases] + orphans, force=force)
    writes = _writes(differing, bases, files, merge.writes)
    overwritten, foreign = _unbased(differing, bases, disk)
    return RenderPlan(
        disk=disk,
        writes=writes,
        removes=marked + [path for path in orphans if merge.writes.get(path, "") is None],
        merged=_kept_edits(writes, merge.edited, files),
        overwritten=overwritten,
        foreign=foreign,
        unbased_removes=marked,
        conflicts=merge.conflicts,
        lock=new_lock,
        lock_data=lock_data,
        has_lock=has_lock,
    )


def _merge(
    root: Path, bases: Mapping[str, str], files: Mapping[str, bytes], paths: list[str], *, force: bool
) -> MergePlan:
    """The three-way merge of ``paths`` (differing files with a base, and orphans: a file the user
    deleted is written again)."""
    theirs = {path: files[path].decode("utf-8") for path in paths if path in files}
    return plan_merge(root, bases, theirs, paths, force=force, side="the render")


def _kept_edits(writes: Mapping[str, bytes], edited: set[str], files: Mapping[str, bytes]) -> list[str]:
    """Written paths that keep the user's edits (the merge's text, not the render's)."""
    return [path for path in writes if path in edited and writes[path] != files[path]]


def _differing(files: Mapping[str, bytes], disk: Mapping[str, bytes | None]) -> list[str]:
    return [path for path, data in files.items() if disk[path] != data]


def _unbased(
    differing: list[str], bases: Mapping[str, str], disk: Mapping[str, bytes | None]
) -> tuple[list[str], list[str]]:
    """Differing files on disk without a base: (ours by the marker, foreign)."""
    unbased = [path for path in differing if disk[path] is not None and path not in bases]
    marked = [path for path in unbased if is_marked(disk[path] or b"")]
    return marked, [path for path in unbased if path not in marked]


def _orphans(
    root: Path, bases: Mapping[str, str] | None, files: Mapping[str, bytes], candidates: list[str]
) -> tuple[list[str], list[str]]:
    """(orphans to merge away, marked files to remove only when forced): with a lock, what it records
    that the render does not yield (a removed Kustomization or cluster); without one, the candidates
    that carry the generated-file marker."""
    if bases is not None:
        return stale_paths(bases, files), []
    return [], [path for path in candidates if _has_marker(root / path)]


def _recorded(root: Path, new_lock: bytes, changes: bool) -> tuple[Mapping[str, str] | None, bool]:
    """The lock's files (parsed) when they can matter: a file differs, an orphan may exist, or the lock
    records files the render no longer yields (a removed cluster); a no-op render stays a
    read-and-compare pass. Also whether a lock file exists."""
    lock_file = root / LOCK_NAME
    lock_data = read_bytes(lock_file)
    if lock_data is None:
        return None, False
    if not changes and lock_data == new_lock:
        return None, True
    return loads(lock_data, str(lock_file)).files, True


def _writes(
    differing: list[str], bases: Mapping[str, str], files: Mapping[str, bytes], merged: Mapping[str, str | None]
) -> dict[str, bytes]:
    """The bytes to write, in render order: the render where there is no base, else the merge's text."""
    writes: dict[str, bytes] = {}
    for path in differing:
        if path not in bases:
            writes[path] = files[path]
        elif (text := merged.get(path)) is not None:
            writes[path] = text.encode("utf-8")
    return writes
