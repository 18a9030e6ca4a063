"""``.sops.yaml``: discovery, creation rules, first match wins (sops-format.md §8)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator.errors import SopsError

SELECTORS = (
    "unencrypted_suffix",
    "encrypted_suffix",
    "unencrypted_regex",
    "encrypted_regex",
    "unencrypted_comment_regex",
    "encrypted_comment_regex",
)
# Flat key fields in the order sops builds the single key group from them.
_FLAT_KEYS = (("age", "age"), ("pgp", "pgp"), ("kms", "kms"), ("gcp_kms", "gcp_kms"), ("hckms", "hckms"),
              ("azure_keyvault", "azure_kv"), ("hc_vault_transit_uri", "hc_vault"))

KeyGroup = list[tuple[str, str]]  # (metadata kind, recipient as sops prints it)


@dataclass(frozen=True)
class CreationRule:
    """One ``creation_rules`` entry, normalised."""

    key_groups: list[KeyGroup] = field(default_factory=list)
    shamir_threshold: int = 0
    selector: tuple[str, str] | None = None  # (metadata key, value); None = default suffix
    mac_only_encrypted: bool = False
    path_regex: str | None = None
    yaml_indent: int = 4
    json_indent: int = -1


@dataclass(frozen=True)
class SopsRules:
    """All creation rules of one ``.sops.yaml``."""

    path: Path
    rules: list[CreationRule]
    yaml_indent: int = 4
    json_indent: int = -1

    def rule_for(self, file_path: Path | str) -> CreationRule | None:
        """First rule whose ``path_regex`` is found in the path (relative to the config dir when the
        file lies below it, absolute otherwise); a rule without ``path_regex`` matches anything."""
        target = rule_path(self.path, file_path)
        for rule in self.rules:
            if rule.path_regex is None or re.search(rule.path_regex, target):
                return rule
        return None


def rule_path(config_path: Path, file_path: Path | str) -> str:
    """The string sops matches ``path_regex`` against."""
    absolute = os.path.abspath(file_path)  # noqa: PTH100 - sops uses Abs, not a symlink-resolving path
    config_dir = os.path.abspath(os.path.dirname(config_path)) + "/"  # noqa: PTH100, PTH120
    return absolute.removeprefix(config_dir)


def find_sops_config(start: Path | None = None) -> Path | None:
    """``SOPS_CONFIG`` if set, else ``.sops.yaml`` in ``start`` (default: CWD) or up to 100 parents."""
    env = os.environ.get("SOPS_CONFIG")
    if env:
        return Path(env)
    return _search_up(start or Path.cwd())


def nearby_config_hint(paths: Sequence[Path], used: Path | None) -> str | None:
    """When a file (or folder) named on the command line lies below a ``.sops.yaml`` other than the one in
    force (``used``, found from the working directory as sops does; None: none found), say which and how
    to use it: ``fleet/.sops.yaml is the .sops.yaml nearest to fleet/a.yaml: run from fleet/ or pass
    --sops-config fleet/.sops.yaml``. Without such a file, a ``.sops.yaml`` a few levels below a named
    folder (or below the working directory, when no path is named) is named the same way. None when
    there is no ``.sops.yaml`` near at all."""
    for path in paths:
        near = _search_up(path if path.is_dir() else path.parent)
        if near is not None and (used is None or not _same(near, used)):
            return _use_it(near, f"is the .sops.yaml nearest to {path}")
    for folder in [p for p in paths if p.is_dir()] or ([] if paths else [Path()]):
        below = _search_down(folder)
        if below is not None and (used is None or not _same(below, used)):
            return _use_it(below, f"is below {display_path(folder)}")
    return None


def _use_it(config: Path, where: str) -> str:
    shown, folder = display_path(config), display_path(config.parent)
    return f"{shown} {where}: run from {folder}/ or pass --sops-config {shown}"


_SKIP_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv"})


def _search_down(root: Path, depth: int = 4) -> Path | None:
    """The shallowest ``.sops.yaml`` at most ``depth`` folders below ``root`` (first in sorted order)."""
    level = [root]
    for _ in range(depth):
        children: list[Path] = []
        for folder in level:
            try:
                entries = sorted(folder.iterdir())
            except OSError:
                continue
            children += [e for e in entries if e.is_dir() and not e.is_symlink() and e.name not in _SKIP_DIRS]
        found = next((c / ".sops.yaml" for c in children if (c / ".sops.yaml").is_file()), None)
        if found is not None:
            return found
        level = children
    return None


def _same(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when possible (as users typed it)."""
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def _search_up(start: Path) -> Path | None:
    here = Path(os.path.abspath(start))  # noqa: PTH100
    for _ in range(100):
        candidate = here / ".sops.yaml"
        if candidate.is_file():
            return candidate
        if here.parent == here:
            break
        here = here.parent
    return None


