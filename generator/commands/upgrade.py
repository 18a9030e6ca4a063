"""``fluxforge upgrade``: move the config to a new Flux version, re-render, and merge the new render
into the files on disk three ways, so the user's edits survive.

base   = what fluxforge generated last (``fluxforge.lock``; without one, the render of the config as
         it is before the upgrade),
ours   = the file on disk, theirs = the render for the target version.

Nothing is written when any file has a conflict (unless ``force``: the upgrade's side wins, each
conflict is still reported) or with ``dry_run``. A second upgrade to the same version writes nothing.

What the cluster needs is said too (:mod:`generator.flux.migrate`): crossing 2.7, 2.8 or 2.9 needs ``flux
migrate`` on the cluster before the new CRDs arrive, and a jump that one ``flux migrate`` cannot prepare
is refused (``UpgradeRefused``, nothing written) unless ``allow_skip``. A changed kustomize-controller
client ID needs a controller restart (:func:`generator.flux.identity_notes.restart_notes`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode

from generator.commands.render import unified_diff
from generator.config.load import config_data, config_from_data, config_path_for, read_config_text
from generator.config.model import Config
from generator.errors import ConfigError, FluxforgeError, UsageError, WriteError
from generator.flux.gotk import COMPONENTS_FILE, read_header
from generator.flux.identity_notes import restart_notes
from generator.flux.lint import lint_tree, target_version
from generator.flux.migrate import MIGRATE_CLI, Blocker, blockers, crossed_removals, furthest_step
from generator.flux.sops_coverage import shared_folders
from generator.flux.versions import DEFAULT_COMPONENTS, FluxVersion
from generator.fsio import write_atomic, write_error
from generator.merge.lock import LOCK_NAME, Lock, read_lock, write_lock
from generator.merge.plan import MergePlan, plan_merge, read_text, stale_paths
from generator.render.files import render_tree
from generator.yamlio import YamlError, compose_all, parse_events

__all__ = [
    "MergePlan",
    "UpgradeConflict",
    "UpgradeRefused",
    "UpgradeReport",
    "plan_merge",
    "run_upgrade",
    "set_flux_version",
]


class UpgradeConflict(FluxforgeError):
    """Files changed by the user and by the upgrade in the same place; nothing was written."""


class UpgradeRefused(FluxforgeError):
    """The jump is more than one ``flux migrate`` can prepare a cluster for; nothing was written."""


@dataclass(frozen=True)
class UpgradeReport:
    root: Path
    target: FluxVersion
    current: Mapping[str, str]  # cluster -> "2.5.1 (gotk-components.yaml)" or "2.5.1 (config)"
    changed: tuple[str, ...]  # files written (or that would be, with dry_run), config and lock included
    removed: tuple[str, ...] = ()  # generated files deleted (a cluster left the config)
    diffs: tuple[str, ...] = ()
    forced: tuple[str, ...] = ()  # conflicts resolved for the upgrade's side (--force)
    notes: tuple[str, ...] = ()
    dry_run: bool = False


def set_flux_version(text: str, version: FluxVersion, display: str = "fluxforge.yaml") -> str:
    """Return config ``text`` with ``flux.version`` set, touching only that value (comments,
    quoting and layout of every other byte are kept)."""
    root = _first(compose_all(text))
    flux = _child(root, "flux")
    lines = text.splitlines(keepends=True)
    node = _child(flux, "version")
    if _editable(node, lines):
        _replace_scalar(lines, node, str(version))
    elif node is None and _block_mapping(flux) and flux.value:
        first = flux.value[0][0].start_mark
        lines.insert(first.line, f'{" " * first.column}version: "{version}"\n')
    elif flux is None and _block_mapping(root):
        lines.append(("" if not lines or lines[-1].endswith("\n") else "\n") + f'flux:\n  version: "{version}"\n')
    else:
        raise ConfigError(f'{display}: flux.version: cannot edit it in place; set it to "{version}" by hand')
    return "".join(lines)


def _editable(node: Node | None, lines: list[str]) -> TypeGuard[ScalarNode]:
    """A one-line scalar without an anchor or tag before it (its node starts there: replacing the scalar would
    drop it, and an alias elsewhere may repeat the value)."""
    if not isinstance(node, ScalarNode) or node.start_mark.line != node.end_mark.line:
        return False
    return lines[node.start_mark.line][node.start_mark.column] not in "&!"


def _first(docs: list[Node]) -> Node | None:
    return docs[0] if docs else None


def _replace_scalar(lines: list[str], node: ScalarNode, value: str) -> None:
    """Put ``value`` where a one-line scalar stands, in the scalar's own quotes."""
    _replace_at(lines, (node.start_mark.line, node.start_mark.column, node.end_mark.column), value)


