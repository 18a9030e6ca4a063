"""``.sops.yaml``: discovery, creation rules, first match wins."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, TypeGuard

from generator.errors import SopsError
from generator.fsio import SKIP_DIRS
from generator.sops.keys.kinds import UNWRAP_ORDER, describe, recipient_list
from generator.sops.record import field, record
from generator.sops.regex import compile_re2

SELECTORS = (
    "unencrypted_suffix",
    "encrypted_suffix",
    "unencrypted_regex",
    "encrypted_regex",
    "unencrypted_comment_regex",
    "encrypted_comment_regex",
)

KeyGroup = list[tuple[str, str]]  # (metadata kind, recipient as sops prints it)


@record(frozen=True)
class CreationRule:
    """One ``creation_rules`` entry, normalised."""

    key_groups: list[KeyGroup] = field(default_factory=list)
    shamir_threshold: int = 0
    selector: tuple[str, str] | None = None  # (metadata key, value); None = default suffix
    mac_only_encrypted: bool = False
    path_regex: str | None = None
    yaml_indent: int = 4
    json_indent: int = -1
    binary_indent: int = -1  # stores.json_binary.indent: the binary store's JSON envelope


@record(frozen=True)
class SopsRules:
    """All creation rules of one ``.sops.yaml``."""

    path: Path
    rules: list[CreationRule]
    yaml_indent: int = 4
    json_indent: int = -1
    binary_indent: int = -1

    def rule_for(self, file_path: Path | str) -> CreationRule | None:
        """First rule whose ``path_regex`` is found in the path (relative to the config dir when the
        file lies below it, absolute otherwise); a rule without ``path_regex`` matches anything."""
        index = self.rule_index(file_path)
        return self.rules[index] if index is not None else None

    def rule_index(self, file_path: Path | str) -> int | None:
        """The index in ``rules`` of ``rule_for``'s rule (None: no rule matches)."""
        config_dir = self._config_dir if self.path.is_absolute() else _config_dir(self.path)  # cwd may move
        target = _below(config_dir, file_path)
        for index, rule in enumerate(self.rules):
            if rule.path_regex is None or compile_re2(rule.path_regex, "path_regex").search(target):
                return index
        return None

    @cached_property
    def _config_dir(self) -> str:
        """The folder of an absolute config, as ``rule_path`` cuts it off (taken once: a check asks for
        every file)."""
        return _config_dir(self.path)


def rule_path(config_path: Path, file_path: Path | str) -> str:
    """The string sops matches ``path_regex`` against."""
    return _below(_config_dir(config_path), file_path)


def _below(config_dir: str, file_path: Path | str) -> str:
    absolute = os.path.abspath(file_path)  # noqa: PTH100 - sops uses Abs, not a symlink-resolving path
    return absolute.removeprefix(config_dir)


def _config_dir(config_path: Path) -> str:
    return os.path.abspath(os.path.dirname(config_path)) + "/"  # noqa: PTH100, PTH120


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
        if _other(near, used):
            return _use_it(near, f"is the .sops.yaml nearest to {path}")
    for folder in [p for p in paths if p.is_dir()] or ([] if paths else [Path()]):
        below = _search_down(folder)
        if _other(below, used):
            return _use_it(below, f"is below {display_path(folder)}")
    return None


def _other(found: Path | None, used: Path | None) -> TypeGuard[Path]:
    """A ``.sops.yaml`` was found and it is not the one in force."""
    return found is not None and (used is None or not _same(found, used))


def _use_it(config: Path, where: str) -> str:
    shown, folder = display_path(config), display_path(config.parent)
    return f"{shown} {where}: run from {folder}/ or pass --sops-config {shown}"


def _enterable(entry: Path) -> bool:
    return entry.is_dir() and not entry.is_symlink() and entry.name not in SKIP_DIRS


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
            children += [e for e in entries if _enterable(e)]
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
    """Parse ``config_path``; one ``SopsError`` listing every problem found.

    The usual file (block mappings and lists of one-line values) is read by ``rules_yaml``, without
    loading a YAML library; any other file, and any file with a problem, by the round-trip reader as
    always, so that every error line is the one it gives."""
    from generator.sops import rules_yaml

    text = _read_text(config_path)
    doc = rules_yaml.read(text)
    if doc is not None:
        try:
            return _rules(config_path, doc)
        except SopsError:
            pass  # reported from the round-trip reader's document below, word for word as before
    return _rules(config_path, _document(config_path, text))


def _rules(config_path: Path, doc: Mapping[str, Any]) -> SopsRules:
    problems: list[str] = []
    yaml_indent = _indent(doc, "yaml", 4, 0, f"{config_path}: stores.yaml.indent", problems)
    json_indent = _indent(doc, "json", -1, -1, f"{config_path}: stores.json.indent", problems)
    binary_indent = _indent(doc, "json_binary", -1, -1, f"{config_path}: stores.json_binary.indent", problems)
    raw_rules = doc.get("creation_rules") or []
    if not isinstance(raw_rules, list):
        raise SopsError(f"{config_path}: creation_rules: expected a list of rules, found {describe(raw_rules)}")
    rules = []
    for index, raw in enumerate(raw_rules):
        where = f"{config_path}: creation_rules[{index}]"
        try:
            rules.append(_parse_rule(raw, where, yaml_indent, json_indent, binary_indent))
        except SopsError as err:
            problems.extend(err.problems)
    if problems:
        raise SopsError(problems)
    return SopsRules(
        path=config_path, rules=rules, yaml_indent=yaml_indent, json_indent=json_indent, binary_indent=binary_indent
    )


