"""The ``sops`` metadata block: read from any store, written in sops 3.11's key order."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from generator.errors import SopsError
from generator.sops.keys.kinds import BY_NAME, KINDS
from generator.sops.record import field, record
from generator.sops.regex import compile_re2
from generator.sops.rules import SELECTORS
from generator.sops.tree import DEFAULT_SELECTOR
from generator.sops.values import Branch

SOPS_VERSION = "3.11.0"


@record()
class KeyEntry:
    """One wrapped copy of the data key (or of a Shamir part)."""

    kind: str
    fields: dict[str, Any]


@record()
class Metadata:
    groups: list[list[KeyEntry]] = field(default_factory=list)
    shamir_threshold: int = 0
    lastmodified: str = ""
    mac: str = ""
    selector: tuple[str, str] | None = None
    mac_only_encrypted: bool = False
    version: str = SOPS_VERSION

    def effective_selector(self) -> tuple[str, str]:
        return self.selector or DEFAULT_SELECTOR


def now_rfc3339() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _written_by_sops(lastmodified: str) -> bool:
    """``YYYY-MM-DDTHH:MM:SSZ`` (the form sops writes) naming a real date and time of the years 1000-9999:
    the parse below formats it back to itself, so a decrypt need not import ``datetime`` for it."""
    fields = _stamp_fields(lastmodified)
    return fields is not None and _real_time(*fields)


def _stamp_fields(text: str) -> tuple[int, ...] | None:
    """The six numbers of ``YYYY-MM-DDTHH:MM:SSZ`` (ASCII digits only), else None."""
    if len(text) != 20 or text[4::3] != "--T::Z" or not text.isascii():
        return None
    parts = (text[:4], *(text[i : i + 2] for i in range(5, 19, 3)))
    return tuple(map(int, parts)) if all(part.isdigit() for part in parts) else None


def _real_time(year: int, month: int, day: int, hour: int, minute: int, second: int) -> bool:
    leap = month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    in_month = 1 <= month <= 12 and 1 <= day <= _DAYS[month - 1] + leap
    return year >= 1000 and in_month and hour < 24 and minute < 60 and second < 60


def mac_aad(lastmodified: str, name: str) -> str:
    """``LastModified.Format(time.RFC3339)`` of the parsed time (fraction dropped, UTC as ``Z``)."""
    if _written_by_sops(lastmodified):
        return lastmodified
    from datetime import datetime

    try:
        parsed = datetime.fromisoformat(lastmodified.replace("z", "Z").replace("t", "T"))
    except ValueError:
        raise SopsError(f"{name}: sops.lastmodified {lastmodified!r} is not an RFC 3339 time") from None
    if parsed.tzinfo is None:
        raise SopsError(f"{name}: sops.lastmodified {lastmodified!r} has no time zone")
    offset = parsed.utcoffset()
    text = parsed.strftime("%Y-%m-%dT%H:%M:%S")
    if not offset:
        return text + "Z"
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"{text}{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


_SEMVER = re.compile(
    r"v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?"
)


def version_problem(value: Any) -> str | None:
    """Why ``sops.version`` is one sops refuses (it parses it as strict semver, a ``v`` allowed), or None."""
    text = "" if value is None else str(value)
    if not text:
        return "sops metadata 'version' is missing or not X.Y.Z: it is empty (sops refuses such files)"
    if _SEMVER.fullmatch(text) is None:
        return (
            f"sops metadata 'version' is missing or not X.Y.Z: {text[:40]!r} is not a semantic version "
            "(sops refuses such files)"
        )
    return None


def selector_problem(name: str, value: str) -> str | None:
    """Why a regex selector in the metadata cannot be used (RE2, as sops compiles it), or None."""
    if not name.endswith("regex"):
        return None
    try:
        compile_re2(value, f"sops.{name}")
    except SopsError as err:
        return err.problems[0]
    return None


def from_mapping(raw: Any, name: str) -> Metadata:
    """Parse the metadata mapping (plain dicts/lists/str) of an encrypted file."""
    if not isinstance(raw, Mapping):
        raise SopsError(f"{name}: sops: metadata is not a mapping")
    selector = _selector(raw, name)
    problem = version_problem(raw.get("version"))
    if problem:
        raise SopsError(f"{name}: {problem}")
    meta = Metadata(
        shamir_threshold=_int(raw.get("shamir_threshold"), name),
        lastmodified=str(raw.get("lastmodified") or ""),
        mac=str(raw.get("mac") or ""),
        selector=selector,
        mac_only_encrypted=raw.get("mac_only_encrypted") in (True, "true", "True"),
        version=str(raw.get("version") or ""),
    )
    meta.groups = _groups(raw, name)
    return meta


def _selector(raw: Mapping[str, Any], name: str) -> tuple[str, str] | None:
    """The one selector the metadata names (None: sops's default); its regex must compile as RE2."""
    selectors = [(k, str(raw[k])) for k in SELECTORS if raw.get(k)]
    if len(selectors) > 1:
        raise SopsError(f"{name}: sops: more than one of {', '.join(k for k, _ in selectors)} is set")
    for key, value in selectors:
        problem = selector_problem(key, value)
        if problem:
            raise SopsError(f"{name}: {problem}")
    return selectors[0] if selectors else None


def _groups(raw: Mapping[str, Any], name: str) -> list[list[KeyEntry]]:
    """``key_groups`` when present, else the one group of the top-level key lists."""
    if not raw.get("key_groups"):
        return [_group(raw, f"{name}: sops")]
    if not isinstance(raw["key_groups"], list):
        raise SopsError(f"{name}: sops.key_groups: not a list of key groups")
    return [_group(g, f"{name}: sops.key_groups[{i}]") for i, g in enumerate(raw["key_groups"])]


def _int(value: Any, name: str) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        raise SopsError(f"{name}: sops.shamir_threshold {value!r} is not an integer") from None


def _group(raw: Any, where: str) -> list[KeyEntry]:
    if not isinstance(raw, Mapping):
        raise SopsError(f"{where}: not a mapping")
    entries = []
    for kind in KINDS:
        found = raw.get(kind.name) or []
        if not isinstance(found, list):
            raise SopsError(f"{where}.{kind.name}: not a list of key entries")
        for i, entry in enumerate(found):
            if not isinstance(entry, Mapping) or not isinstance(entry.get("enc", ""), str):
                raise SopsError(f"{where}.{kind.name}[{i}]: malformed key entry")
            entries.append(KeyEntry(kind.name, dict(entry)))
    return entries


def to_branch(meta: Metadata) -> Branch:
    """The metadata as sops 3.11 writes it (struct field order, empty fields omitted)."""
    out = Branch()
    if len(meta.groups) > 1:
        out.append(("shamir_threshold", meta.shamir_threshold or len(meta.groups)))
        out.append(("key_groups", [_group_branch(g, in_group=True) for g in meta.groups]))
    else:
        out.extend(_top_level_keys(meta, after_mac=False))
    out.append(("lastmodified", meta.lastmodified))
    out.append(("mac", meta.mac))
    if len(meta.groups) == 1:
        out.extend(_top_level_keys(meta, after_mac=True))
    if meta.selector:
        out.append(meta.selector)
    if meta.mac_only_encrypted:
        out.append(("mac_only_encrypted", True))
    out.append(("version", meta.version))
    return out


def _top_level_keys(meta: Metadata, *, after_mac: bool) -> Branch:
    """The key lists of a single-group file that sops writes before ``mac`` (or, ``after_mac``, after it)."""
    group = _group_branch(meta.groups[0] if meta.groups else [], in_group=False)
    return Branch(item for item in group if BY_NAME[str(item[0])].after_mac == after_mac)


def _group_branch(group: list[KeyEntry], *, in_group: bool) -> Branch:
    out = Branch()
    for kind in KINDS:
        entries = [_entry_branch(e) for e in group if e.kind == kind.name]
        if entries or (in_group and kind.always_in_group):
            out.append((kind.name, entries))
    return out


def _entry_branch(entry: KeyEntry) -> Branch:
    out = Branch()
    kind = BY_NAME[entry.kind]
    for key in kind.fields:
        value = entry.fields.get(key)
        if key in kind.omit_empty and not value:
            continue
        out.append((key, "" if value is None else value))
    return out


def to_plain(value: object) -> Any:
    """A ``Branch`` tree as plain dicts/lists (for reading metadata)."""
    if isinstance(value, Branch):
        return {k: to_plain(v) for k, v in value if isinstance(k, str)}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    return value
