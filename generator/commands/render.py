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

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from generator.config.locate import config_path_for
from generator.errors import CheckFailed, FluxforgeError, RenderError
from generator.merge.lock import LOCK_NAME
from generator.render import index as render_index

if TYPE_CHECKING:
    from generator.config.model import Config
    from generator.flux.kustomize_refs import BuildInputs, RealPaths
    from generator.render.plan import RenderPlan
    from generator.report.model import Report

# The render itself (YAML, JSON Schema, Jinja) is imported by the functions that need it: an unchanged tree
# is answered from the render index (:mod:`generator.render.index`) without it.

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
    import difflib

    before = old.decode("utf-8", errors="replace").splitlines(keepends=True) if old is not None else []
    after = new.decode("utf-8").splitlines(keepends=True) if new is not None else []
    source = f"a/{relpath}" if old is not None else "/dev/null"
    lines = difflib.unified_diff(before, after, source, f"b/{relpath}" if new is not None else "/dev/null")
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


def _write_output(root: Path, relpath: str, data: bytes, created: dict[str, bool]) -> bool:
    """Write one output; ``created``: folder -> this run created it (asked once per folder). In such a folder
    nothing can be in the way, so the file is written without ``write_atomic``'s checks (a first render
    writes thousands of files into new folders); elsewhere ``write_atomic`` (links written through, no write
    of identical bytes)."""
    from generator.fsio import make_folders, write_atomic, write_new

    path = os.path.join(root, relpath)  # noqa: PTH118 - strings: thousands of files per run
    folder = os.path.dirname(path)  # noqa: PTH120
    if folder not in created:
        created.update(dict.fromkeys(make_folders(folder), True))
        created.setdefault(folder, False)
    # Regenerable output: no fsync per file (the temp file + os.replace keeps every file whole).
    if created[folder]:
        write_new(path, data, sync=False)
        return True
    return write_atomic(root / relpath, data, sync=False)


def _names(relpaths: list[str]) -> str:
    return ", ".join(relpaths) if relpaths else "none"


def _reason(err: OSError, what: str) -> str:
    """One line naming the file and the OS reason (an error already written for the user is kept as is)."""
    if isinstance(err, FluxforgeError):
        return err.problems[0]
    return f"{what}: {err.strerror or err}"


def _write_lock(root: Path, plan: RenderPlan, written: list[str], removed: list[str]) -> bool:
    """Write the lock last; a failure says that the tree is written and only the merge base is not."""
    from generator.fsio import write_error
    from generator.merge.lock import write_lock

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
    from generator.fsio import write_error

    written: list[str] = []
    pending = list(writes)
    created: dict[str, bool] = {}
    for index, relpath in enumerate(pending):
        try:
            if _write_output(root, relpath, writes[relpath], created):
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
    from generator.report.sources import render_check_report

    lines += mismatches
    for change in changes:
        lines.extend(change.diff.rstrip("\n").split("\n"))
    others = [*mismatches, *(f"warning: {w}" for w in warnings), *(f"note: {n}" for n in notes)]
    return TreeOutOfDate(
        lines + [f"note: {note}" for note in notes], render_check_report(root, changes, lock_state, others, LOCK_NAME)
    )