def _replace_at(lines: list[str], site: tuple[int, int, int], value: str) -> None:
    """Put ``value`` where a one-line scalar stands (``site``: its line, first and end column), in its quotes."""
    row, col, end = site
    quote = lines[row][col] if lines[row][col] in "\"'" else ""
    lines[row] = f"{lines[row][:col]}{quote}{value}{quote}{lines[row][end:]}"


def with_flux_version(
    text: str, data: dict[str, Any], version: FluxVersion, display: str = "fluxforge.yaml"
) -> tuple[str, dict[str, Any]]:
    """``set_flux_version`` of config ``text``, and the plain data of the result given ``data``, the plain
    data of ``text`` (:func:`~generator.config.load.config_data`; not modified). Where ``flux.version`` is a
    one-line scalar that nothing else can refer to (no anchor on it, on ``flux`` or on the document), the
    parser reads only up to the end of ``flux`` and the data is ``data`` with that value replaced; any other
    text is edited by ``set_flux_version`` and read again."""
    try:
        site = _version_site(text)
    except (YamlError, StopIteration):
        site = None  # set_flux_version reports what is wrong with the text
    if site is None:
        new_text = set_flux_version(text, version, display)
        return new_text, data if new_text == text else config_data(new_text, display)
    lines = text.splitlines(keepends=True)
    _replace_at(lines, site, str(version))
    return "".join(lines), {**data, "flux": {**data["flux"], "version": str(version)}}


def _version_site(text: str) -> tuple[int, int, int] | None:
    """Where the first document's ``flux.version`` stands (line, first and end column) when it is a one-line
    scalar under a ``flux`` mapping, and neither it, ``flux``, the document's mapping nor a second ``version``
    key of ``flux`` carries an anchor or tag: read from the parser's events up to the end of ``flux``. None
    for anything else."""
    events = parse_events(text)
    heads = [type(next(events, None)).__name__ for _ in range(2)]
    root = next(events, None)
    if heads != ["StreamStartEvent", "DocumentStartEvent"] or not _plain_event(root, "MappingStartEvent"):
        return None
    flux = _value_of(events, "flux")
    if not _plain_event(flux, "MappingStartEvent"):
        return None
    version = _value_of(events, "version")
    if not _plain_event(version, "ScalarEvent") or version.start_mark.line != version.end_mark.line:
        return None
    if _value_of(events, "version") is not None:
        return None  # a second version key: set_flux_version takes the first
    return version.start_mark.line, version.start_mark.column, version.end_mark.column


def _plain_event(event: Any, kind: str) -> bool:
    """``event`` starts a node of ``kind`` that has neither an anchor (nothing else can repeat it) nor a tag."""
    return type(event).__name__ == kind and event.anchor is None and event.tag is None


def _value_of(events: Iterator[Any], name: str) -> Any:
    """In a mapping whose start was read: the first event of the value of its first key ``name`` (the rest of
    that value unread), the pairs before it read; None, with the whole mapping read, when there is none."""
    while True:
        key = next(events)
        if type(key).__name__ == "MappingEndEvent":
            return None
        _skip(key, events)
        value = next(events)
        if type(key).__name__ == "ScalarEvent" and key.value == name:
            return value
        _skip(value, events)


def _skip(first: Any, events: Iterator[Any]) -> None:
    """Read the rest of the node that ``first`` starts (nothing for a scalar or an alias)."""
    depth = int(type(first).__name__ in _STARTS)
    while depth:
        kind = type(next(events)).__name__
        depth += (kind in _STARTS) - (kind in _ENDS)


_STARTS = frozenset({"MappingStartEvent", "SequenceStartEvent"})
_ENDS = frozenset({"MappingEndEvent", "SequenceEndEvent"})


