"""The common case without the general reader and writer: a Kubernetes Secret-shaped YAML file.

Most files fluxforge encrypts are nested block mappings of short plain strings (``apiVersion``,
``metadata.name``, ``stringData.password``), with no comments, lists, quotes or anchors. Reading
them line by line and writing them the same way gives the same tree and the same bytes as the
general store (``yaml_read`` / ``yaml_emit``) at a fraction of the cost. Whatever is not exactly that
shape gets ``None`` here and goes the general way, so the fast path never decides anything the
general path would decide differently: every scalar is accepted only when the general resolver
reads it as that very string and the general writer writes it plain (``yaml_scalars``,
``yaml_emit.string_style``). The tests prove the bytes equal on the interop corpus.

The shape, line by line (``\\n`` line ends, the last line ended too, no empty lines):
``<indent><key>: <value>`` or ``<indent><key>:`` followed by a deeper line that opens the nested
mapping. Keys are unique within their mapping; siblings share their column; nothing but a nested
mapping is deeper than its parent. Keys and values hold no character that could start or end
anything but a plain scalar: no ``#``, tab, ``\\r``, ``: ``, final ``:``, no indicator first (``-?:,[]{}&*!|>'"%@```).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from generator.sops.regex import CharClass, lazy
from generator.sops.stores.yaml_emit import DOUBLE, LITERAL, PLAIN, double_quoted, string_style
from generator.sops.stores.yaml_scalars import Unsupported, resolve_plain
from generator.sops.values import Branch

# a line of the shape: indentation, key, and the value when there is one
_LINE = re.compile(r"( *)([^ :][^:]*?):(?: (.+))?")
_MAX_DEPTH = 32
_ODD = CharClass("[#\t\r\x85\u2028\u2029\ufeff]", "#\t\r")
# a literal block the writer writes as its lines: printable text lines, none empty or space-led or
# space-ended, one final line break
_PLAIN_BLOCK = lazy(r"(?:[^ \n\r\t\x85\u2028\u2029](?:[^\n\r\t\x85\u2028\u2029]*[^ \n\r\t\x85\u2028\u2029])?\n)+")
_ODD_BREAK = lazy("[\x85\u2028\u2029]")
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`<")


def load_simple(text: str) -> Branch | None:
    """The tree of a Secret-shaped ``text`` (one document, mappings of plain strings), else None."""
    if not _one_plain_document(text):
        return None
    lines = text.split("\n")
    lines.pop()  # the empty string after the final line break
    root = Branch()
    stack: list[tuple[int, Branch, set[str]]] = [(0, root, set())]
    opening: Branch | None = None  # the mapping a bare ``key:`` opened, waiting for its first line
    for line in lines:
        m = _LINE.fullmatch(line)
        if m is None:
            return None
        indent, key, value = len(m.group(1)), m.group(2), m.group(3)
        if opening is not None and not _opened(stack, opening, indent):
            return None
        while indent < stack[-1][0]:
            stack.pop()
        if not _new_key(stack, indent, key) or (value is not None and not _plain_string(value)):
            return None
        opening = _add(stack[-1][1], key, value)
    if opening is not None or not root:
        return None
    return root


def _one_plain_document(text: str) -> bool:
    """No comment, no document marker, a final line break."""
    return text.endswith("\n") and "#" not in text and "---" not in text and "..." not in text


def _new_key(stack: list[tuple[int, Branch, set[str]]], indent: int, key: str) -> bool:
    """``key`` continues the innermost open mapping (same indentation), is new there and plain (and is not
    a top-level ``sops``); it is recorded as seen."""
    level, _mapping, seen = stack[-1]
    if indent != level or key in seen or not _plain_key(key) or (len(stack) == 1 and key == "sops"):
        return False
    seen.add(key)
    return True


def _opened(stack: list[tuple[int, Branch, set[str]]], opening: Branch, indent: int) -> bool:
    """The line after a bare ``key:`` opens its mapping, one level deeper. False for the general path: a
    ``key:`` with nothing below is a null value, and a deep tree gets the depth limit named."""
    if indent <= stack[-1][0] or len(stack) > _MAX_DEPTH:
        return False
    stack.append((indent, opening, set()))
    return True


def _add(mapping: Branch, key: str, value: str | None) -> Branch | None:
    """Add the pair; a bare ``key:`` opens a mapping, returned to be filled by the lines below."""
    if value is None:
        opening = Branch()
        mapping.append((key, opening))
        return opening
    mapping.append((key, value))
    return None


_MAX_KEY = 128  # YAML allows 1,024 characters in an implicit key; the writer here writes 128 bytes at most


def _plain_key(text: str) -> bool:
    return len(text) <= _MAX_KEY and _plain_string(text)


_KNOWN: dict[str, bool] = {}  # _plain_string of short texts (keys, names) seen before


def _plain_string(text: str) -> bool:
    """``text`` is read back as itself (a string) and written plain, on one line."""
    known = _KNOWN.get(text)
    if known is None:
        known = _reads_plain(text)
        if len(text) <= 64 and len(_KNOWN) < 4096:
            _KNOWN[text] = known
    return known


def _reads_plain(text: str) -> bool:
    if text != text.strip(" ") or text[0] in _INDICATORS or ": " in text or text.endswith(":") or _ODD.found_in(text):
        return False
    try:
        resolved = resolve_plain(text)
    except Unsupported:
        return False
    return resolved == text and isinstance(resolved, str) and string_style(text) == PLAIN


def emit_simple(doc: Branch, indent: int) -> str | None:
    """``doc`` written as the general writer writes it, when it holds only what this writer knows
    (else None): non-empty mappings and lists, lists of scalars or of mappings, strings written plain,
    in quotes on one line, or as a plain literal block (the ``enc`` of an age entry), booleans and
    integers; no comments. Indentation as the general writer's: a nested collection at the next
    multiple of ``indent``, a list item's mapping two columns in (past ``- ``)."""
    best = indent if 2 <= indent <= 9 else 2
    out: list[str] = []
    if not _emit_mapping(doc, 0, best, out, ""):
        return None
    return "".join(out)


