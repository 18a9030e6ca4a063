"""Merge a new render into the files on disk, three ways: the one planning function shared by
``fluxforge render`` (``generator.render.plan``) and ``fluxforge upgrade`` (``generator.commands.upgrade``).

base   = what fluxforge generated last (``fluxforge.lock``),
ours   = the file on disk (with the user's edits), theirs = the new render.

The rules both commands share, decided here and nowhere else:

* a generated file the user deleted is written again from the new render (the config is the
  source of truth: to drop a generated file, change the config);
* a file the lock records that the new render no longer yields (a removed Kustomization, a removed
  cluster; see :func:`stale_paths`) is deleted when unedited; an edited one is a conflict.

Reads files, writes nothing: the caller decides whether to apply the plan (not when it has
conflicts, unless ``force``).
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from generator.errors import FluxforgeError
from generator.merge.text import Merged, merge_text

__all__ = ["MergePlan", "plan_merge", "read_text", "stale_paths"]


def read_text(path: Path) -> str | None:
    """A file's text, or None when it does not exist."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as err:
        raise FluxforgeError(f"{path}: cannot read: {err}") from None


def stale_paths(bases: Iterable[str], theirs: Container[str]) -> list[str]:
    """The paths the lock (``bases``) records that the new render ``theirs`` no longer yields: files
    fluxforge generated earlier for a removed Kustomization or a cluster removed from the config.
    Merging them deletes the unedited ones; an edited one is a conflict."""
    return sorted(path for path in bases if path not in theirs)


@dataclass
class MergePlan:
    """What merging a render into the files on disk would do (nothing is written yet)."""

    writes: dict[str, str | None]  # relpath -> new text (None: delete the file)
    bases: dict[str, str]  # the lock entries to record afterwards
    conflicts: list[str]  # one line per conflict: "file: key.path: conflict: ..."
    edited: set[str]  # paths whose file on disk differed from its base (the user's edits, kept or not)

    def record(
        self, path: str, ours: str | None, merged: Merged, theirs: str | None, *, side: str, force: bool
    ) -> None:
        """One file's merge: its conflicts, its write (when the text changes) and its next base (the new
        render, unless it conflicted and not ``force``: a later run must still see the user's edits)."""
        self.conflicts.extend(c.line(path, side) for c in merged.conflicts)
        if merged.text != ours:
            self.writes[path] = merged.text
        if not (merged.clean or force):
            return
        if theirs is not None:
            self.bases[path] = theirs
        else:
            self.bases.pop(path, None)


def plan_merge(
    root: Path,
    bases: Mapping[str, str],
    theirs: Mapping[str, str],
    paths: Iterable[str],
    *,
    force: bool = False,
    side: str = "the upgrade",
) -> MergePlan:
    """Merge the render ``theirs`` into the files under ``root`` with ``bases`` (the lock) as base,
    for ``paths``. A file's base moves to the new render unless it conflicted (and not ``force``),
    so a later run still sees the user's edits. ``side`` names the new render in conflict lines
    ("the upgrade", "the render"). A file missing on disk is written again from ``theirs``.
    Reads files; writes nothing."""
    plan = MergePlan({}, dict(bases), [], set())
    for path in paths:
        ours = read_text(root / path)
        base = bases.get(path)
        if base is not None and ours is not None and ours != base:
            plan.edited.add(path)
        if ours is None and path in theirs:
            merged = merge_text(None, None, theirs[path])  # deleted by the user: the render writes it again
        else:
            merged = merge_text(base, ours, theirs.get(path), force=force)
        plan.record(path, ours, merged, theirs.get(path), side=side, force=force)
    return plan
