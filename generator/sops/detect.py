"""Is a file sops-encrypted? sops's own rule, and the one function every fluxforge command uses.

A file is encrypted when its store holds a top-level ``sops`` entry (YAML: in the first document;
JSON and the binary envelope: a top-level key; dotenv: ``sops_…`` keys; INI: a ``[sops]``
section) that sops 3.11 loads as metadata — it decodes into sops's metadata struct, ``lastmodified``
and every ``created_at`` are RFC 3339 times, at least one master key, at most one selector, a
semver ``version`` — and whose MAC is not empty (sops refuses an empty one: "MAC mismatch. File has
no MAC"). Marker bytes such as ``"mac": "ENC[`` nested anywhere, or in a later YAML document, do
not make a file encrypted. ``encrypt``, the keyless ``check``, the hook and ``lint`` all ask
``sops_state``/``is_encrypted``; no key is needed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from generator.sops.keys.kinds import KINDS
from generator.sops.metadata import version_problem
from generator.sops.record import record
from generator.sops.rules import SELECTORS

if TYPE_CHECKING:
    from generator.sops.stores.yaml_fast import SecretFile

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
_YAML_DIRECTIVE = re.compile(r"(?:\ufeff)?(?:(?:#[^\n]*)?\s*\n)*%YAML[ \t]+(\d+\.\d+)")
# Key lists of the metadata and the fields sops parses as times (age has none).
_KEY_LISTS = {kind.name: kind.time_fields for kind in KINDS}
_STRING_FIELDS = ("lastmodified", "mac", "version", *SELECTORS)


@record(frozen=True)
class SopsState:
    """What the store finds at the metadata place of a file.

    ``present``: there is a top-level ``sops`` entry at all (sops then refuses to encrypt the file).
    ``problems``: why that entry is not sops metadata with a MAC (one line each, no values quoted).
    ``raw``: the entry as plain data (None when absent).
    """

    present: bool = False
    problems: tuple[str, ...] = ()
    raw: Any = None

    @property
    def encrypted(self) -> bool:
        return self.present and not self.problems


class _Raw(str):
    """A YAML scalar as go-yaml hands it to a string field: its text; ``plain`` when unquoted."""

    plain: bool = True


def sops_state(data: bytes, fmt: str) -> SopsState:
    """The sops metadata state of ``data`` read with the store ``fmt`` (yaml, json, dotenv, ini,
    binary). Text that does not parse in its format has no metadata (the store reports the syntax
    error when the file is encrypted or decrypted)."""
    return _state(_read(data, fmt), fmt)


def shaped_state(found: SecretFile) -> SopsState:
    """``sops_state`` of the YAML text ``secret_shaped`` gave ``found`` for, when it read the ``sops:`` block
    too (``found.meta``): that reading is the one ``sops_state`` decides from, so a reader that has it (the
    keyless check's parse) does not read the text again."""
    if found.meta is None:
        raise ValueError("the sops: block was not read by the line readers; ask sops_state")
    return _state(found.meta.meta, "yaml")


def _state(raw: Any, fmt: str) -> SopsState:
    if raw is _ABSENT:
        return SopsState()
    return SopsState(True, tuple(metadata_problems(raw, strict_types=fmt in ("json", "binary"))), raw)


def is_encrypted(data: bytes, fmt: str) -> bool:
    """True when ``data`` is a sops-encrypted file for the store ``fmt`` (see the module doc)."""
    return sops_state(data, fmt).encrypted


_ABSENT = object()


def _read(data: bytes, fmt: str) -> Any:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return _ABSENT
    if fmt == "yaml":
        return _yaml_metadata(text)
    if fmt in ("json", "binary"):
        return _json_metadata(text)
    if fmt == "dotenv":
        return _dotenv_metadata(text)
    if fmt == "ini":
        return _ini_metadata(text)
    raise ValueError(f"unknown sops format {fmt!r}")


def _yaml_metadata(text: str) -> Any:
    """The first document's top-level ``sops`` value (sops reads metadata with ``yaml.Unmarshal``,
    which decodes the first document only)."""
    if _cannot_hold_sops(text) or _other_yaml_version(text):
        return _ABSENT  # a plaintext file (nothing composed), or one sops cannot load
    from generator.yamlio import compose_first, remembered  # ruamel: loaded only when a text may be composed

    found = None if remembered(text) else secret_shaped(text)  # remembered: the check composed the whole text
    if found is not None and found.meta is not None:
        return found.meta.meta  # the block as sops writes it: read as the store reads it (once)
    try:
        root = compose_first(text if found is None else text[len(found.head) :])
    except Exception:  # noqa: BLE001 - ruamel raises many error classes: not parseable, no metadata
        return _ABSENT
    if root is None or root.id != "mapping":
        return _ABSENT
    return _sops_entry(root)


def _other_yaml_version(text: str) -> bool:
    """A ``%YAML`` directive other than 1.1: go-yaml refuses the stream, so sops cannot load the file."""
    directive = _YAML_DIRECTIVE.match(text)
    return directive is not None and directive.group(1) != "1.1"


def _cannot_hold_sops(text: str) -> bool:
    """No YAML key in ``text`` can read ``sops``: the word is not there, and no backslash could spell it
    (only a double-quoted scalar's escapes, ``"\\x73ops"`` or ``"so\\<line break>ps"``, make a key out of
    other characters; plain and single-quoted scalars fold line breaks into spaces)."""
    return "sops" not in text and "\\" not in text


# not among YAML's printable characters (what the YAML reader accepts in a stream, besides tab and line
# breaks): [^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff] written as the characters it
# holds, which compiles ten times faster (tests/sops/test_sops_charsets.py checks every code point)
_NOT_PRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")


def secret_shaped(text: str) -> SecretFile | None:
    """``text`` as ``yaml_fast.read_encrypted`` reads it (kept for the store and the next look) when its
    data lines are Secret-shaped (one block mapping at column 0 of plain strings, no ``sops`` or merge
    key, no comment, anchor, alias, tag or document marker) and printable. Those lines cannot change what
    the first document's ``sops`` entry is, or whether the document parses: the verdict is the block's
    alone, read by ``yaml_fast.read_metadata`` when sops wrote it so (its reading is the one go-yaml
    gives), else composed alone (from the last top-level ``sops:`` line to the end). None: compose the
    whole text."""
    from generator.sops.stores.yaml_fast import read_encrypted

    found = read_encrypted(text, keep=True)
    return found if found is not None and not _NOT_PRINTABLE.search(found.head) else None


def _sops_entry(root: Any) -> Any:
    """The top-level mapping node's ``sops`` value, plain (marked when it is there twice, or when a ``<<``
    key beside it cannot be merged)."""
    found = [value for key, value in root.value if key.id == "scalar" and key.value == "sops"]
    if not found:
        return _ABSENT
    if len(found) > 1:
        return {"\0duplicate": True}
    raw = _yaml_plain(found[0], 0)
    if isinstance(raw, dict) and any(
        str(key.tag).endswith(":merge") and not _mergeable(value) for key, value in root.value
    ):
        raw["\0merge"] = True
    return raw


def _mergeable(node: Any) -> bool:
    """go-yaml merges a top-level ``<<`` when it loads sops metadata: only a mapping or a list of them."""
    return node.id == "mapping" or (node.id == "sequence" and all(item.id == "mapping" for item in node.value))


def _yaml_plain(node: Any, depth: int) -> Any:
    if depth > 20:
        return None
    if node.id == "mapping":
        out: dict[str, Any] = {}
        for key, value in node.value:
            name = str(key.value) if key.id == "scalar" else "\0complex"
            out["\0duplicate" if name in out else name] = _yaml_plain(value, depth + 1)
        return out
    if node.id == "sequence":
        return [_yaml_plain(item, depth + 1) for item in node.value]
    plain = not node.style
    if plain and node.value in ("", "~", "null", "Null", "NULL"):
        return None
    raw = _Raw(node.value)
    raw.plain = plain
    return raw


def _json_metadata(text: str) -> Any:
    """Go's ``encoding/json`` into ``SopsFile``: the last ``sops`` key wins, names match
    case-insensitively when no exact match exists."""
    import json  # here: a YAML file's verdict does not load it

    try:
        value = json.loads(text, object_pairs_hook=_go_object)
    except (json.JSONDecodeError, RecursionError):
        return _ABSENT
    if not isinstance(value, dict):
        return _ABSENT
    key = _go_field(value, "sops")
    return _ABSENT if key is None or value[key] is None else value[key]


def _go_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    return dict(pairs)  # later duplicates replace earlier ones, as in Go


def _go_field(obj: Mapping[str, Any], name: str) -> str | None:
    if name in obj:
        return name
    return next((k for k in obj if k.lower() == name), None)


def _dotenv_metadata(text: str) -> Any:
    flat: dict[str, str] = {}
    for line in text.split("\n"):
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if sep and key.startswith("sops_"):
            flat[key[len("sops_") :]] = value
    return metadata_from_flat(flat) if flat else _ABSENT


def _ini_metadata(text: str) -> Any:
    from generator.sops.stores.ini import IniSyntaxError, parse_ini

    try:
        sections = parse_ini(text)
    except IniSyntaxError:
        return _ABSENT
    first = next((s for s in sections if s.name == "sops"), None)  # ini.v1 GetSection: the first one
    if first is None:
        return _ABSENT
    return metadata_from_flat({key.name: key.value for key in first.keys})


def metadata_from_flat(flat: dict[str, str]) -> Any:
    """sops's DecodeNewLines, DecodeNonStrings and UnflattenMetadata (the last through JSON)."""
    from generator.sops.stores.flat import unflatten

    values: dict[str, Any] = {k: v.replace("\\n", "\n") for k, v in flat.items()}
    if "mac_only_encrypted" in values:
        values["mac_only_encrypted"] = values["mac_only_encrypted"] == "true"
    if "shamir_threshold" in values:
        values["shamir_threshold"] = _flat_int(values["shamir_threshold"])
    return unflatten(values)


def looks_like_metadata(node: Any) -> bool:
    """A top-level ``sops`` mapping looks like (maybe damaged) sops metadata when it has a field only
    sops writes (``mac``, ``lastmodified``, ``version``) or a key entry with ``enc``. A fluxforge
    config's own ``sops:`` block (recipients as plain strings) does not. Only for diagnostics: whether
    a file *is* encrypted is ``is_encrypted``."""
    if not isinstance(node, Mapping):
        return False
    if any(field in node for field in ("mac", "lastmodified", "version")):
        return True
    return any(_looks_like_key_entry(e) for v in node.values() if isinstance(v, list) for e in v)


def _looks_like_key_entry(entry: Any) -> bool:
    """A key entry sops writes (with ``enc``), or a key group (lists of entries)."""
    return isinstance(entry, Mapping) and ("enc" in entry or any(isinstance(x, list) for x in entry.values()))


def _flat_int(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            return text  # reported: not an integer
        return int(number) if number.is_integer() else text


def metadata_problems(raw: Any, *, strict_types: bool = True) -> list[str]:
    """Why ``raw`` is not sops metadata with a MAC, as sops 3.11 loads it (empty: it is).

    ``strict_types``: JSON-decoded data (strings must be strings); YAML scalars of any type decode
    into string fields as their text, as go-yaml does.
    """
    if not isinstance(raw, Mapping):
        return ["the top-level 'sops' entry is not a mapping, so it is not sops metadata"]
    problems: list[str] = []
    if "\0duplicate" in raw:
        problems.append("sops: a key appears twice")
    if "\0merge" in raw:
        problems.append(
            "a top-level '<<' (YAML merge) key has a value that is not a mapping: sops cannot load "
            "the metadata of this file"
        )
    fields = {name: raw.get(name) for name in raw if isinstance(name, str)}
    problems.extend(
        f"sops.{name} is not a string" for name in _STRING_FIELDS if not _is_string(fields.get(name), strict_types)
    )
    problems.extend(_scalar_fields(fields, strict_types))
    problems.extend(_required_fields(fields))
    problems.extend(_key_problems(fields, strict_types))
    return problems


def _required_fields(fields: Mapping[str, Any]) -> list[str]:
    """lastmodified, mac and version as sops needs them; at most one selector."""
    out = []
    if not _is_time(fields.get("lastmodified")):
        out.append("sops.lastmodified is missing or not an RFC 3339 time")
    if not fields.get("mac"):
        out.append("sops.mac is missing or empty (sops refuses a file without a MAC)")
    if version_problem(fields.get("version")):  # strict semver, as sops parses it
        out.append("sops.version is missing or not X.Y.Z (sops refuses to load such a file)")
    if sum(1 for name in SELECTORS if fields.get(name)) > 1:
        out.append("sops sets more than one of " + ", ".join(SELECTORS))
    return out


def _is_string(value: Any, strict: bool) -> bool:
    return value is None or isinstance(value, str) or (not strict and not isinstance(value, (dict, list)))


def _scalar_fields(fields: Mapping[str, Any], strict: bool) -> list[str]:
    out = []
    threshold = fields.get("shamir_threshold")
    if threshold is not None and _as_int(threshold, strict) is None:
        out.append("sops.shamir_threshold is not an integer")
    flag = fields.get("mac_only_encrypted")
    if flag is not None and not isinstance(_resolved(flag), bool):
        out.append("sops.mac_only_encrypted is not true or false")
    return out


def _resolved(value: Any) -> Any:
    if isinstance(value, _Raw):
        if not value.plain:
            return str(value)
        from generator.sops.stores.yaml_scalars import Unsupported, resolve_plain

        try:
            return resolve_plain(str(value))
        except Unsupported:
            return str(value)
    return value


def _as_int(value: Any, strict: bool) -> int | None:
    """go-yaml fills an int field from an int or a float scalar; Go's JSON only from an integer."""
    value = _resolved(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return int(value) if isinstance(value, float) and not strict and abs(value) < 2**63 else None


def _is_time(value: Any) -> bool:
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value.upper())
    except ValueError:
        return False
    return True


def _key_problems(fields: Mapping[str, Any], strict: bool) -> list[str]:
    flat = {kind: fields.get(kind) for kind in _KEY_LISTS}
    if any(flat.values()):
        return _group_problems(flat, "sops", strict)
    groups = fields.get("key_groups")
    if not groups:
        return ["sops names no master key (no age, azure_kv, pgp, … entry): nobody can decrypt the file"]
    if not isinstance(groups, list):
        return ["sops.key_groups is not a list"]
    out: list[str] = []
    for index, group in enumerate(groups):
        where = f"sops.key_groups[{index}]"
        if not isinstance(group, Mapping):
            out.append(f"{where} is not a mapping")
            continue
        out.extend(_group_problems({kind: group.get(kind) for kind in _KEY_LISTS}, where, strict))
    return out


def _group_problems(group: Mapping[str, Any], where: str, strict: bool) -> list[str]:
    out: list[str] = []
    for kind, entries in group.items():
        if entries is None:
            continue
        if not isinstance(entries, list):
            out.append(f"{where}.{kind} is not a list")
            continue
        for index, entry in enumerate(entries):
            out.extend(_entry_problems(entry, f"{where}.{kind}[{index}]", kind, strict))
    return out


def _entry_problems(entry: Any, at: str, kind: str, strict: bool) -> list[str]:
    if not isinstance(entry, Mapping):
        return [f"{at} is not a mapping"]
    out = [
        f"{at}.{name} is not a string"
        for name, value in entry.items()
        if name != "context" and not _is_string(value, strict)
    ]
    return out + [
        f"{at}.{name} is missing or not an RFC 3339 time" for name in _KEY_LISTS[kind] if not _is_time(entry.get(name))
    ]