def _next(col: int, best: int) -> int:
    return best * ((col + best) // best)


def _emit_mapping(mapping: Branch, col: int, best: int, out: list[str], lead: str) -> bool:
    """The pairs at column ``col``; the first line starts with ``lead`` when given (a list item's ``- ``)."""
    if not mapping:
        return False
    pad = " " * col
    for key, value in mapping:
        if not isinstance(key, str) or not _written_plain(key) or len(key.encode()) > 128:
            return False
        if not _emit_pair(key, value, col, best, out, lead or pad):
            return False
        lead = ""
    return True


def _emit_pair(key: str, value: object, col: int, best: int, out: list[str], start: str) -> bool:
    if isinstance(value, Branch):
        out.append(f"{start}{key}:\n")
        return _emit_mapping(value, _next(col, best), best, out, "")
    if isinstance(value, list):
        out.append(f"{start}{key}:\n")
        return _emit_sequence(value, _next(col, best), best, out)
    text = _leaf(value, col, best)
    if text is None:
        return False
    out.append(f"{start}{key}: {text}\n")
    return True


def _emit_sequence(items: list[object], col: int, best: int, out: list[str]) -> bool:
    if not items:
        return False
    dash = " " * col + "- "
    for item in items:
        if isinstance(item, Branch):
            if not _emit_mapping(item, col + 2, best, out, dash):
                return False
            continue
        if not isinstance(item, str) or not _written_plain(item):
            return False
        out.append(f"{dash}{item}\n")
    return True


def _leaf(value: object, col: int, best: int) -> str | None:
    """A mapping value's text after ``key: `` (a literal block's lines included), or None."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str) or not value:
        return None
    return _string_leaf(value, col, best)


def _string_leaf(value: str, col: int, best: int) -> str | None:
    style = string_style(value)
    if style == PLAIN:
        return value if value[0] not in _INDICATORS or _written_plain(value) else None
    if "\n" not in value and "\r" not in value:
        return _one_line(value, style)
    if style != LITERAL or not _PLAIN_BLOCK().fullmatch(value):
        return None
    pad = " " * _next(col, best)
    return "|\n" + "\n".join(pad + line for line in value[:-1].split("\n"))


def _one_line(value: str, style: str) -> str | None:
    return double_quoted(value) if style == DOUBLE and not _ODD_BREAK().search(value) else None


def _written_plain(text: str) -> bool:
    return bool(text) and "\n" not in text and string_style(text) == PLAIN and text[0] not in _INDICATORS


def split_metadata(text: str) -> tuple[str, str] | None:
    """An encrypted file's data lines and its ``sops:`` block (from the last top-level ``sops:``
    line to the end), when the data lines are all there is before it; else None."""
    at = text.rfind("\nsops:\n")
    if at < 0:
        return None
    return text[: at + 1], text[at + 1 :]


# --- an encrypted file's sops: block as sops writes it ----------------------------------------------
# what sends a block to the general reader at once: a comment, tab, CR, escape, odd line break or BOM, a
# character YAML does not allow in a stream (all one class, written as the characters it holds, which
# compiles ten times faster than the negated class: what is not a line break or printable, and '#', '\\',
# U+2028, U+2029, U+FEFF; tests/sops/test_sops_charsets.py checks every code point), or an empty (or
# blank) line
_META_ODD_CHAR = CharClass(
    r"[\x00-\x09\x0b-\x1f#\\\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]",
    "".join(map(chr, [*range(0x0A), *range(0x0B, 0x20), ord("#"), ord("\\"), 0x7F])),
)
_BLANK_LINE = re.compile(r"\n\s*\n")
_PAIR = re.compile(r"([^ :][^:]*?):(?: (.+))?")
_NO = object()


class Metadata(NamedTuple):
    """A ``sops:`` block read by ``read_metadata``: the metadata, and every scalar of it that was written
    plain (keys included), for a reader that resolves plain scalars by other rules than go-yaml's."""

    meta: dict[str, object]
    plain: tuple[str, ...]


