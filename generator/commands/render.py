"""The I/O edge of ``fluxforge render``: compare, diff and write the rendered tree.

What to write is planned by :func:`generator.render.plan.plan_render`: the render itself, merged
three ways (against ``fluxforge.lock``) into the generated files the user edited, so those edits
survive, exactly as in ``fluxforge upgrade``. Only paths produced by
:func:`generator.render.files.render_tree` are written, through :func:`generator.fsio.write_atomic` (no
write when the bytes are unchanged), plus the lock. The only other files touched are earlier
fluxforge outputs that the config no longer yields (recorded in the lock, a removed cluster's
included; without a lock, marked files in a cluster folder): ``render`` deletes them,
``--check`` reports them. A conflict writes nothing (unless ``force``), and neither does a differing
file at a generated path that fluxforge did not write (no base in the lock, no generated-file marker:
a hand-written ``.sops.yaml``, the files ``flux bootstrap`` wrote), and, without a lock to merge
against (deleted, or never written), neither does a differing generated file or a marked orphan:
render never replaces a file it did not generate, nor drops edits it cannot see, unless ``force``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from generator.config.load import config_path_for, load_config
from generator.config.model import Config
from generator.errors import CheckFailed, FluxforgeError, RenderError
from generator.flux.gotk import header_mismatches, missing_components
from generator.flux.identity_notes import restart_notes
from generator.flux.sops_coverage import shared_folders
from generator.fsio import write_atomic, write_error
from generator.merge.lock import LOCK_NAME, write_lock
from generator.render.files import age_secret_notes, render_tree
from generator.render.plan import RenderPlan, plan_render, read_bytes
from generator.render.workloads import workload_notes
from generator.report.model import Report
from generator.report.sources import render_check_report

__all__ = [
    "FileChange",
    "RenderConflict",
    "RenderReport",
    "TreeOutOfDate",
    "remove_files",
    "run_render",
    "unified_diff",
    "write_files",
]

Mode = Literal["write", "check", "diff"]


class RenderConflict(FluxforgeError):
    """Generated files the user edited clash with the new render; nothing was written."""


@dataclass(frozen=True)
class FileChange:
    """A generated file whose bytes on disk differ from what render writes."""

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
    merged: tuple[str, ...] = ()  # written (or to be written) with the user's edits kept
    notes: tuple[str, ...] = ()  # not problems: what the user should know (a missing gotk-components.yaml)
    forced: tuple[str, ...] = ()  # conflicts resolved for the render's side (``force``)
    lock_changed: bool = False  # fluxforge.lock was (write) or would be (check, diff) updated


def unified_diff(relpath: str, old: bytes | None, new: bytes | None) -> str:
    """A ``diff -u`` style patch from the file on disk (``old``, None if missing) to ``new`` (None: deleted)."""
    before = old.decode("utf-8", errors="replace").splitlines(keepends=True) if old is not None else []
    after = new.decode("utf-8").splitlines(keepends=True) if new is not None else []
    source = f"a/{relpath}" if old is not None else "/dev/null"
    lines = difflib.unified_diff(before, after, source, f"b/{relpath}" if new is not None else "/dev/null")
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


def _write_output(path: Path, data: bytes) -> bool:
    # Regenerable output: no fsync per file (the temp file + os.replace keeps every file whole).
    return write_atomic(path, data, sync=False)


def _names(relpaths: list[str]) -> str:
    return ", ".join(relpaths) if relpaths else "none"


def _reason(err: OSError, what: str) -> str:
    """One line naming the file and the OS reason (an error already written for the user is kept as is)."""
    if isinstance(err, FluxforgeError):
        return err.problems[0]
    return f"{what}: {err.strerror or err}"


def _write_lock(root: Path, plan: RenderPlan, written: list[str], removed: list[str]) -> bool:
    """Write the lock last; a failure says that the tree is written and only the merge base is not."""
    try:
        return write_lock(root / LOCK_NAME, plan.lock, plan.lock_data)
    except OSError as err:
        done = f"{len(written)} file(s) written" + (f", {len(removed)} removed" if removed else "")
        raise RenderError(
            [
                write_error(root / LOCK_NAME, err).problems[0],
                (
                    f"the tree is rendered ({done}); only {LOCK_NAME}, the base that keeps your edits in the next "
                    "merge, is not updated: fix the cause and rerun `fluxforge render`"
                ),
            ]
        ) from None


def write_files(root: Path, writes: Mapping[str, bytes]) -> list[str]:
    """Write ``writes`` (already known to differ from disk); return the relative paths written.

    Each file is replaced atomically. An OSError stops the run with a RenderError naming the failing
    file and the OS reason, the files already written and those not written (the lock is not updated).
    Sequential: without a per-file fsync there is no wait to overlap, and a thread pool only adds
    contention (bench/render.py measured it slower on 2 cores).
    """
    written: list[str] = []
    pending = list(writes)
    for index, relpath in enumerate(pending):
        try:
            if _write_output(root / relpath, writes[relpath]):
                written.append(relpath)
        except OSError as err:
            raise RenderError(
                [
                    write_error(root / relpath, err).problems[0],
                    f"written before the failure (each file whole): {_names(written)}",
                    f"not written: {_names(pending[index:])}",
                    (
                        f"{LOCK_NAME} was not updated and no stale file was removed; "
                        "fix the cause and rerun `fluxforge render`"
                    ),
                ]
            ) from None
    return written


def remove_files(root: Path, relpaths: list[str]) -> list[str]:
    """Delete orphaned generated files; return those removed."""
    for index, relpath in enumerate(relpaths):
        try:
            (root / relpath).unlink(missing_ok=True)
        except OSError as err:
            raise RenderError(
                [
                    _reason(err, f"{root / relpath}: cannot remove this stale generated file"),
                    f"removed before the failure: {_names(relpaths[:index])}; not removed: {_names(relpaths[index:])}",
                    f"{LOCK_NAME} was not updated; fix the cause and rerun `fluxforge render`",
                ]
            ) from None
    return relpaths


def _changes(plan: RenderPlan) -> list[FileChange]:
    changes = [
        FileChange(path, "missing" if plan.disk[path] is None else "stale", unified_diff(path, plan.disk[path], data))
        for path, data in plan.writes.items()
    ]
    return changes + [FileChange(path, "orphaned", unified_diff(path, plan.disk[path], None)) for path in plan.removes]


def _warnings(plan: RenderPlan, mode: Mode) -> list[str]:
    """Only with --force: what the render replaces although it could not merge (see ``_not_ours``)."""
    verb = "overwritten" if mode == "write" else "would be overwritten"
    why = f"{LOCK_NAME} has no record of it" if plan.has_lock else f"there is no {LOCK_NAME}"
    forced = "replaced" if mode == "write" else "would be replaced"
    return [
        f"{path}: {verb} with the render (--force): it differed and {why} to merge your edits against"
        for path in plan.overwritten
    ] + [f"{path}: {forced} with the render (--force), although fluxforge did not write it" for path in plan.foreign]


def _not_ours(plan: RenderPlan) -> list[str]:
    """One refusal per differing file at a generated path that render cannot merge into: not written by
    fluxforge, or written by it but without a base in the lock (a deleted or older lock: the user's
    edits in it cannot be told from an older render, so replacing it could drop them)."""
    why = f"no entry in {LOCK_NAME}" if plan.has_lock else f"no {LOCK_NAME} yet"
    base = f"{LOCK_NAME} has no record of it" if plan.has_lock else f"there is no {LOCK_NAME}"
    return (
        [
            f"{path}: differs from the render and {base} (the merge base), so your edits in it cannot be told from an "
            f"older render; restore {LOCK_NAME} (git checkout -- {LOCK_NAME}) to merge them, or review the file "
            "and rerun with --force to replace it with the render"
            for path in plan.overwritten
        ]
        + [
            f"{path}: no longer in the config, and there is no {LOCK_NAME} (the merge base) to tell your edits in it "
            f"from an older render; restore {LOCK_NAME} (git checkout -- {LOCK_NAME}), or review the file and rerun "
            "with --force to delete it"
            for path in plan.unbased_removes
        ]
        + [
            f"{path}: exists and was not written by fluxforge ({why}, no generated-file header); "
            "review it, then rerun with --force to replace it with the render"
            for path in plan.foreign
        ]
    )


def _conflict(plan: RenderPlan) -> RenderConflict:
    if not plan.conflicts:
        return RenderConflict([*_not_ours(plan), f"nothing was written (no file, not {LOCK_NAME})"])
    advice = (
        f"{len(plan.conflicts)} conflict(s): nothing was written; edit the files named above by hand "
        "(or the config), or rerun with --force to take the render's side"
    )
    return RenderConflict([*_not_ours(plan), *plan.conflicts, advice])


class TreeOutOfDate(CheckFailed):
    """``render --check`` found the tree out of date; ``report`` holds the same failure as records (for
    ``--format``)."""

    def __init__(self, lines: list[str], report: Report) -> None:
        super().__init__(lines)
        self.report = report


def _check_failure(
    root: Path,
    changes: list[FileChange],
    lock_state: str | None,
    mismatches: list[str],
    warnings: list[str],
    notes: tuple[str, ...],
) -> CheckFailed:
    lines = [f"warning: {warning}" for warning in warnings]
    lines += [
        f"{c.path}: {c.status} (run `fluxforge render` to {'delete' if c.status == 'orphaned' else 'update'} it)"
        for c in changes
    ]
    if lock_state is not None:
        lines.append(f"{LOCK_NAME}: {lock_state} (run `fluxforge render` to update it; it is the merge base)")
    lines += mismatches
    for change in changes:
        lines.extend(change.diff.rstrip("\n").split("\n"))
    others = [*mismatches, *(f"warning: {w}" for w in warnings), *(f"note: {n}" for n in notes)]
    return TreeOutOfDate(
        lines + [f"note: {note}" for note in notes], render_check_report(root, changes, lock_state, others, LOCK_NAME)
    )


def _restart_notes(config: Config, plan: RenderPlan) -> list[str]:
    def text(data: bytes | None) -> str | None:
        return data.decode("utf-8", errors="replace") if data is not None else None

    return restart_notes(
        config, {p: text(plan.disk.get(p)) for p in plan.writes}, {p: text(data) for p, data in plan.writes.items()}
    )


def run_render(
    config_arg: str | Path | None,
    *,
    output: str | Path | None = None,
    mode: Mode = "write",
    force: bool = False,
) -> RenderReport:
    """``fluxforge render``: load the config, render, merge into edited files, then write, check or
    diff under the output root.

    Raises ConfigError (nothing written), RenderConflict (an edit clashes with the render, or a
    differing file at a generated path was not written by fluxforge, and not ``force``: nothing
    written), RenderError (a file cannot be read or written), CheckFailed (``mode="check"`` and the
    tree is out of date).
    """
    config_file = config_path_for(config_arg)
    config = load_config(config_file)
    root = Path(output) if output is not None else config_file.parent
    files = render_tree(config, config_name=config_file.name, shared=shared_folders(root, config))
    plan = plan_render(root, config, files, force=force)  # first: it reports a file where a folder belongs
    mismatches = header_mismatches(config, root)
    notes = tuple(missing_components(config, root) + _restart_notes(config, plan) + workload_notes(config, root))
    if (plan.conflicts or plan.foreign or plan.overwritten or plan.unbased_removes) and not force:
        raise _conflict(plan)
    overwrites = _warnings(plan, mode)
    warnings = tuple(overwrites + mismatches)
    forced = tuple(plan.conflicts)
    if mode == "write":
        written = write_files(root, plan.writes)
        removed = remove_files(root, plan.removes)
        lock_changed = _write_lock(root, plan, written, removed)  # the render itself: the next merge's base
        notes += tuple(age_secret_notes(config, written))  # said once: when the Kustomizations are written
        return RenderReport(
            root,
            len(files),
            tuple(written),
            tuple(removed),
            warnings=warnings,
            merged=tuple(plan.merged),
            forced=forced,
            lock_changed=lock_changed,
            notes=notes,
        )
    changes = _changes(plan)
    current_lock = read_bytes(root / LOCK_NAME)
    lock_state = None if current_lock == plan.lock_data else "missing" if current_lock is None else "stale"
    if mode == "check" and (changes or mismatches or lock_state):
        raise _check_failure(root, changes, lock_state, mismatches, overwrites, notes)
    return RenderReport(
        root,
        len(files),
        changes=tuple(changes),
        warnings=warnings,
        merged=tuple(plan.merged),
        forced=forced,
        lock_changed=lock_state is not None,
        notes=notes,
    )
