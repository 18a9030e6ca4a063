"""Structure rules of the keyless check, applied to a :class:`generator.check.parse.Parsed` file (pure, no I/O).

What a correctly encrypted sops file looks like without any key: a metadata block with a MAC,
``lastmodified``, a semver ``version``, at least one master key and at most one selector; every
value the selector covers is an ``ENC[AES256_GCM,…]`` string, every other value is clear text; and
the selector and recipients are those of the ``.sops.yaml`` rule that matches the file.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from generator.check.parse import Leaf, Parsed
from generator.sops.api import (
    DEFAULT_SELECTOR,
    KINDS,
    SELECTORS,
    VALUE_TYPES,
    MalformedValue,
    is_enc,
    parse_enc,
    selector_problem,
    selects,
    version_problem,
)

_SUBSTITUTION = re.compile(r"^(\$\{[A-Za-z_][A-Za-z0-9_]*(:?[-=][^}]*)?\})+$")


@dataclass(frozen=True)
class Problem:
    line: int
    col: int
    message: str
    rule: str = "check.malformed"  # the report's rule id (generator.report.model.RULES)


@dataclass(frozen=True)
class Expectation:
    """What the matching ``.sops.yaml`` rule says: its selector and recipient set."""

    label: str
    selector: tuple[str, str]
    recipients: frozenset[str]
    groups: int = 1


def enc_problem(value: str) -> str | None:
    """Why an ``ENC[…]`` string is not what sops writes, or None when it has the sops shape."""
    try:
        parts = parse_enc(value)
    except MalformedValue as err:
        if err.shape:
            return "malformed ENC value (expected ENC[AES256_GCM,data:…,iv:…,tag:…,type:…])"
        return "malformed ENC value (data/iv/tag are not base64)"
    if len(parts.iv) != 32 or len(parts.tag) != 16:
        return f"malformed ENC value (iv is {len(parts.iv)} bytes, tag {len(parts.tag)}; sops writes 32 and 16)"
    if parts.type not in VALUE_TYPES:
        return f"malformed ENC value (unknown type {parts.type!r})"
    return None


def selector_of(metadata: Mapping[str, Any]) -> tuple[str, str] | None:
    """The one selector in the metadata (the default suffix when none); None when several are set."""
    found = [(name, str(metadata[name])) for name in SELECTORS if metadata.get(name) not in (None, "")]
    if len(found) > 1:
        return None
    return found[0] if found else DEFAULT_SELECTOR


def needs_encryption(parsed: Parsed, selector: tuple[str, str]) -> bool:
    """True when encrypting with ``selector`` would turn at least one value into ciphertext."""
    if parsed.fmt == "binary":
        return True
    return any(_secret_value(leaf.value) and selects(selector, leaf.keys) is not False for leaf in parsed.leaves)


def _secret_value(value: Any) -> bool:
    return value is not None and value != ""


def recipients_of(metadata: Mapping[str, Any]) -> frozenset[str]:
    """Recipients named in the metadata (all key groups), as ``.sops.yaml`` names them (``kind:`` in front
    where the text does not name its kind)."""
    groups = metadata.get("key_groups") or [metadata]
    found: set[str] = set()
    for group in groups if isinstance(groups, list) else []:
        if isinstance(group, Mapping):
            found.update(_group_recipients(group))
    return frozenset(found)


def _group_recipients(group: Mapping[str, Any]) -> Iterator[str]:
    for kind in KINDS:
        texts = (kind.recipient(e) for e in group.get(kind.name) or [] if isinstance(e, Mapping))
        yield from (kind.display(text) for text in texts if text)


def check_metadata(parsed: Parsed, expect: Expectation | None) -> Iterator[Problem]:
    """The metadata's own structure, then (with ``expect``) whether it is what the rule asks for."""
    meta = parsed.metadata or {}
    at = (parsed.meta_line, parsed.meta_col)
    have, selector = recipients_of(meta), selector_of(meta)  # taken once: both looks need them
    for message in _structure_problems(meta, have, selector):
        yield Problem(*at, message)
    if expect is not None:
        for message in _rule_problems(meta, expect, have, selector):
            yield Problem(*at, message)


def _structure_problems(
    meta: Mapping[str, Any], have: frozenset[str], selector: tuple[str, str] | None
) -> Iterator[str]:
    """What sops itself would refuse or cannot use: MAC, lastmodified, version, keys, one valid selector."""
    mac = meta.get("mac")
    if not mac:
        yield "sops metadata has no MAC (sops refuses to decrypt it): re-encrypt the file"
    elif not is_enc(mac) or enc_problem(str(mac)):
        yield "sops metadata 'mac' is not an ENC[AES256_GCM,…] value: re-encrypt the file"
    if not _rfc3339(meta.get("lastmodified")):
        yield "sops metadata 'lastmodified' is missing or not an RFC 3339 time (the MAC needs it)"
    version = version_problem(meta.get("version"))
    if version:
        yield version
    if not have:
        yield "sops metadata has no master key (no age, azure_kv, … entry): nobody can decrypt it"
    if selector is None:
        yield "sops metadata sets more than one of " + ", ".join(SELECTORS)
    elif bad_regex := selector_problem(*selector):
        yield bad_regex


