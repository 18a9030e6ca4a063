"""``fluxforge rotate-key``: move the repository to a new version of a Key Vault key.

When the SOPS key gets a new version (by hand, or by the vault's rotation policy):

1. resolve the version (``--to-version``, default the key's current one: a Key Vault ``GET``) and refuse one
   Key Vault would refuse (disabled, expired, not yet valid);
2. plan everything before writing anything: ``fluxforge.yaml`` with ``version:`` pinned in every entry of that
   key (comments and layout kept), the re-rendered ``.sops.yaml`` (the render's three-way merge against
   ``fluxforge.lock``; a tree that is otherwise stale is refused: run ``fluxforge render`` first);
3. re-wrap every encrypted file below the repository that is wrapped for another version of the key — one
   transaction per file, the MAC verified, each file written once (``--rotate-data-keys``: a new data key too);
4. only when every file succeeded, write ``fluxforge.yaml``, ``.sops.yaml`` and the lock. A failure leaves them
   unchanged (new files keep being encrypted for the old version, which still works) and names the files still
   wrapped only for an old version; a rerun continues, files already done are skipped.

Then it says, per old version, whether anything in the repository still uses it, and when it can be disabled.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from generator import az_hints
from generator.commands.render import unified_diff, write_files
from generator.config.load import config_path_for, parse_config
from generator.config.model import Config, KeyPath, KeyVaultKey
from generator.config.problems import dotted, line_of
from generator.config.writeback import with_fields
from generator.errors import ConfigError, FluxforgeError, RenderError, UsageError
from generator.flux.sops_coverage import shared_folders
from generator.fsio import read_input, write_atomic, write_error
from generator.merge.lock import LOCK_NAME, write_lock
from generator.render.files import SOPS_CONFIG, render_tree
from generator.render.plan import RenderPlan, plan_render
from generator.sops.api import (
    AzureKeyVaultSource,
    FileKeys,
    KeyOptions,
    KeySource,
    KvVersion,
    Progress,
    file_keys,
    kv_version,
    vault_source,
)
from generator.sops.api import scan_recipients as scan
from generator.yamlio import load_lines

__all__ = ["LATEST", "RotateKeyError", "RotateReport", "parse_kv_url", "run_rotate_key"]

LATEST = "latest"
_VERSION = re.compile(r"^[0-9a-fA-F]{32}$")
_KV_URL = re.compile(r"^(https://[^/]+)/keys/([^/]+)(?:/([^/]*))?/?$")


class RotateKeyError(FluxforgeError):
    """Files could not be re-wrapped (the config and ``.sops.yaml`` are unchanged), or the rotation cannot start."""


@dataclass(frozen=True)
class KeyMove:
    """One Key Vault key of the config and the version it moves to."""

    vault_url: str
    name: str
    target: KvVersion
    requested: str
    before: tuple[str, ...]
    """The versions its config entries named before (``""``: unpinned)."""

    @property
    def key(self) -> tuple[str, str]:
        return self.vault_url.lower(), self.name.lower()

    @property
    def label(self) -> str:
        return self.target.label.rsplit("/", 1)[0]


@dataclass
class RotateReport:
    root: Path
    dry_run: bool
    moves: list[KeyMove]
    config_changes: list[str] = field(default_factory=list)
    """``fluxforge.yaml:LINE: sops.keyVault[0].version: OLD -> NEW``."""
    config_written: bool = False
    sops_diff: str = ""
    sops_written: bool = False
    rewrapped: dict[str, list[str]] = field(default_factory=dict)
    """Repository-relative path -> what changed (or would)."""
    current: list[str] = field(default_factory=list)
    """Files already wrapped for the new version only."""
    still_old: list[str] = field(default_factory=list)
    """``path: wrapped only for kv/key/V1`` (after the run; empty on success)."""
    versions: list[str] = field(default_factory=list)
    """Per old version: still used (by what), or when and how it can be disabled."""


# -- choosing keys and versions ---------------------------------------------------------------------
def parse_kv_url(url: str) -> KvVersion | None:
    """``https://<vault>/keys/<name>[/<version>]`` as a :class:`KvVersion` (None for anything else)."""
    match = _KV_URL.match(url.strip())
    return kv_version(match.group(1), match.group(2), match.group(3)) if match else None