def _block_mapping(node: Node | None) -> TypeGuard[MappingNode]:
    return isinstance(node, MappingNode) and node.flow_style is False


def _child(node: Node | None, key: str) -> Node | None:
    if not isinstance(node, MappingNode):
        return None
    return next((v for k, v in node.value if isinstance(k, ScalarNode) and k.value == key), None)


def _current_versions(config: Config, root: Path, clusters: list[str]) -> dict[str, tuple[FluxVersion, str]]:
    found: dict[str, tuple[FluxVersion, str]] = {}
    for cluster in config.clusters:
        if cluster.name not in clusters:
            continue
        header = read_header(root / config.sync_dir(cluster) / COMPONENTS_FILE)
        if header is not None and header.version is not None:
            found[cluster.name] = (header.version, COMPONENTS_FILE)
        else:
            found[cluster.name] = (config.flux.version, "config")
    return found


def _select(config: Config, cluster: str | None) -> list[str]:
    names = [c.name for c in config.clusters]
    if cluster is None:
        return names
    if cluster not in names:
        raise UsageError(f"--cluster {cluster}: no such cluster in the config (clusters: {', '.join(names)})")
    return [cluster]


def _in_scope(config: Config, clusters: list[str], path: str) -> bool:
    if len(clusters) == len(config.clusters):
        return True
    return any(path.startswith(config.cluster(name).path + "/") for name in clusters)


def _decode(files: Mapping[str, bytes]) -> dict[str, str]:
    return {path: data.decode("utf-8") for path, data in files.items()}


def _crd(kind: str, api_version: str) -> str:
    plural = kind.lower()[:-1] + "ies" if kind.endswith("y") else kind.lower() + "s"
    return f"{plural}.{api_version.split('/')[0]}"


def _blocker_line(name: str, version: FluxVersion, source: str, target: FluxVersion, found: list[Blocker]) -> str:
    groups: dict[tuple[str, int, int, str], list[str]] = {}
    for b in found:
        groups.setdefault((b.api_version, b.removed_in, b.stored_newer_from, b.newer_api_version), []).append(b.kind)
    reasons = "; ".join(
        f"it stores {', '.join(kinds)} as {api}, which Flux 2.{removed} no longer serves (Flux 2.{newer} and "
        f"later store {newer_api})"
        for (api, removed, newer, newer_api), kinds in groups.items()
    )
    return (
        f"{name}: Flux {version} ({source}) -> {target} is more than one `flux migrate` can prepare: {reasons}; "
        "`flux migrate` moves objects only to the storage version of the Flux the cluster runs"
    )


def _refusal(config: Config, current: dict[str, tuple[FluxVersion, str]], target: FluxVersion) -> UpgradeRefused | None:
    lines: list[str] = []
    steps: list[int] = []
    crds: list[str] = []
    for name, (version, source) in current.items():
        found = blockers(version, target, config.flux.components)
        if found:
            lines.append(_blocker_line(name, version, source, target, found))
            steps.append(furthest_step(version, target, config.flux.components))
            crds += [_crd(b.kind, b.api_version) for b in found]
    if not lines:
        return None
    step = min(steps)
    lines.append(
        f"upgrade in steps: `fluxforge upgrade --to 2.{step}`, let Flux 2.{step} reach the clusters and run `flux "
        f"migrate` against each, then `fluxforge upgrade --to {target}`; nothing was written. Rerun with "
        "--allow-skip only if those CRDs no longer store the old versions (kubectl get crd "
        f"{' '.join(dict.fromkeys(crds))} -o custom-columns=CRD:.metadata.name,STORED:.status.storedVersions)"
    )
    return UpgradeRefused(lines)


def _migrate_notes(current: dict[str, tuple[FluxVersion, str]], target: FluxVersion) -> list[str]:
    notes: list[str] = []
    for name, (version, _) in current.items():
        crossed = crossed_removals(version, target)
        if crossed:
            minors = "/".join(f"2.{minor}" for minor in crossed)
            notes.append(
                f"next: `flux migrate` against cluster {name} while it still runs Flux {version}, before Flux "
                f"{target} reaches it (Flux CLI >= {MIGRATE_CLI}): Flux {minors} drop API versions that its CRDs "
                "may still list in status.storedVersions, even when Git only uses stable APIs, and the new CRDs "
                "then fail to apply"
            )
    return notes


