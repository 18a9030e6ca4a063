"""Keep ruamel comments where a reader expects them when mapping keys or list items are removed or added.

ruamel attaches the comment lines that *precede* an element to the element before it (its "tail").
Deleting that earlier element would drop them; appending after it would push them below the new
element. These helpers move the tail lines so they stay in front of the element they describe.
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString
from ruamel.yaml.tokens import CommentToken

Container = CommentedMap | CommentedSeq


def _last_key(node: Container) -> Any:
    return next(reversed(node)) if isinstance(node, CommentedMap) else len(node) - 1


def _slot(parent: Container, key: Any) -> tuple[list[Any], int, Any]:
    """The comment list and slot holding the comment right after ``parent[key]`` (descends)."""
    value = parent[key]
    if isinstance(value, CommentedMap | CommentedSeq) and len(value) > 0:
        return _slot(value, _last_key(value))
    items = parent.ca.items.setdefault(key, [None, None, None, None])
    return items, (2 if isinstance(parent, CommentedMap) else 0), value


def take_tail(parent: Container, key: Any) -> str:
    """Remove and return the full comment lines after ``parent[key]`` (its end-of-line comment stays)."""
    items, idx, value = _slot(parent, key)
    token = items[idx]
    if not isinstance(token, CommentToken):
        return ""
    text: str = token.value
    if isinstance(value, LiteralScalarString | FoldedScalarString):
        # a block scalar ends with its newline: every comment line follows it; the token keeps
        # the first line's indentation as its column
        head, tail = "", " " * token.start_mark.column + text
    else:
        cut = text.find("\n") + 1 if "\n" in text else len(text)
        head, tail = text[:cut], text[cut:]
    if head.strip():
        token.value = head
    else:
        items[idx] = None
    return tail


def give_tail(parent: Container, key: Any, tail: str) -> None:
    """Append comment lines after ``parent[key]``, keeping any end-of-line comment it has."""
    if not tail:
        return
    items, idx, value = _slot(parent, key)
    token = items[idx]
    if isinstance(token, CommentToken):
        current: str = token.value
        token.value = current + tail
        return
    block = isinstance(value, LiteralScalarString | FoldedScalarString)
    items[idx] = _token(tail if block else "\n" + tail)


def _token(text: str) -> CommentToken:
    return CommentToken(text, CommentMark(0), None)


def delete(parent: Container, key: Any) -> None:
    """Delete ``parent[key]``; its tail comment lines move to the previous element."""
    keys = list(parent) if isinstance(parent, CommentedMap) else list(range(len(parent)))
    pos = keys.index(key)
    tail = take_tail(parent, key)
    del parent[key]
    if parent.ca.items.get(key) is not None and isinstance(parent, CommentedMap):
        parent.ca.items.pop(key, None)
    if pos > 0:
        give_tail(parent, keys[pos - 1], tail)


def insert(parent: Container, pos: int, key: Any, value: Any) -> None:
    """Insert at ``pos`` (``key`` is ignored for lists); comment lines that preceded the element now
    following the new one move behind it."""
    prev_tail = take_tail(parent, _key_at(parent, pos - 1)) if pos > 0 else ""
    if isinstance(parent, CommentedMap):
        parent.insert(pos, key, value)
        new_key = key
    else:
        parent.insert(pos, value)
        new_key = pos
    if prev_tail:
        give_tail(parent, new_key, prev_tail)


def _key_at(parent: Container, pos: int) -> Any:
    return list(parent)[pos] if isinstance(parent, CommentedMap) else pos