def config_keys(config: Config) -> list[KeyVaultKey]:
    """Every Key Vault key entry of the config (the top-level default, per cluster, and wherever else the
    model holds one), once per place in the file (``where``)."""
    found: dict[KeyPath, KeyVaultKey] = {}

    def walk(node: object) -> None:
        if isinstance(node, KeyVaultKey):
            found.setdefault(node.where, node)
        elif isinstance(node, tuple | list):
            for item in node:
                walk(item)
        elif hasattr(node, "__dataclass_fields__"):
            for name in node.__dataclass_fields__:
                walk(getattr(node, name))

    walk(config)
    return list(found.values())


def _key_of(entry: KeyVaultKey) -> tuple[str, str]:
    return entry.vault_url.lower(), entry.key.lower()


def _matches(entry: KeyVaultKey, wanted: str) -> bool:
    wanted = wanted.strip().rstrip("/")
    url = parse_kv_url(wanted)
    if url is not None:
        return url.key == _key_of(entry)
    vault, _, name = wanted.rpartition("/")
    return name.lower() == entry.key.lower() and (not vault or vault.lower() == entry.vault_name.lower())


def select_keys(config: Config, key: str | None, to_version: str) -> dict[tuple[str, str], list[KeyVaultKey]]:
    """The config's Key Vault keys to rotate (all, or those ``key`` names: ``NAME``, ``VAULT/NAME`` or a key
    URL), each with its entries; ConfigError/UsageError naming what there is to choose from."""
    entries = config_keys(config)
    by_key: dict[tuple[str, str], list[KeyVaultKey]] = {}
    for entry in entries:
        by_key.setdefault(_key_of(entry), []).append(entry)
    labels = sorted({f"{e.vault_name}/{e.key}" for e in entries})
    if not by_key:
        raise ConfigError(
            "fluxforge.yaml names no Key Vault key (sops.keyVault): rotate-key moves Key Vault keys to "
            "a new version; age recipients have no versions (change them in the config, then "
            "fluxforge updatekeys)"
        )
    if key is not None:
        by_key = _named(by_key, key, labels)
    if to_version != LATEST and len(by_key) > 1:
        raise UsageError(
            f"--to-version {to_version} names one version of one key, but {len(by_key)} keys are "
            f"selected ({', '.join(labels)}); choose one with --key"
        )
    return by_key


def _named(
    by_key: dict[tuple[str, str], list[KeyVaultKey]], key: str, labels: list[str]
) -> dict[tuple[str, str], list[KeyVaultKey]]:
    """The keys ``--key`` names; UsageError listing the config's keys when it names none."""
    named = {k: v for k, v in by_key.items() if any(_matches(e, key) for e in v)}
    if not named:
        raise UsageError(f"--key {key}: no such Key Vault key in the config; it has: {', '.join(labels)}")
    return named


def _resolve(entries: list[KeyVaultKey], to_version: str, vault: AzureKeyVaultSource) -> KeyMove:
    first = entries[0]
    url = f"{first.vault_url}/keys/{first.key}" + ("" if to_version == LATEST else f"/{to_version}")
    info = vault.key_info(url)
    if info is None:
        what = "has no such key" if to_version == LATEST else f"has no version {to_version} of key {first.key}"
        raise RotateKeyError(
            f"key {first.vault_name}/{first.key}: vault {first.vault_name} {what}; see its versions: "
            f"{az_hints.keyvault_key_list_versions(first.vault_name, first.key)}"
        )
    why = info.unusable()
    if why is not None:
        which = "its current version" if to_version == LATEST else "version"
        raise RotateKeyError(
            f"key {first.vault_name}/{first.key}: {which} {info.version} {why}; rotate-key moves "
            "only to a version Key Vault accepts (create one: "
            f"{az_hints.keyvault_key_rotate(first.vault_name, first.key)}; or choose one with "
            "--to-version)"
        )
    target = kv_version(first.vault_url, first.key, info.version)
    return KeyMove(first.vault_url, first.key, target, to_version, tuple(e.version or "" for e in entries))


