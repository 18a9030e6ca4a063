"""The I/O edge of ``fluxforge render``: compare, diff and write the rendered tree.

Only paths produced by :func:`generator.render.render_tree` are ever written, through
:func:`generator.fsio.write_atomic` (no write when the bytes are unchanged). The only other files
touched are earlier fluxforge outputs in a cluster folder that the config no longer yields (their
first line is the generated-file marker): ``render`` deletes them, ``--check`` reports them.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from generator.config import config_path_for, load_config
from generator.config_model import Config
from generator.errors import CheckFailed, RenderError
from generator.fsio import write_atomic
from generator.gotk import header_mismatches
from generator.lockfile import LOCK_NAME, record
from generator.render import GENERATED_MARKER, render_tree

__all__ = [
    "FileChange",
    "RenderReport",
    "changed_files",
    "orphaned_files",
    "remove_files",
    "run_render",
    "unified_diff",
    "write_tree",
]

Mode = Literal["write", "check", "diff"]
_WRITERS = 16
_PARALLEL_FROM = 64


@dataclass(frozen=True)
class FileChange:
    """A generated file whose bytes on disk differ from the rendered ones."""

    path: str
    status: Literal["missing", "stale", "orphaned"]
    diff: str


@dataclass(frozen=True)
class RenderReport:
    """What a render did (``written``) or would do (``changes``), plus non-fatal warnings."""

    root: Path
    total: int
    written: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changes: tuple[FileChange, ...] = ()
    warnings: tuple[str, ...] = field(default=())


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise RenderError(f"{path}: is a folder, but fluxforge generates a file there") from None


def unified_diff(relpath: str, old: bytes | None, new: bytes | None) -> str:
    """A ``diff -u`` style patch from the file on disk (``old``, None if missing) to ``new`` (None: deleted)."""
    before = old.decode("utf-8", errors="replace").splitlines(keepends=True) if old is not None else []
    after = new.decode("utf-8").splitlines(keepends=True) if new is not None else []
    source = f"a/{relpath}" if old is not None else "/dev/null"
    lines = difflib.unified_diff(before, after, source, f"b/{relpath}" if new is not None else "/dev/null")
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


def changed_files(root: Path, files: Mapping[str, bytes]) -> list[FileChange]:
    """Generated files that are missing or differ on disk, with their diffs."""
    changes: list[FileChange] = []
    for relpath, data in files.items():
        old = _read(root / relpath)
        if old != data:
            status: Literal["missing", "stale"] = "missing" if old is None else "stale"
            changes.append(FileChange(relpath, status, unified_diff(relpath, old, data)))
    return changes


def _generated_by_us(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(len(GENERATED_MARKER)) == GENERATED_MARKER.encode()
    except (FileNotFoundError, IsADirectoryError):
        return False


def orphaned_files(root: Path, config: Config, files: Mapping[str, bytes]) -> list[str]:
    """Files in the clusters' folders that fluxforge generated earlier but the config no longer yields
    (a removed Kustomization); recognised by the generated-file marker on their first line."""
    found: list[str] = []
    for cluster in config.clusters:
        folder = root / cluster.path
        candidates = [*sorted(folder.glob("*.yaml")), folder / "flux-system" / "kustomization.yaml"]
        for path in candidates:
            relpath = path.relative_to(root).as_posix()
            if relpath not in files and _generated_by_us(path):
                found.append(relpath)
    return found


def _orphan_changes(root: Path, orphans: list[str]) -> list[FileChange]:
    return [FileChange(rel, "orphaned", unified_diff(rel, (root / rel).read_bytes(), None)) for rel in orphans]


def remove_files(root: Path, relpaths: list[str]) -> list[str]:
    """Delete orphaned generated files; return those removed."""
    try:
        for relpath in relpaths:
            (root / relpath).unlink(missing_ok=True)
    except OSError as err:
        raise RenderError(f"cannot remove a stale generated file under {root}: {err}") from None
    return relpaths


def write_tree(root: Path, files: Mapping[str, bytes]) -> list[str]:
    """Write every file whose bytes changed; return the relative paths written (in ``files`` order).

    Unchanged files are found by one sequential read pass (cheapest for the usual no-op run); the
    changed ones are written on a small thread pool, since each atomic write waits on fsync, which
    releases the GIL.
    """
    pending = [(relpath, data) for relpath, data in files.items() if _read(root / relpath) != data]
    try:
        if len(pending) < _PARALLEL_FROM:
            changed = [write_atomic(root / relpath, data) for relpath, data in pending]
        else:
            with ThreadPoolExecutor(max_workers=_WRITERS) as pool:
                changed = list(pool.map(lambda item: write_atomic(root / item[0], item[1]), pending))
    except OSError as err:
        raise RenderError(f"cannot write the tree under {root}: {err}") from None
    return [relpath for (relpath, _), did in zip(pending, changed, strict=True) if did]


def _check_failure(changes: list[FileChange], mismatches: list[str]) -> CheckFailed:
    lines = [
        f"{c.path}: {c.status} (run `fluxforge render` to {'delete' if c.status == 'orphaned' else 'update'} it)"
        for c in changes
    ]
    lines += mismatches
    for change in changes:
        lines.extend(change.diff.rstrip("\n").split("\n"))
    return CheckFailed(lines)


def run_render(config_arg: str | Path | None, *, output: str | Path | None = None, mode: Mode = "write") -> RenderReport:
    """``fluxforge render``: load the config, render, then write, check or diff under the output root.

    Raises ConfigError (nothing written), CheckFailed (``mode="check"`` and the tree is out of date).
    """
    config_file = config_path_for(config_arg)
    config = load_config(config_file)
    files = render_tree(config, config_name=config_file.name)
    root = Path(output) if output is not None else config_file.parent
    mismatches = header_mismatches(config, root)
    orphans = orphaned_files(root, config, files)
    if mode == "write":
        written = write_tree(root, files)
        removed = remove_files(root, orphans)
        record(root / LOCK_NAME, files, str(config.flux.version))  # merge base of `fluxforge upgrade` (issue 6)
        return RenderReport(
            root, len(files), written=tuple(written), removed=tuple(removed), warnings=tuple(mismatches)
        )
    changes = changed_files(root, files) + _orphan_changes(root, orphans)
    if mode == "check" and (changes or mismatches):
        raise _check_failure(changes, mismatches)
    return RenderReport(root, len(files), changes=tuple(changes), warnings=tuple(mismatches))