def _notes(
    config: Config, root: Path, target: FluxVersion, current: dict[str, tuple[FluxVersion, str]], *, lint: bool
) -> list[str]:
    """Next steps: ``flux migrate`` on the clusters, regenerate gotk-components.yaml; and, when something
    changed, the lint errors."""
    extras = [c for c in config.flux.components if c not in DEFAULT_COMPONENTS]
    flags = f" --components-extra={','.join(extras)}" if extras else ""
    notes = _migrate_notes(current, target)
    for name, (version, source) in current.items():
        if source != COMPONENTS_FILE or version != target:
            rel = f"{config.sync_dir(config.cluster(name))}/{COMPONENTS_FILE}"
            notes.append(f"next: flux install --export --version={target.tag}{flags} > {rel}")
    return notes + (_lint_notes(root, target) if lint else [])


def _lint_notes(root: Path, target: FluxVersion) -> list[str]:
    """The lint's errors under ``target``, one note each, and how many warnings there are."""
    findings = lint_tree(root, target)
    notes = [f"lint: {f}" for f in findings if f.level == "error"]
    warnings = sum(f.level == "warning" for f in findings)
    if warnings:
        notes.append(f"lint: {warnings} warning(s); see `fluxforge lint --to {target}`")
    return notes


def run_upgrade(
    config_arg: str | Path | None,
    *,
    to: str | None = None,
    cluster: str | None = None,
    dry_run: bool = False,
    force: bool = False,
    allow_skip: bool = False,
) -> UpgradeReport:
    """``fluxforge upgrade``. Raises UpgradeConflict (nothing written) when edits collide, UpgradeRefused
    (nothing written) when a cluster cannot reach ``to`` with one ``flux migrate`` and not ``allow_skip``."""
    config_file = config_path_for(config_arg)
    display = str(config_file)
    old_text = read_config_text(config_file)
    old_data = config_data(old_text, display)
    config = config_from_data(old_data, old_text, display=display, source=config_file)
    root = config_file.parent
    clusters = _select(config, cluster)
    current = _current_versions(config, root, clusters)
    target, refused = _checked_target(config, current, to, allow_skip=allow_skip)
    new_text, new_data = with_flux_version(old_text, old_data, target, display)
    new_config = (
        config if new_text == old_text else config_from_data(new_data, new_text, display=display, source=config_file)
    )
    notes = _skip_notes(refused)
    lock = read_lock(root / LOCK_NAME)
    plan = _plan(config, new_config, (config_file, clusters, lock), notes, force=force)
    writes: dict[Path, str | None] = {root / p: t for p, t in plan.writes.items()}
    writes.update({config_file: new_text} if new_text != old_text else {})
    new_lock = Lock(str(target), plan.bases)
    lock_bytes = None if lock == new_lock else new_lock
    report = _report(root, target, current, writes, lock_bytes, dry_run=dry_run)
    notes += restart_notes(
        new_config,
        {p.relative_to(root).as_posix(): read_text(p) for p in writes},
        {p.relative_to(root).as_posix(): t for p, t in writes.items()},
    )
    if not dry_run:
        _apply(root, writes, lock_bytes)
    notes += _notes(new_config, root, target, current, lint=bool(report.changed or report.removed))
    forced = tuple(plan.conflicts) if force else ()
    return dataclasses.replace(report, forced=forced, notes=tuple(notes))


def _skip_notes(refused: UpgradeRefused | None) -> list[str]:
    """With ``--allow-skip``: what would have refused the upgrade (not the advice line)."""
    return [f"--allow-skip: {line}" for line in refused.problems[:-1]] if refused is not None else []


def _checked_target(
    config: Config, current: dict[str, tuple[FluxVersion, str]], to: str | None, *, allow_skip: bool
) -> tuple[FluxVersion, UpgradeRefused | None]:
    """The version to upgrade to, and why one ``flux migrate`` does not get there (raised unless
    ``allow_skip``). A target older than what runs is a usage error."""
    target = target_version(to)
    newest = max([config.flux.version, *(v for v, _ in current.values())])
    if target < newest:
        raise UsageError(f"--to {target}: older than the installed Flux {newest}; fluxforge upgrade does not downgrade")
    refused = _refusal(config, current, target)
    if refused is not None and not allow_skip:
        raise refused
    return target, refused


