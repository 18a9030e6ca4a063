"""Key-less readers for the keyless check: every leaf with its key path and ``line:col``.

No decryption happens here. Each sops store format (YAML, JSON, dotenv, INI, binary envelope) is
read into a ``Parsed``: the leaves of the data tree (metadata removed) and the metadata block
(flattened formats unflattened), so the structure rules in :mod:`generator.check.rules` are format-blind.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from generator.errors import SopsError
from generator.sops.api import detect_format, metadata_from_flat


@dataclass(frozen=True)
class Leaf:
    """One value of the data tree. ``keys`` are the mapping keys on its path (what selectors see)."""

    keys: tuple[str, ...]
    where: str
    value: Any
    line: int
    col: int


class ParseError(SopsError):
    """The file is not valid in its store format; ``line``/``col`` locate the problem (1-based)."""

    def __init__(self, message: str, line: int = 1, col: int = 1, *, refused: bool = False) -> None:
        super().__init__(message)
        self.line, self.col = line, col
        self.refused = refused  # a bound of yamlguard (aliases, depth), not a syntax error


@dataclass
class Parsed:
    fmt: str
    leaves: list[Leaf] = field(default_factory=list)
    metadata: dict[str, Any] | None = None
    meta_line: int = 1
    meta_col: int = 1
    documents: list[Any] = field(default_factory=list)


def parse(path: str, data: bytes) -> Parsed:
    """Read ``data`` in the store its path selects; raise ``SopsError`` when it cannot be parsed."""
    fmt = detect_format(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        if fmt != "binary":
            raise ParseError("not UTF-8 text; a file this rule covers must be text") from None
        return Parsed(fmt)
    if fmt in ("yaml", "json"):
        return _parse_tree(fmt, text)
    if fmt != "binary" and text.lstrip().startswith("{"):
        return _parse_binary(text)  # a .env/.ini encrypted with the binary store (JSON envelope)
    if fmt == "dotenv":
        return _parse_dotenv(text)
    if fmt == "ini":
        return _parse_ini(text)
    return _parse_binary(text)


def _parse_tree(fmt: str, text: str) -> Parsed:
    docs = _documents(fmt, text)
    out = Parsed(fmt, documents=docs)
    first = docs[0] if docs and isinstance(docs[0], dict) else {}
    if "sops" in first:  # where sops reads metadata from; whether it is valid: sops.api.is_encrypted
        out.metadata = dict(first["sops"]) if isinstance(first["sops"], dict) else {}
        line, col = _lc(first).key("sops")
        out.meta_line, out.meta_col = line + 1, col + 1
    for index, doc in enumerate(docs):
        if isinstance(doc, dict):
            prefix = f"[{index}]" if len(docs) > 1 else ""
            out.leaves.extend(_document_leaves(doc, prefix, skip_sops=out.metadata is not None))
    return out


def _documents(fmt: str, text: str) -> list[Any]:
    """The non-empty documents of a YAML (or JSON) text; ``ParseError`` at ruamel's position otherwise."""
    from generator.yamlio import YamlError, load_all_rt

    try:
        return [d for d in load_all_rt(text) if d is not None]
    except YamlError as err:
        line, col = err.line or 1, err.column or 1
        if err.refused:
            raise ParseError(f"cannot be read safely: {err.reason}", line, col, refused=True) from None
        raise ParseError(f"not valid {fmt.upper()}: {err.reason}; fix the syntax", line, col) from None


def _document_leaves(doc: dict[Any, Any], prefix: str, *, skip_sops: bool) -> Iterator[Leaf]:
    for key, value in doc.items():
        if key == "sops" and skip_sops:
            continue
        line, col = _position(doc, "value", key, (0, 0))
        yield from _leaves_of(value, (str(key),), f"{prefix}{key}", line, col)


def _lc(node: Any) -> Any:
    """ruamel's line/column record of a round-trip mapping or sequence."""
    return node.lc


def _position(node: Any, kind: str, key: Any, fallback: tuple[int, int]) -> tuple[int, int]:
    """ruamel's 0-based line/column of a key's value or a list item; ``fallback`` (the parent's) where
    ruamel has none: keys that come from a ``<<:`` merge, items of a tagged (``!!python/…``) sequence."""
    try:
        found = getattr(node.lc, kind)(key)
    except (AttributeError, KeyError, IndexError, TypeError):
        return fallback
    return (found[0], found[1]) if isinstance(found, tuple) and len(found) == 2 else fallback


def _leaves_of(node: Any, keys: tuple[str, ...], where: str, line: int, col: int) -> Iterator[Leaf]:
    if isinstance(node, dict):
        for key in node:
            kline, kcol = _position(node, "value", key, (line, col))
            yield from _leaves_of(node[key], (*keys, str(key)), f"{where}.{key}", kline, kcol)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            iline, icol = _position(node, "item", index, (line, col))
            yield from _leaves_of(item, keys, f"{where}[{index}]", iline, icol)
    else:
        yield Leaf(keys, where, node, line + 1, col + 1)


def _parse_dotenv(text: str) -> Parsed:
    out = Parsed("dotenv")
    flat: dict[str, str] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ParseError("not KEY=VALUE (dotenv lines need an '=')", number)
        if key.startswith("sops_"):
            if out.metadata is None:
                out.meta_line = number
            flat[key[len("sops_"):]] = value
            out.metadata = {}
        else:
            out.leaves.append(Leaf((key,), key, value, number, len(key) + 2))
    if out.metadata is not None:
        out.metadata = metadata_from_flat(flat)
    return out


_SECTION = re.compile(r"^\s*\[([^\]]*)\]\s*$")


def _parse_ini(text: str) -> Parsed:
    out = Parsed("ini")
    section = "DEFAULT"
    flat: dict[str, str] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        header = _SECTION.match(line)
        if header:
            section = header.group(1).strip()
            if section == "sops":
                out.meta_line = number
                out.metadata = {}
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ParseError(f"not 'key = value' inside section [{section}]", number)
        key, value = key.strip(), value.strip()
        if section == "sops":
            flat[key] = value
        elif section != "DEFAULT":
            col = line.index("=") + 2 + (len(line.partition("=")[2]) - len(line.partition("=")[2].lstrip()))
            out.leaves.append(Leaf((section, key), f"{section}.{key}", value, number, col))
    if out.metadata is not None:
        out.metadata = metadata_from_flat(flat)
    return out


def _parse_binary(text: str) -> Parsed:
    """A binary file is encrypted only as the sops JSON envelope ``{"data": ENC, "sops": {...}}``."""
    stripped = text.lstrip()
    if not stripped.startswith("{") or '"sops"' not in stripped:
        return Parsed("binary")
    try:
        parsed = _parse_tree("json", text)
    except ParseError:
        return Parsed("binary")
    parsed.fmt = "binary"
    return parsed