# -- the config and .sops.yaml ----------------------------------------------------------------------------
@dataclass
class _Planned:
    text: str
    config: Config
    changes: list[str]
    render: RenderPlan | None


def _plan_config(
    file: Path, text: str, config: Config, moves: list[KeyMove], entries: dict[tuple[str, str], list[KeyVaultKey]]
) -> _Planned:
    updates: dict[KeyPath, dict[str, str]] = {}
    root = load_lines(text)
    changes = []
    for move in moves:
        for entry in entries[move.key]:
            if entry.version != move.target.version:
                updates[entry.where] = {"version": move.target.version}
                changes.append(
                    f"{file}:{line_of(root, (*entry.where, 'version'))}: {dotted((*entry.where, 'version'))}: "
                    f"{entry.version or '(none: the current version)'} -> {move.target.version}"
                )
    if not updates:
        return _Planned(text, config, [], None)
    new_text = with_fields(text, updates, after="key", display=str(file), command="fluxforge rotate-key")
    new_config = parse_config(new_text, display=str(file), source=file)
    return _Planned(new_text, new_config, changes, None)


def _plan_render(root: Path, file: Path, planned: _Planned) -> RenderPlan:
    """The render of the new config; only ``.sops.yaml`` may change (the key URL is only there)."""
    files = render_tree(planned.config, config_name=file.name, shared=shared_folders(root, planned.config))
    plan = plan_render(root, planned.config, files)
    refused = [
        *plan.conflicts,
        *(f"{p}: differs from the render and fluxforge cannot merge it" for p in [*plan.overwritten, *plan.foreign]),
    ]
    others = sorted(p for p, data in plan.writes.items() if p != SOPS_CONFIG and plan.disk.get(p) != data)
    others += plan.removes
    if others:
        refused.append(
            f"the generated tree is not up to date with {file.name} ({', '.join(others)} would change "
            "too); run `fluxforge render` (and commit) first, so this rotation changes only the key"
        )
    if refused:
        raise RotateKeyError(
            [
                *refused,
                (
                    f"nothing was changed: {file.name}, {SOPS_CONFIG} and every encrypted file "
                    "are as they were (fix the above, or run `fluxforge render` first)"
                ),
            ]
        )
    return plan


# -- files ------------------------------------------------------------------------------------------------
def _replacer(moves: list[KeyMove]) -> Callable[[str, str], str]:
    targets = {m.key: m.target for m in moves}

    def replace(kind: str, recipient: str) -> str:
        if kind != "azure_kv":
            return recipient
        found = parse_kv_url(recipient)
        if found is None or found.key not in targets:
            return recipient
        return targets[found.key].url if found.version != targets[found.key].version else recipient

    return replace


def _needs(file: FileKeys, moves: list[KeyMove]) -> bool:
    return any(k.version != m.target.version for m in moves for k in file.uses(m.key))


def _only_old(file: FileKeys, moves: list[KeyMove]) -> list[str]:
    lines = []
    for move in moves:
        used = file.uses(move.key)
        if used and all(k.version != move.target.version for k in used):
            lines.append(", ".join(k.label for k in used))
    return lines