def load_rules(config_path: Path) -> SopsRules:
    """Parse ``config_path``; one ``SopsError`` listing every problem found."""
    from generator.yamlio import load_rt

    try:
        doc = load_rt(config_path.read_text(encoding="utf-8"))
    except OSError as err:
        raise SopsError(f"{config_path}: cannot read: {err.strerror}") from None
    except Exception as err:  # noqa: BLE001 - ruamel raises many parser error types
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise SopsError(f"{config_path}: invalid YAML: {first}") from None
    if not isinstance(doc, Mapping):
        raise SopsError(f"{config_path}: expected a mapping with creation_rules")
    stores = doc.get("stores") or {}
    yaml_indent = int((stores.get("yaml") or {}).get("indent") or 4)
    json_indent = int((stores.get("json") or {}).get("indent", -1))
    problems: list[str] = []
    rules = []
    for index, raw in enumerate(doc.get("creation_rules") or []):
        where = f"{config_path}: creation_rules[{index}]"
        try:
            rules.append(_parse_rule(raw, where, yaml_indent, json_indent))
        except SopsError as err:
            problems.extend(err.problems)
    if problems:
        raise SopsError(problems)
    return SopsRules(path=config_path, rules=rules, yaml_indent=yaml_indent, json_indent=json_indent)


def _parse_rule(raw: Any, where: str, yaml_indent: int, json_indent: int) -> CreationRule:
    if not isinstance(raw, Mapping):
        raise SopsError(f"{where}: expected a mapping")
    selectors = [(name, str(raw[name])) for name in SELECTORS if raw.get(name)]
    if len(selectors) > 1:
        names = ", ".join(name for name, _ in selectors)
        raise SopsError(f"{where}: more than one of {names} is set; keep exactly one")
    for name, value in selectors:
        if name.endswith("regex"):
            _check_regex(value, f"{where}.{name}")
    path_regex = raw.get("path_regex")
    if path_regex is not None:
        path_regex = str(path_regex)
        _check_regex(path_regex, f"{where}.path_regex")
    groups: list[KeyGroup] = []
    flat: KeyGroup = []
    for field_name, kind in _FLAT_KEYS:
        flat.extend((kind, item) for item in _key_field(raw.get(field_name)))
    if flat:
        groups.append(_dedup(flat))
    for gi, group in enumerate(raw.get("key_groups") or []):
        groups.append(_parse_group(group, f"{where}.key_groups[{gi}]"))
    return CreationRule(
        key_groups=groups,
        shamir_threshold=int(raw.get("shamir_threshold") or 0),
        selector=selectors[0] if selectors else None,
        mac_only_encrypted=bool(raw.get("mac_only_encrypted")),
        path_regex=path_regex,
        yaml_indent=yaml_indent,
        json_indent=json_indent,
    )


def _key_field(value: Any) -> list[str]:
    """A comma-separated string or (sops ≥3.11) a list of strings; items trimmed, empties dropped."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    return [item.strip() for item in items if item.strip()]


def _parse_group(group: Any, where: str) -> KeyGroup:
    if not isinstance(group, Mapping):
        raise SopsError(f"{where}: expected a mapping of key types")
    out: KeyGroup = []
    for recipient in group.get("age") or []:
        out.extend(("age", item) for item in _key_field(str(recipient)))
    for other in ("pgp", "kms", "gcp_kms", "hckms", "hc_vault"):
        out.extend((other, str(item)) for item in group.get(other) or [])
    for key in group.get("azure_keyvault") or []:
        if not isinstance(key, Mapping) or not key.get("vaultUrl") or not key.get("key"):
            raise SopsError(f"{where}.azure_keyvault: each entry needs vaultUrl and key (and version)")
        url = f"{str(key['vaultUrl']).rstrip('/')}/keys/{key['key']}"
        out.append(("azure_kv", f"{url}/{key['version']}" if key.get("version") else url))
    return _dedup(out)


def _dedup(group: KeyGroup) -> KeyGroup:
    seen: set[tuple[str, str]] = set()
    return [k for k in group if not (k in seen or seen.add(k))]  # type: ignore[func-returns-value]


def _check_regex(pattern: str, where: str) -> None:
    try:
        re.compile(pattern)
    except re.error as err:
        raise SopsError(f"{where}: invalid regular expression {pattern!r}: {err}") from None
    if re.search(r"\(\?[=!<]|\\[1-9]", pattern):
        raise SopsError(f"{where}: {pattern!r} uses lookaround or backreferences, which sops (Go RE2) rejects")