def read_metadata(text: str) -> Metadata | None:
    """The metadata of a ``sops:`` block (``text``: the ``sops:`` line to the end, as ``split_metadata`` cut
    it) as plain data, when the block has the shape sops writes: nested block mappings and lists of
    mappings (at most ``_META_DEPTH`` deep), keys and values plain strings (``_plain_string``: read as
    themselves), double-quoted strings without escapes, literal blocks (``|``) of equally indented,
    non-empty lines. Else None: the general reader decides (a value that reads as a number or boolean, a
    comment, a quote style, an empty line)."""
    if not text.startswith("sops:\n") or not text.endswith("\n") or _odd_block(text):
        return None
    lines = text.split("\n")
    lines.pop()  # the empty string after the final line break
    reader = _MetaReader(lines)
    meta = reader.value(0, None)
    if not isinstance(meta, dict) or reader.at != len(lines):
        return None
    return Metadata(meta, tuple(reader.plain))


def _odd_block(text: str) -> bool:
    return bool(_META_ODD_CHAR.found_in(text) or _BLANK_LINE.search(text))


class SecretFile(NamedTuple):
    """An encrypted file whose data lines are Secret-shaped (``read_encrypted``)."""

    head: str  # the data lines, up to the ``sops:`` line
    data: Branch  # their tree (``load_simple``)
    meta: Metadata | None  # the ``sops:`` block when sops wrote it so (``read_metadata``), else None


_KEPT: tuple[str, SecretFile] | None = None