def _read_text(config_path: Path) -> str:
    """The ``.sops.yaml`` text; ``SopsError`` naming the file when it cannot be read or is not UTF-8 (and
    ``SOPS_CONFIG`` when that named it)."""
    from generator.fsio import read_input

    try:
        return read_input(config_path, what=".sops.yaml").decode("utf-8")
    except UnicodeDecodeError as err:
        raise SopsError(f"{config_path}: not UTF-8 text (byte {err.start})") from None
    except OSError as err:
        named = " (named by SOPS_CONFIG)" if os.environ.get("SOPS_CONFIG") == str(config_path) else ""
        raise SopsError(f"{config_path}{named}: cannot read it: {err.strerror or err}") from None


def _document(config_path: Path, text: str) -> Mapping[str, Any]:
    """The ``.sops.yaml`` read by the round-trip reader, as a mapping; ``SopsError`` naming the file when
    it is not YAML."""
    from generator.yamlio import YamlError, load_rt

    try:
        doc = load_rt(text)
    except YamlError as err:
        if err.refused:
            raise SopsError(f"{config_path}: invalid YAML: {err.reason}") from None
        first = str(err.cause).splitlines()[0] if str(err.cause) else type(err.cause).__name__
        raise SopsError(f"{config_path}: invalid YAML: {first}") from None
    if not isinstance(doc, Mapping):
        raise SopsError(f"{config_path}: expected a mapping with creation_rules")
    return doc


def _indent(doc: Mapping[str, Any], store: str, default: int, lowest: int, where: str, problems: list[str]) -> int:
    stores = doc.get("stores")
    section = stores.get(store) if isinstance(stores, Mapping) else None
    value = section.get("indent") if isinstance(section, Mapping) else None
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not lowest <= value <= 16:
        problems.append(f"{where}: must be a whole number from {lowest} to 16, found {value!r}")
        return default
    return value or default if store == "yaml" else value


def _parse_rule(raw: Any, where: str, yaml_indent: int, json_indent: int, binary_indent: int) -> CreationRule:
    if not isinstance(raw, Mapping):
        raise SopsError(f"{where}: expected a mapping")
    selector = _selector(raw, where)
    path_regex = raw.get("path_regex")
    if path_regex is not None:
        path_regex = _text(path_regex, f"{where}.path_regex")
        compile_re2(path_regex, f"{where}.path_regex")
    groups = _key_groups(raw, where)
    return CreationRule(
        key_groups=groups,
        shamir_threshold=_threshold(raw.get("shamir_threshold"), len(groups), f"{where}.shamir_threshold"),
        selector=selector,
        mac_only_encrypted=bool(raw.get("mac_only_encrypted")),
        path_regex=path_regex,
        yaml_indent=yaml_indent,
        json_indent=json_indent,
        binary_indent=binary_indent,
    )


def _selector(raw: Mapping[str, Any], where: str) -> tuple[str, str] | None:
    """The rule's one selector (its regex compiled as RE2), or None for sops's default."""
    selectors = [(name, _text(raw[name], f"{where}.{name}")) for name in SELECTORS if raw.get(name)]
    if len(selectors) > 1:
        names = ", ".join(name for name, _ in selectors)
        raise SopsError(f"{where}: more than one of {names} is set; keep exactly one")
    for name, value in selectors:
        if name.endswith("regex"):
            compile_re2(value, f"{where}.{name}")
    return selectors[0] if selectors else None


def _key_groups(raw: Mapping[str, Any], where: str) -> list[KeyGroup]:
    """The flat key fields as one group (in the order sops builds it), then every ``key_groups`` entry."""
    groups: list[KeyGroup] = []
    flat: KeyGroup = []
    for kind in UNWRAP_ORDER:
        field = kind.rule_field
        flat.extend((kind.name, item) for item in recipient_list(raw.get(field), f"{where}.{field}"))
    if flat:
        groups.append(_dedup(flat))
    raw_groups = raw.get("key_groups") or []
    if not isinstance(raw_groups, list):
        raise SopsError(f"{where}.key_groups: expected a list of key groups, found {describe(raw_groups)}")
    groups.extend(_parse_group(group, f"{where}.key_groups[{gi}]") for gi, group in enumerate(raw_groups))
    return groups


def _text(value: Any, where: str) -> str:
    """A scalar setting as text (sops reads these into Go strings); lists and mappings are errors."""
    if isinstance(value, Mapping | list) or value is None:
        raise SopsError(f"{where}: expected one string, found {describe(value)}")
    return str(value)


def _threshold(value: Any, groups: int, where: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SopsError(f"{where}: must be a whole number of key groups, found {value!r}")
    if groups > 1 and value > groups:
        raise SopsError(
            f"{where}: {value} is more than the {groups} key groups of this rule; nobody could "
            "ever decrypt the file (use at most the number of groups)"
        )
    return value


def _parse_group(group: Any, where: str) -> KeyGroup:
    if not isinstance(group, Mapping):
        raise SopsError(f"{where}: expected a mapping of key types (age, azure_keyvault, ...), found {describe(group)}")
    out: KeyGroup = []
    for kind in UNWRAP_ORDER:
        entries = group.get(kind.group_field) or []
        for i, entry in enumerate(entries if isinstance(entries, list) else [entries]):
            out.extend((kind.name, item) for item in kind.group_entry(entry, f"{where}.{kind.group_field}[{i}]"))
    return _dedup(out)


def _dedup(group: KeyGroup) -> KeyGroup:
    seen: set[tuple[str, str]] = set()
    return [k for k in group if not (k in seen or seen.add(k))]  # type: ignore[func-returns-value]
