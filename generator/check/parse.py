"""Key-less readers for the keyless check: every leaf with its key path and ``line:col``.

No decryption happens here. Each sops store format (YAML, JSON, dotenv, INI, binary envelope) is
read into a ``Parsed``: the leaves of the data tree (metadata removed) and the metadata block
(flattened formats unflattened), so the structure rules in :mod:`generator.check.rules` are format-blind.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from generator.errors import SopsError
from generator.sops.api import Branch, detect_format, metadata_from_flat
from generator.yaml12 import plain_is_string

if TYPE_CHECKING:
    from generator.sops.api import SecretFile


class Leaf(NamedTuple):  # a tuple: made for every value of every file checked, so cheap to make
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
    # the line readers' reading this came from (``_secret_tree``): ``sops_state`` decides from it too
    shaped: SecretFile | None = field(default=None, compare=False, repr=False)


def parse(path: str, data: bytes, fmt: str | None = None) -> Parsed:
    """Read ``data`` in the store its path selects (``fmt``, when the caller has it); raise ``SopsError``
    when it cannot be parsed."""
    fmt = fmt or detect_format(path)
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
    fast = _secret_tree(text) if fmt == "yaml" else None
    if fast is None:
        fast = _fast_tree(fmt, text)
    return fast if fast is not None else _rt_tree(fmt, text)


def _secret_tree(text: str) -> Parsed | None:
    """An encrypted Secret-shaped file read by the sops store's line readers, without composing
    (``detect.secret_shaped``, which keeps the reading for ``is_encrypted``): the ``Parsed`` that
    ``_fast_tree`` builds. None (the general way) unless the ``sops:`` block has the layout sops writes
    and every plain scalar, which those readers resolve as go-yaml does, is a string in YAML 1.2 too."""
    from generator.sops.api import secret_shaped

    if _not_fast(text):
        return None
    found = secret_shaped(text)
    if found is None or found.meta is None or not all(map(plain_is_string, found.meta.plain)):
        return None
    leaves: list[Leaf] = []
    document = _secret_leaves(found.data, iter(enumerate(found.head.split("\n"), 1)), (), "", leaves)
    if document is None:
        return None
    document["sops"] = found.meta.meta
    meta_line = found.head.count("\n") + 1
    return Parsed("yaml", leaves, dict(found.meta.meta), meta_line, 1, [document], found)


def _secret_leaves(
    branch: Branch, lines: Iterator[tuple[int, str]], keys: tuple[str, ...], where: str, out: list[Leaf]
) -> dict[str, Any] | None:
    """The plain data of a ``yaml_fast.load_simple`` tree, its leaves added to ``out`` with ``line:col``
    (one line per key, in order: ``key: value`` or ``key:`` opening the mapping below); None when a key
    or value would not be a string in YAML 1.2."""
    plain: dict[str, Any] = {}
    for key, value in branch:
        number, line = next(lines)
        assert isinstance(key, str)
        if not plain_is_string(key):
            return None
        path = f"{where}.{key}" if keys else key
        if isinstance(value, Branch):
            inner = _secret_leaves(value, lines, (*keys, key), path, out)
            if inner is None:
                return None
            plain[key] = inner
            continue
        assert isinstance(value, str)
        if not plain_is_string(value):
            return None
        out.append(Leaf((*keys, key), path, value, number, len(line) - len(line.lstrip(" ")) + len(key) + 3))
        plain[key] = value
    return plain


def _not_fast(text: str) -> bool:
    """What only the round-trip parser handles as the check needs it: tags, anchors and merge keys (``!``,
    ``&``, ``<<`` anywhere), YAML directives (``%`` first on a line: a %YAML 1.1 stream resolves scalars
    differently); and a byte order mark."""
    return any(mark in text for mark in ("!", "&", "\ufeff", "<<", "\n%")) or text.startswith("%")


_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"


def _fast_tree(fmt: str, text: str) -> Parsed | None:
    """The same ``Parsed`` as the round-trip parser builds, from libyaml's nodes (6x less CPU: the
    keyless check spent 92 % of its time in the pure-Python parser). None where the stream uses what
    only the round-trip path reads the same way (tags, anchors, merge keys, directives, complex or
    duplicate keys) or does not parse: then the round-trip parser decides, and words any error."""
    kept = _composed_documents(text)
    if kept is None:
        return None
    out = Parsed(fmt, documents=[doc for _, doc in kept])
    _fast_metadata(out, kept)
    for index, (root, doc) in enumerate(kept):
        if isinstance(doc, dict):
            _fast_leaves(out, root, doc, f"[{index}]" if len(kept) > 1 else "")
    return out


def _composed_documents(text: str) -> list[tuple[Any, Any]] | None:
    """Each non-empty document as (libyaml root node, plain data); None where the fast path declines."""
    from generator.yamlio import compose_all

    if _not_fast(text):
        return None
    try:
        roots = compose_all(text, remember=True)  # sops.api.is_encrypted reads the same nodes next
    except Exception:  # noqa: BLE001 - any failure: the round-trip parser reports it
        return None
    try:
        docs = [_plain(root) for root in roots]
    except Exception:  # noqa: BLE001 - declined, or a scalar its tag cannot build: the round-trip path
        return None
    return [(root, doc) for root, doc in zip(roots, docs, strict=True) if doc is not None]


def _fast_metadata(out: Parsed, kept: list[tuple[Any, Any]]) -> None:
    """The first document's top-level ``sops`` entry as the metadata, with the line and column of its key."""
    first_root, first = kept[0] if kept and isinstance(kept[0][1], dict) else (None, {})
    if "sops" in first and first_root is not None:
        out.metadata = dict(first["sops"]) if isinstance(first["sops"], dict) else {}
        key_node = next(k for k, _ in first_root.value if k.value == "sops")
        out.meta_line, out.meta_col = key_node.start_mark.line + 1, key_node.start_mark.column + 1