def read_encrypted(text: str, *, keep: bool = False) -> SecretFile | None:
    """An encrypted file's data lines and ``sops:`` block as this module reads them (None when the data
    lines are not Secret-shaped). The keyless readers (the check's parse, ``detect``) ``keep`` the answer
    for the next reader of the same text, so the block is read once; a reader that changes the tree (the
    store: it decrypts in place) takes it, and it is forgotten. A kept answer must not be modified."""
    global _KEPT
    kept, _KEPT = _KEPT, None
    found = kept[1] if kept is not None and kept[0] == text else _read_encrypted(text)
    if keep and found is not None:
        _KEPT = (text, found)
    return found


def _read_encrypted(text: str) -> SecretFile | None:
    parts = split_metadata(text)
    if parts is None:
        return None
    data = load_simple(parts[0])
    if data is None:
        return None
    return SecretFile(parts[0], data, read_metadata(parts[1]))


# nested collections in a sops: block, a list with its item mappings counted once (sops writes 3, and so at
# most 5 levels); deeper (up to 16): the general reader
_META_DEPTH = 8


class _MetaReader:
    """Line by line through a ``sops:`` block; ``at`` is the next line (line 0 is ``sops:`` itself);
    ``plain`` collects the plain scalars read."""

    def __init__(self, lines: list[str]) -> None:
        self.lines, self.at, self.depth = lines, 1, 0
        self.indents = [_indent_of(line) for line in lines]  # each line's, taken once
        self.plain: list[str] = []

    def value(self, col: int, text: str | None) -> object:
        """The value after ``key:`` at column ``col``: ``text`` on the same line, else the deeper lines."""
        if text == "|":
            return self._literal(col)
        if text is not None:
            return self._scalar(text)
        if self.at >= len(self.lines) or self.indents[self.at] <= col or self.depth >= _META_DEPTH:
            return _NO  # a null, a list at the key's own column, or deep nesting: the general reader
        inner = self.indents[self.at]
        self.depth += 1
        found = self._sequence(inner) if self.lines[self.at].startswith("- ", inner) else self._mapping(inner)
        self.depth -= 1
        return found

    def _scalar(self, text: str) -> object:
        if text.startswith('"'):
            inner = text[1:-1]
            return inner if len(text) > 1 and text.endswith('"') and '"' not in inner else _NO
        if not _plain_string(text):
            return _NO
        self.plain.append(text)
        return text

    def _mapping(self, col: int) -> object:
        out: dict[str, object] = {}
        while self.at < len(self.lines) and self.indents[self.at] >= col:
            match = _PAIR.fullmatch(self.lines[self.at], col) if self.indents[self.at] == col else None
            if match is None or match.group(1) in out or not _plain_key(match.group(1)):
                return _NO
            self.plain.append(match.group(1))
            self.at += 1
            value = self.value(col, match.group(2))
            if value is _NO:
                return _NO
            out[match.group(1)] = value
        return out

    def _sequence(self, col: int) -> object:
        out: list[object] = []
        while self.at < len(self.lines) and self.indents[self.at] >= col:
            line = self.lines[self.at]
            if self.indents[self.at] != col or not line.startswith("- ", col):
                return _NO
            self.lines[self.at] = " " * (col + 2) + line[col + 2 :]  # the item: a mapping from the next column
            self.indents[self.at] = _indent_of(self.lines[self.at])
            item = self._mapping(col + 2)
            if item is _NO or not item:
                return _NO
            out.append(item)
        return out

    def _literal(self, col: int) -> object:
        """A ``|`` block: its lines at one indentation deeper than ``col``, each with a final line break."""
        if self.at >= len(self.lines) or self.indents[self.at] <= col:
            return _NO
        inner = self.indents[self.at]
        body: list[str] = []
        while self.at < len(self.lines) and self.indents[self.at] > col:
            line = self.lines[self.at]
            if self.indents[self.at] != inner or line.endswith(" "):
                return _NO
            body.append(line[inner:])
            self.at += 1
        return "\n".join(body) + "\n"


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))