def _rule_problems(
    meta: Mapping[str, Any], expect: Expectation, have: frozenset[str], selector: tuple[str, str] | None
) -> Iterator[str]:
    """Where the file differs from the creation rule that covers it: selector, recipients, key groups
    (``have``, ``selector``: the metadata's, ``recipients_of`` and ``selector_of``)."""
    if selector is not None and selector != expect.selector:
        yield (
            f"encrypted with {selector[0]}: {selector[1]!r} but {expect.label} says "
            f"{expect.selector[0]}: {expect.selector[1]!r}; decrypt and re-encrypt it"
        )
    if expect.recipients and have and not _same_recipients(have, expect.recipients):
        yield (
            f"recipients differ from {expect.label} ({_recipient_diff(have, expect.recipients)}); "
            "run `fluxforge updatekeys`"
        )
    groups = len(meta["key_groups"]) if isinstance(meta.get("key_groups"), list) else 1
    if have and expect.groups and groups != expect.groups:
        yield f"{groups} key group(s) but {expect.label} has {expect.groups}; run `fluxforge updatekeys`"


def _recipient_diff(have: frozenset[str], want: frozenset[str]) -> str:
    missing, extra = sorted(want - have), sorted(have - want)
    parts = (f"missing {', '.join(missing)}" if missing else "", f"not in the rule {', '.join(extra)}" if extra else "")
    return "; ".join(part for part in parts if part)


def _same_recipients(have: frozenset[str], want: frozenset[str]) -> bool:
    """Equal sets; a Key Vault URL without version in the rule matches any version of that key."""
    loose = {w + "/" for w in want if "/keys/" in w and w.count("/") == 4}

    def wanted(h: str) -> bool:
        return h in want or any(h.startswith(prefix) for prefix in loose)

    def present(w: str) -> bool:
        return w in have or (w + "/" in loose and any(h.startswith(w + "/") for h in have))

    return all(wanted(h) for h in have) and all(present(w) for w in want)


def _rfc3339(value: Any) -> bool:
    if isinstance(value, datetime):
        return True
    try:
        datetime.fromisoformat(str(value))
    except ValueError:
        return False
    return True


def check_values(parsed: Parsed) -> Iterator[Problem]:
    """Every selected value is ciphertext and every other value is clear text."""
    selector = selector_of(parsed.metadata or {})
    if selector is not None and selector_problem(*selector):
        selector = None  # reported by check_metadata; which values it selects cannot be known
    for leaf in parsed.leaves:
        yield from _check_leaf(leaf, selector)


def _check_leaf(leaf: Leaf, selector: tuple[str, str] | None) -> Iterator[Problem]:
    want = selects(selector, leaf.keys) if selector else None
    if parsed_enc := is_enc(leaf.value):
        bad = enc_problem(str(leaf.value))
        if bad:
            yield Problem(leaf.line, leaf.col, f"{leaf.where}: {bad}")
            return
    if want is True and not parsed_enc and _secret_value(leaf.value):
        yield Problem(
            leaf.line,
            leaf.col,
            f"{leaf.where}: plaintext value where {selector_text(selector)} "
            "requires encryption; run `fluxforge encrypt -i` on this file (it "
            "encrypts the value and recomputes the MAC; needs the key)",
        )
    elif want is False and parsed_enc:
        yield Problem(
            leaf.line,
            leaf.col,
            f"{leaf.where}: encrypted value where {selector_text(selector)} "
            "leaves values in clear text; decrypt and re-encrypt the file",
        )


def selector_text(selector: tuple[str, str] | None) -> str:
    return f"{selector[0]} {selector[1]!r}" if selector else "the selector"


OUTSIDE_ANY_RULE = "outside any .sops.yaml rule; add a creation rule for this file and encrypt it"


def plaintext_secret_values(parsed: Parsed) -> Iterator[Problem]:
    """Kubernetes ``Secret`` documents whose data/stringData hold clear-text values."""
    if parsed.fmt not in ("yaml", "json"):
        return
    for index, doc in enumerate(parsed.documents):
        if not _is_secret(doc):
            continue
        name = _secret_name(doc)
        prefix = f"[{index}]" if len(parsed.documents) > 1 else ""
        for leaf in parsed.leaves:
            if leaf.where.startswith((f"{prefix}data.", f"{prefix}stringData.")) and _plaintext(leaf, prefix):
                yield Problem(
                    leaf.line, leaf.col, f"Secret {name}: plaintext {leaf.where[len(prefix) :]} " + OUTSIDE_ANY_RULE
                )


def _plaintext(leaf: Leaf, prefix: str) -> bool:
    """A Secret value in clear text: not ciphertext, not a ``${var}`` Flux substitutes, not a whole sops
    document."""
    value = leaf.value
    return (
        _secret_value(value)
        and not is_enc(value)
        and not _SUBSTITUTION.match(str(value))
        and not _sops_payload(value, base64_encoded=leaf.where.startswith(f"{prefix}data."))
    )


def _sops_payload(value: Any, *, base64_encoded: bool) -> bool:
    """A whole sops document as the value (Flux decrypts these: a Secret ``data`` value holding a
    base64 sops binary-store JSON, or a ``stringData`` value holding a sops YAML/JSON/dotenv/INI),
    by sops's own rule (``is_encrypted``), not by marker bytes that plaintext can contain."""
    from generator.sops.api import is_encrypted

    raw = str(value).encode()
    if base64_encoded:
        try:
            raw = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            return False
    return any(is_encrypted(raw, fmt) for fmt in ("json", "yaml", "dotenv", "ini"))


def _is_secret(doc: Any) -> bool:
    return (
        isinstance(doc, Mapping)
        and doc.get("kind") == "Secret"
        and str(doc.get("apiVersion", "v1")) == "v1"
        and doc.get("$patch") != "delete"
    )


def _secret_name(doc: Mapping[str, Any]) -> str:
    meta = doc.get("metadata")
    return repr(str(meta.get("name"))) if isinstance(meta, Mapping) and meta.get("name") else "(unnamed)"