def _fast_leaves(out: Parsed, root: Any, doc: dict[Any, Any], prefix: str) -> None:
    """The leaves of one mapping document, the metadata entry excepted."""
    for (_, value_node), key in zip(root.value, doc, strict=True):
        if key == "sops" and out.metadata is not None:
            continue
        out.leaves.extend(_node_leaves(value_node, doc[key], (str(key),), f"{prefix}{key}"))


class _Decline(Exception):
    """The fast path does not take this stream (the round-trip parser does)."""


def _plain(node: Any) -> Any:
    """Plain data of a composed node: dicts (insertion order), lists, scalars as ``load_plain`` builds
    them. Declines a non-scalar or duplicate key (the round-trip parser refuses duplicates)."""
    from generator.yamlio import construct_scalar

    if node.id == "scalar":
        if node.tag == _STR:
            return node.value
        return None if node.tag == _NULL else construct_scalar(node)
    if node.id == "sequence":
        return [_plain(item) for item in node.value]
    out: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        if key_node.id != "scalar":
            raise _Decline
        key = _plain(key_node)
        if key in out or isinstance(key, list | dict):
            raise _Decline
        out[key] = _plain(value_node)
    return out


def _node_leaves(node: Any, value: Any, keys: tuple[str, ...], where: str) -> Iterator[Leaf]:
    """``_walk`` over composed nodes: the same leaves, key paths and 1-based ``line:col``."""
    if node.id == "mapping":
        for (_, child), key in zip(node.value, value, strict=True):
            yield from _node_leaves(child, value[key], (*keys, str(key)), f"{where}.{key}")
    elif node.id == "sequence":
        for index, (child, item) in enumerate(zip(node.value, value, strict=True)):
            yield from _node_leaves(child, item, keys, f"{where}[{index}]")
    else:
        yield Leaf(keys, where, value, node.start_mark.line + 1, node.start_mark.column + 1)


def _rt_tree(fmt: str, text: str) -> Parsed:
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
            flat[key[len("sops_") :]] = value
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
