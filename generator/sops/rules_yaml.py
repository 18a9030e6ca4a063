"""A fast reader for the usual ``.sops.yaml``: block mappings and sequences of one-line scalars.

``load_rules`` reads every ``.sops.yaml`` with the round-trip YAML reader (``yamlio.load_rt``), whose
import and parse cost ``fluxforge decrypt FILE`` and the pre-commit hook a large part of their start-up.
The files people write are a small corner of YAML: ``creation_rules`` holding mappings of plain or
quoted one-line strings, numbers and booleans, ``key_groups`` and ``stores`` nested the same way.
``read`` parses exactly that corner, with ruamel's YAML 1.2 resolution of plain scalars (``true`` a
bool, ``4`` an int, ``~`` and ``null`` nothing, everything else it reaches a string), and returns None
for anything outside it (flow collections, block and multi-line scalars, anchors, aliases, tags,
escapes other than ``\\\\``, ``\\"`` and ``\\/``, directives, several documents, duplicate keys, tabs,
non-ASCII, a number form other than a plain decimal), which the round-trip reader then parses as
before: whenever ``read`` answers, the answer is what ``load_rt`` gives (tests/sops/test_sops_rules_yaml.py
compares the two on generated files), and every error still comes from ``load_rt``."""

from __future__ import annotations

import re
from typing import Any

_OUTSIDE = re.compile(r"[^\n\x20-\x7e]|^(?:---|\.\.\.|%)", re.MULTILINE)
_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_]*):(?: +(.*))?")
_WORDS: dict[str, Any] = {"": None, "~": None, "null": None, "Null": None, "NULL": None}
_WORDS.update(dict.fromkeys(("true", "True", "TRUE"), True))
_WORDS.update(dict.fromkeys(("false", "False", "FALSE"), False))
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_DOT_NUMBER = re.compile(r"\.(?:[0-9_]+(?:[eE][-+][0-9]+)?|inf|Inf|INF|nan|NaN|NAN)")
_NOT_FIRST = frozenset("-?:,[]{}#&*!|>'\"%@`+0123456789<=")
_MAX_DEPTH = 32


class _Outside(Exception):
    """The text leaves the corner ``read`` parses: the round-trip reader takes it."""


Line = tuple[int, str]  # (indent, content without the indent)


def read(text: str) -> dict[str, Any] | None:
    """The document as plain dicts, lists and scalars, equal to ``load_rt(text)``; None when the text is
    outside the corner this reader parses (or is not a mapping, or is not YAML at all)."""
    if _OUTSIDE.search(text):
        return None
    lines = [(len(line) - len(line.lstrip(" ")), line.lstrip(" ")) for line in text.split("\n")]
    lines = [(indent, body) for indent, body in lines if body and not body.startswith("#")]
    if not lines or lines[0][0] != 0:
        return None
    try:
        doc, end = _mapping(lines, 0, 0, 0)
    except _Outside:
        return None
    return doc if end == len(lines) else None  # a line no block took: a continuation or an error


def _node(lines: list[Line], at: int, depth: int) -> tuple[Any, int]:
    """The block collection starting at ``lines[at]``, and the index after it."""
    if depth > _MAX_DEPTH:
        raise _Outside
    indent, body = lines[at]
    if body == "-" or body.startswith("- "):
        return _sequence(lines, at, indent, depth)
    if _KEY.fullmatch(body):
        return _mapping(lines, at, indent, depth)
    raise _Outside  # a scalar on a line of its own (or not YAML)


def _mapping(lines: list[Line], at: int, indent: int, depth: int) -> tuple[dict[str, Any], int]:
    out: dict[str, Any] = {}
    while at < len(lines) and lines[at][0] == indent:
        match = _KEY.fullmatch(lines[at][1])
        if match is None or match.group(1) in out or match.group(1) in _WORDS:
            raise _Outside  # not a key line, a duplicate key, or a key that resolves to a bool or null
        out[match.group(1)], at = _value(lines, at, indent, match.group(2), depth)
    return out, at


def _sequence(lines: list[Line], at: int, indent: int, depth: int) -> tuple[list[Any], int]:
    out: list[Any] = []
    while at < len(lines) and lines[at][0] == indent and (lines[at][1] == "-" or lines[at][1].startswith("- ")):
        rest = lines[at][1][1:]
        item = rest.lstrip(" ")
        if item and not item.startswith("#") and (_KEY.fullmatch(item) or item == "-" or item.startswith("- ")):
            lines[at] = (indent + len(rest) - len(item) + 1, item)  # a compact collection: its own column
            value, at = _node(lines, at, depth + 1)
        else:
            value, at = _value(lines, at, indent, item, depth, nested_at_same_indent=False)
        out.append(value)
    return out, at


def _value(
    lines: list[Line], at: int, indent: int, rest: str | None, depth: int, *, nested_at_same_indent: bool = True
) -> tuple[Any, int]:
    """The value after ``key:`` (or ``-``) on ``lines[at]``: a scalar on the line, else the block below it
    (for a key, a sequence may also sit at the key's own indent), else nothing."""
    if rest and not rest.startswith("#"):
        return _scalar(rest), at + 1
    below = lines[at + 1] if at + 1 < len(lines) else None
    if below is not None and below[0] == indent and nested_at_same_indent:
        if below[1] == "-" or below[1].startswith("- "):
            return _sequence(lines, at + 1, indent, depth + 1)
        return None, at + 1
    if below is not None and below[0] > indent:
        return _node(lines, at + 1, depth + 1)
    return None, at + 1


def _scalar(text: str) -> Any:
    """A one-line scalar (a trailing `` # comment`` allowed) as ruamel's YAML 1.2 resolution builds it."""
    if text[0] in "'\"":
        return _quoted(text)
    cut = text.find(" #")
    value = (text if cut < 0 else text[:cut]).rstrip(" ")
    if _DECIMAL.fullmatch(value):
        return int(value)
    if value in _WORDS:
        return _WORDS[value]
    if ": " in value or value.endswith(":") or value[0] in _NOT_FIRST or _DOT_NUMBER.fullmatch(value):
        raise _Outside  # another number form, a timestamp, an indicator, a nested mapping (or an error)
    return value


_ESCAPED = {"''": "'", "\\\\": "\\", '\\"': '"', "\\/": "/"}


def _quoted(text: str) -> str:
    """A one-line single-quoted (``''`` for a quote) or double-quoted scalar (escapes ``\\\\``, ``\\"`` and
    ``\\/`` only), a comment allowed after it."""
    quote, out, at = text[0], [], 1
    while at < len(text):
        pair = text[at : at + 2]
        if pair in _ESCAPED and pair[0] in ("'" if quote == "'" else "\\"):
            out.append(_ESCAPED[pair])
            at += 2
        elif text[at] == quote:
            return _after_quote(text[at + 1 :], "".join(out))
        elif quote == '"' and text[at] == "\\":
            raise _Outside  # another escape: the round-trip reader decodes it (or refuses it)
        else:
            out.append(text[at])
            at += 1
    raise _Outside  # the scalar goes on to the next line


def _after_quote(after: str, value: str) -> str:
    """``value``, when only spaces or a comment follow the closing quote."""
    if after.strip(" ") and not (after[0] == " " and after.lstrip(" ").startswith("#")):
        raise _Outside
    return value