def _restart_notes(config: Config, plan: RenderPlan) -> list[str]:
    from generator.flux.identity_notes import restart_notes

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
    diff under the output root. An unchanged tree (nothing the render reads changed since a render left
    it exactly as rendered) is answered from the render index (:mod:`generator.render.index`): the same
    report, nothing read but stat fields.

    Raises ConfigError (nothing written), RenderConflict (an edit clashes with the render, or a
    differing file at a generated path was not written by fluxforge, and not ``force``: nothing
    written), RenderError (a file cannot be read or written), CheckFailed (``mode="check"`` and the
    tree is out of date).
    """
    config_file = config_path_for(config_arg)
    root = Path(output) if output is not None else config_file.parent
    stamped = render_index.stamp(config_file, root)
    known = render_index.lookup(config_file, root, stamped)
    if known is not None:
        return RenderReport(root, known.total, notes=known.notes)
    return _render(config_file, root, stamped, mode=mode, force=force)


@dataclass(frozen=True)
class _Run:
    """One full render: what the render index records afterwards."""

    config_file: Path
    root: Path
    stamped: str | None  # the index's stamp from before the config was read
    config: Config
    files: Mapping[str, bytes]
    shared: Mapping[str, frozenset[str]]
    watch: render_index.Watch
    real: RealPaths
    builds: Mapping[str, BuildInputs]  # the kustomize walk's builds, by folder


def _render(config_file: Path, root: Path, stamped: str | None, *, mode: Mode, force: bool) -> RenderReport:
    from generator.config.load import load_config
    from generator.flux.gotk import header_mismatches, missing_components
    from generator.flux.kustomize_refs import RealPaths
    from generator.flux.sops_coverage import shared_folders
    from generator.render.files import render_tree
    from generator.render.workloads import workload_notes

    config = load_config(config_file)
    watch = render_index.Watch()
    real = RealPaths(root, see=watch.see)
    builds: dict[str, BuildInputs] = {}
    shared = shared_folders(root, config, real, builds)
    files = render_tree(config, config_name=config_file.name, shared=shared)
    run = _Run(config_file, root, stamped, config, files, shared, watch, real, builds)
    plan = _plan(root, config, files, force=force)  # first: it reports a file where a folder belongs
    mismatches = header_mismatches(config, root)
    notes = tuple(missing_components(config, root) + _restart_notes(config, plan) + workload_notes(config, root))
    if (plan.conflicts or plan.foreign or plan.overwritten or plan.unbased_removes) and not force:
        raise _conflict(plan)
    overwrites = _warnings(plan, mode)
    warnings = tuple(overwrites + mismatches)
    if mode == "write":
        report = _write(run, plan, warnings, notes)
        _remember(run, plan, report, lock_is_render=True, wrote_lock=report.lock_changed)
        return report
    return _compare(run, plan, (mismatches, overwrites), notes, check=mode == "check")


def _compare(
    run: _Run, plan: RenderPlan, found: tuple[list[str], list[str]], notes: tuple[str, ...], *, check: bool
) -> RenderReport:
    """--check and --diff: what would change (``found``: gotk-components.yaml mismatches, --force warnings);
    --check raises CheckFailed when anything would."""
    mismatches, overwrites = found
    changes = _changes(plan)
    lock_state = _lock_state(run.root, plan)
    if check and (changes or mismatches or lock_state):
        raise _check_failure(run.root, changes, lock_state, mismatches, overwrites, notes)
    report = RenderReport(
        run.root,
        len(run.files),
        changes=tuple(changes),
        warnings=tuple(overwrites + mismatches),
        merged=tuple(plan.merged),
        forced=tuple(plan.conflicts),
        lock_changed=lock_state is not None,
        notes=notes,
    )
    _remember(run, plan, report, lock_is_render=lock_state is None)
    return report


def _plan(root: Path, config: Config, files: Mapping[str, bytes], *, force: bool) -> RenderPlan:
    from generator.render.plan import plan_render

    return plan_render(root, config, files, force=force)


def _lock_state(root: Path, plan: RenderPlan) -> str | None:
    """None when the lock on disk is the render's, else ``missing`` or ``stale``."""
    from generator.render.plan import read_bytes

    current_lock = read_bytes(root / LOCK_NAME)
    return None if current_lock == plan.lock_data else "missing" if current_lock is None else "stale"


def _write(run: _Run, plan: RenderPlan, warnings: tuple[str, ...], notes: tuple[str, ...]) -> RenderReport:
    """Write the planned files, remove the orphans, then the lock."""
    from generator.render.files import age_secret_notes

    written = write_files(run.root, plan.writes)
    removed = remove_files(run.root, plan.removes)
    lock_changed = _write_lock(run.root, plan, written, removed)  # the render itself: the next merge's base
    return RenderReport(
        run.root,
        len(run.files),
        tuple(written),
        tuple(removed),
        warnings=warnings,
        merged=tuple(plan.merged),
        forced=tuple(plan.conflicts),
        lock_changed=lock_changed,
        notes=notes + tuple(age_secret_notes(run.config, written)),  # said once: when the Kustomizations are written
    )