def _rel(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


# -- old versions -----------------------------------------------------------------------------------------
def _version_notes(
    moves: list[KeyMove], before: list[FileKeys], after: list[FileKeys], config: Config, root: Path, branch: str
) -> list[str]:
    entries = config_keys(config)
    source = config.source.name if config.source else "fluxforge.yaml"
    notes = []
    for move in moves:
        for version in _old_versions(move, before):
            users = [_rel(root, f.path) for f in after if any(k.version == version for k in f.uses(move.key))]
            users += [f"{source}: {dotted(e.where)}" for e in _pinned(entries, move, version)]
            notes.append(_old_version_note(move, version, users, branch))
    return notes


def _old_versions(move: KeyMove, files: list[FileKeys]) -> list[str]:
    """The versions of the key other than the target that files or the config used before the move."""
    old = {k.version for f in files for k in f.uses(move.key)} | {v for v in move.before if v}
    return sorted(old - {move.target.version})


def _pinned(entries: list[KeyVaultKey], move: KeyMove, version: str) -> list[KeyVaultKey]:
    return [e for e in entries if _key_of(e) == move.key and e.version == version]


def _old_version_note(move: KeyMove, version: str, users: list[str], branch: str) -> str:
    """An old version still used by ``users`` (keep it), or when and how to disable it."""
    label = f"version {version} of {move.label}"
    if users:
        return f"{label} is still used by {len(users)} file(s) or config entr(ies): {', '.join(users)}; keep it enabled"
    vault = move.vault_url.removeprefix("https://").split(".", 1)[0]
    return (
        f"{label}: no file and no cluster in this repository uses it any more; once this change is "
        f"committed and pushed to {branch} and every cluster has reconciled it (flux get "
        "kustomizations -A shows the new revision), disable it: "
        + az_hints.keyvault_key_set_attributes(vault, move.name, version, "--enabled false")
    )


# -- the command ------------------------------------------------------------------------------------------
def run_rotate_key(
    config_arg: str | Path | None,
    *,
    key: str | None = None,
    to_version: str | None = None,
    dry_run: bool = False,
    rotate_data_keys: bool = False,
    options: KeyOptions | None = None,
    progress: Progress | None = None,
) -> RotateReport:
    """See the module doc. Raises UsageError (bad arguments), ConfigError, KeyVaultError (the version cannot
    be read), RotateKeyError (nothing could start, or files failed: the config is then unchanged)."""
    options = options or KeyOptions()
    wanted = _wanted_version(to_version)
    file = config_path_for(config_arg)
    root = file.parent
    text = _read_config(file)
    config = parse_config(text, display=str(file), source=file)
    entries = select_keys(config, key, wanted)
    cache: dict[str, KeySource] = {}
    vault = vault_source(options, cache)
    moves = [_resolve(e, wanted, vault) for e in entries.values()]
    planned = _plan_config(file, text, config, moves, entries)
    planned.render = _plan_render(root, file, planned)
    report = _planned_report(root, dry_run, moves, planned)
    before, todo = _files_to_rewrap(root, moves, report)
    done = _rewrap(
        root, file, todo, moves, options=options, rotate_data_keys=rotate_data_keys, progress=progress, dry_run=dry_run
    )
    report.rewrapped = {_rel(root, p): lines for p, lines in done.items()}
    if dry_run:
        return report
    redone = {f.path for f in todo}
    after = [_reread(f) if f.path in redone else f for f in before]
    _write(report, file, root, planned)
    report.still_old = [f"{_rel(root, f.path)}: wrapped only for {line}" for f in after for line in _only_old(f, moves)]
    report.versions = _version_notes(moves, before, after, planned.config, root, config.git.branch)
    return report


def _wanted_version(to_version: str | None) -> str:
    """``--to-version``: a Key Vault key version (32 hexadecimal digits) or ``latest`` (the default)."""
    wanted = LATEST if to_version is None or to_version.lower() == LATEST else to_version
    if wanted != LATEST and not _VERSION.match(wanted):
        raise UsageError(f"--to-version {to_version}: a Key Vault key version is 32 hexadecimal digits (or: latest)")
    return wanted


def _planned_report(root: Path, dry_run: bool, moves: list[KeyMove], planned: _Planned) -> RotateReport:
    """The report before any file is touched: the moves, the config changes and the ``.sops.yaml`` diff."""
    assert planned.render is not None
    report = RotateReport(root, dry_run, moves, config_changes=planned.changes)
    sops_new = planned.render.writes.get(SOPS_CONFIG)
    if sops_new is not None:
        report.sops_diff = unified_diff(SOPS_CONFIG, planned.render.disk.get(SOPS_CONFIG), sops_new)
    return report


def _files_to_rewrap(root: Path, moves: list[KeyMove], report: RotateReport) -> tuple[list[FileKeys], list[FileKeys]]:
    """Every encrypted file below ``root`` and those to re-wrap; records the ones already on the new version.
    Refuses when any encrypted file cannot be read (it could stay wrapped for the old version unnoticed)."""
    before, unreadable = scan([root])
    if unreadable:
        raise RotateKeyError(
            [
                *unreadable,
                (
                    "nothing was changed: every encrypted file must be readable, or one "
                    "could stay wrapped for the old version unnoticed"
                ),
            ]
        )
    todo = [f for f in before if _needs(f, moves)]
    report.current = [_rel(root, f.path) for f in before if not _needs(f, moves) and any(f.uses(m.key) for m in moves)]
    return before, todo


def _rewrap(
    root: Path,
    file: Path,
    todo: list[FileKeys],
    moves: list[KeyMove],
    *,
    options: KeyOptions,
    rotate_data_keys: bool,
    progress: Progress | None,
    dry_run: bool,
) -> dict[Path, list[str]]:
    """Re-wrap ``todo`` for the new versions under the repository's ``.sops.yaml``: path -> what changed."""
    from generator.sops.api import load_rules, retarget_paths

    rules_file = root / SOPS_CONFIG
    rules = load_rules(rules_file) if rules_file.is_file() else None
    try:
        done = retarget_paths(
            [f.path for f in todo],
            replace=_replacer(moves),
            rotate_data_key=rotate_data_keys,
            options=options,
            rules=rules,
            progress=progress,
            dry_run=dry_run,
        )
    except FluxforgeError as err:
        raise _failed(err, root, file, todo, moves) from None
    return dict(done.changes)


def _read_config(file: Path) -> str:
    try:
        return read_input(file, what="the config").decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{file}: not found; create one with `fluxforge init`") from None
    except FluxforgeError as err:
        raise ConfigError(err.problems) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{file}: cannot read: {err}") from None


def _reread(file: FileKeys) -> FileKeys:
    """The file's recipients now (as they were, when it cannot be read again)."""
    try:
        return file_keys(file.path, read_input(file.path)) or file
    except (OSError, FluxforgeError):
        return file


def _failed(
    err: FluxforgeError, root: Path, file: Path, todo: Sequence[FileKeys], moves: list[KeyMove]
) -> RotateKeyError:
    still = [
        f"  {_rel(root, f.path)}: wrapped only for {line}" for f in map(_reread, todo) for line in _only_old(f, moves)
    ]
    versions = ", ".join(f"{m.label} {m.target.version}" for m in moves)
    return RotateKeyError(
        [
            *err.problems,
            f"still wrapped only for an old version ({len(still)} file(s)):",
            *still,
            (
                f"{file.name} and {SOPS_CONFIG} are unchanged (new files are still encrypted for the old version, "
                "which works); "
                f"fix the cause and rerun `fluxforge rotate-key`: files already wrapped for {versions} are skipped"
            ),
        ]
    )


def _write(report: RotateReport, file: Path, root: Path, planned: _Planned) -> None:
    plan = planned.render
    assert plan is not None
    try:
        if planned.changes:
            report.config_written = write_atomic(file, planned.text.encode("utf-8"))
    except OSError as err:
        raise RenderError(
            [
                write_error(file, err).problems[0],
                (
                    f"every file is re-wrapped already; set the version in {file.name} yourself "
                    f"({'; '.join(planned.changes)}), then run `fluxforge render`"
                ),
            ]
        ) from None
    writes = {p: data for p, data in plan.writes.items() if p == SOPS_CONFIG}
    report.sops_written = bool(write_files(root, writes))
    try:
        write_lock(root / LOCK_NAME, plan.lock)
    except OSError as err:
        raise RenderError(
            [
                write_error(root / LOCK_NAME, err).problems[0],
                f"{file.name} and {SOPS_CONFIG} are written; run `fluxforge render` to update {LOCK_NAME}",
            ]
        ) from None