def _plan(
    config: Config, new_config: Config, where: tuple[Path, list[str], Lock | None], notes: list[str], *, force: bool
) -> MergePlan:
    """The three-way merge of the selected clusters' files: base = the lock's record (else the render of
    the config before the upgrade, noted), theirs = the new render. Conflicts without ``force`` raise
    ``UpgradeConflict`` (nothing written)."""
    config_file, clusters, lock = where
    root = config_file.parent
    shared = shared_folders(root, config)  # the folders and their readers do not depend on the version
    theirs = _decode(render_tree(new_config, config_name=config_file.name, shared=shared))
    if lock is None:
        bases = _decode(render_tree(config, config_name=config_file.name, shared=shared))
        notes.append(f"no {LOCK_NAME}: the merge base is the render of the config before the upgrade")
    else:
        bases = dict(lock.files)
    scope = sorted(p for p in [*theirs, *stale_paths(bases, theirs)] if _in_scope(config, clusters, p))
    plan = plan_merge(root, bases, theirs, scope, force=force)
    if plan.conflicts and not force:
        advice = (
            f"{len(plan.conflicts)} conflict(s): nothing was written; edit the files named above by hand, "
            "or rerun with --force to take the upgrade's side"
        )
        raise UpgradeConflict([*plan.conflicts, advice])
    return plan


def _report(
    root: Path,
    target: FluxVersion,
    current: dict[str, tuple[FluxVersion, str]],
    writes: Mapping[Path, str | None],
    lock: Lock | None,
    *,
    dry_run: bool,
) -> UpgradeReport:
    """What the upgrade writes (or would write): changed and removed files, their diffs."""
    removed = [p.relative_to(root).as_posix() for p, t in writes.items() if t is None]
    changed = [p.relative_to(root).as_posix() for p, t in writes.items() if t is not None]
    changed += [LOCK_NAME] if lock else []
    diffs = tuple(
        unified_diff(p.relative_to(root).as_posix(), _bytes(read_text(p)), (t or "").encode())
        for p, t in writes.items()
    )
    labels = {name: f"{v} ({src})" for name, (v, src) in current.items()}
    return UpgradeReport(root, target, labels, tuple(changed), tuple(removed), diffs, dry_run=dry_run)


def _bytes(text: str | None) -> bytes | None:
    return text.encode() if text is not None else None


def _apply(root: Path, writes: Mapping[Path, str | None], lock: Lock | None) -> None:
    """Write (or delete) every file, then the lock. A failure names the file and the OS reason, what was
    and was not written (each file is whole: old or new), and that rerunning the upgrade completes it."""
    steps: list[tuple[Path, Callable[[], object]]] = [(path, _step(path, text)) for path, text in writes.items()]
    if lock is not None:
        steps.append((root / LOCK_NAME, lambda: write_lock(root / LOCK_NAME, lock)))
    for index, (path, step) in enumerate(steps):
        try:
            step()
        except OSError as err:
            first = (
                f"{path}: cannot remove: {err.strerror or err}"
                if writes.get(path, "") is None
                else write_error(path, err).problems[0]
            )
            raise WriteError(
                [
                    first,
                    f"written before the failure (each file whole): {_rel(root, [p for p, _ in steps[:index]])}",
                    f"not written: {_rel(root, [p for p, _ in steps[index:]])}",
                    "fix the cause and rerun the same `fluxforge upgrade`: it completes the upgrade",
                ],
                path=path,
                errno=err.errno,
                reason=err.strerror,
            ) from None


def _step(path: Path, text: str | None) -> Callable[[], object]:
    if text is None:
        return lambda: path.unlink(missing_ok=True)
    return lambda: write_atomic(path, text.encode("utf-8"))


def _rel(root: Path, paths: list[Path]) -> str:
    return ", ".join(p.relative_to(root).as_posix() if p.is_relative_to(root) else str(p) for p in paths) or "none"