def _remember(
    run: _Run, plan: RenderPlan, report: RenderReport, *, lock_is_render: bool, wrote_lock: bool = False
) -> None:
    """Record the render index when the tree now holds exactly the render (no file keeps an edit, nothing
    forced, removed or warned about) and the lock is the render's: the next unchanged run answers from it.
    ``wrote_lock``: this run wrote the lock, after every other file (its mtime settles the older ones)."""
    if not (lock_is_render and _as_rendered(run, plan, report)):
        return
    changed = [*report.written, LOCK_NAME] if report.lock_changed else list(report.written)
    watch = _rewalk(run, changed) if changed else run.watch
    if watch is None:
        return
    watch.linked = watch.linked or run.real.linked
    notes = _watched_notes(run, watch)
    if notes is None:
        return
    outputs = {os.fspath(run.root / path): data for path, data in run.files.items()}
    outputs[os.fspath(run.root / LOCK_NAME)] = plan.lock_data
    outcome = render_index.Outcome(len(run.files), tuple(notes))
    clock = os.fspath(run.root / LOCK_NAME) if wrote_lock else None  # written after every generated file
    render_index.record(
        run.config_file, run.root, stamped=run.stamped, outcome=outcome, outputs=outputs, watch=watch, clock=clock
    )


def _as_rendered(run: _Run, plan: RenderPlan, report: RenderReport) -> bool:
    """Every generated file now holds the render's bytes, and nothing was forced, removed or warned about."""
    if report.warnings or report.forced or report.removed or report.changes or plan.removes:
        return False
    # a merged file keeps the user's edits (the next run merges again)
    return all(plan.writes.get(path, plan.disk[path]) == data for path, data in run.files.items())


def _rewalk(run: _Run, changed: list[str]) -> render_index.Watch | None:
    """This run wrote (``changed``: relative paths) into the tree its kustomize walk had read: walk again
    each build that looked at a written file or at a folder above one; every other build read what it
    read, so its inputs and the stat of each path it saw are taken over. None when that changes the
    folders .sops.yaml covers (the next run renders again), or when the index is not recorded anyway (a
    symlink on the way, a path that cannot be watched)."""
    from generator.flux.kustomize_refs import RealPaths
    from generator.flux.sops_coverage import shared_folders

    if run.real.linked or run.watch.linked or run.watch.unusable:
        return None
    here = os.getcwd()  # noqa: PTH109 - once: the walk's paths are absolute or relative to it
    touched = _written_and_above(os.path.normpath(os.path.join(here, run.root)), changed)  # noqa: PTH118
    kept = {
        folder: inputs
        for folder, inputs in run.builds.items()
        if touched.isdisjoint(os.path.normpath(os.path.join(here, path)) for path in inputs.seen)  # noqa: PTH118
    }
    watch = render_index.Watch()
    for inputs in kept.values():
        for path in inputs.seen:
            watch.paths.setdefault(path, run.watch.paths[path])  # its stat from before this run wrote
    real = RealPaths(run.root, see=watch.see)
    if shared_folders(run.root, run.config, real, kept) != run.shared:
        return None
    watch.linked = real.linked
    return watch


def _written_and_above(root: str, changed: list[str]) -> set[str]:
    """The written files and every folder above them up to ``root`` (absolute, normalized)."""
    found = {root}
    for relpath in changed:
        path = os.path.normpath(os.path.join(root, relpath))  # noqa: PTH118
        while path not in found and path != os.path.dirname(path):  # noqa: PTH120
            found.add(path)
            path = os.path.dirname(path)  # noqa: PTH120
    return found


def _watched_notes(run: _Run, watch: render_index.Watch) -> list[str] | None:
    """The notes of an unchanged render, with the paths they read watched (None: a gotk-components.yaml
    disagrees with the config, which the run warns about)."""
    from generator.flux.gotk import COMPONENTS_FILE, header_mismatches, missing_components
    from generator.render.files import DECRYPTION_SA_FILE
    from generator.render.workloads import workload_notes

    config, root = run.config, run.root
    for cluster in config.clusters:
        sync = root / config.sync_dir(cluster)
        for path in (
            root / cluster.path,
            sync / COMPONENTS_FILE,
            sync / "kustomization.yaml",
            sync / DECRYPTION_SA_FILE,
        ):
            watch.see(path)  # the notes' files, and where an orphan would show
        for workload in cluster.workloads:
            watch.see(root / workload.path / "kustomization.yaml")
    if header_mismatches(config, root):
        return None
    return missing_components(config, root) + workload_notes(config, root)
