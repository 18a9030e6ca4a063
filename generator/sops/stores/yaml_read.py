"""Read YAML as sops 3.11 does: go-yaml scalar types, comments as tree items, aliases expanded.

Comments are placed the way go-yaml + sops place them in the common cases (checked against sops
3.11): a full-line comment goes before the next item when it is indented no deeper than that item;
otherwise it trails the previous item in that item's (deepest) container, except that a comment in
column 0 after the last item belongs to the document. An inline comment goes before the innermost
item starting on its line (sops 3.11 moves inline comments onto their own line).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from generator.errors import SopsError
from generator.sops.stores.goyaml import Unsupported, resolve_plain, resolve_tagged
from generator.sops.values import Branch, Comment

_COMMENT_AT = re.compile(r"(?:\s|:(?=\s)|-(?=\s)|\?(?=\s))*#")
_SEPARATOR = re.compile(r"(---|\.\.\.)(\s|$)")


@dataclass
class _Item:
    line: int
    col: int
    container: list[Any]
    index: int
    depth: int


@dataclass
class _Doc:
    items: list[_Item] = field(default_factory=list)
    owner: dict[int, _Item | None] = field(default_factory=dict)  # id(container) -> owning item
    lines_end: dict[int, int] = field(default_factory=dict)  # line -> max end column of a node there
    occupied: set[int] = field(default_factory=set)


def load_documents(text: str, name: str) -> list[Branch]:
    """Parse every document of ``text`` into a ``Branch``; ``SopsError`` naming ``name`` on error."""
    from generator.yamlio import compose_all

    try:
        roots = compose_all(text)
    except Exception as err:  # noqa: BLE001 - ruamel raises many error classes
        raise SopsError(f"{name}: invalid YAML: {_first_line(err)}") from None
    if not roots:
        return []
    lines = text.splitlines()
    docs: list[Branch] = []
    states: list[_Doc] = []
    for root in roots:
        state = _Doc()
        branch = Branch()
        if root.id == "mapping":
            _Builder(state, lines, name).mapping(root, branch, 0, None, [])
        elif root.id == "sequence":
            raise SopsError(f"{name}: YAML documents that are sequences are not supported by sops")
        elif root.value not in ("", "~", "null", "Null", "NULL") or root.style:
            raise SopsError(f"{name}: YAML documents that are plain values are not supported by sops")
        docs.append(branch)
        states.append(state)
    _place_comments(lines, roots, docs, states)
    return docs


def _first_line(err: Exception) -> str:
    text = " ".join(str(err).split())
    return text[:300] or type(err).__name__


class _Builder:
    def __init__(self, state: _Doc, lines: list[str], name: str) -> None:
        self.state, self.lines, self.name = state, lines, name

    def _mark(self, node: Any) -> None:
        start, end = node.start_mark, node.end_mark
        if node.id != "scalar" and not getattr(node, "flow_style", False):
            return
        self.state.lines_end[end.line] = max(self.state.lines_end.get(end.line, 0), end.column)
        if end.line > start.line:
            self.state.occupied.update(range(start.line + 1, end.line + (1 if end.column else 0)))

    def value(self, node: Any, depth: int, owner: _Item | None, path: list[str]) -> object:
        if node.id == "mapping":
            branch = Branch()
            self.mapping(node, branch, depth + 1, owner, path)
            self._mark(node)
            return branch
        if node.id == "sequence":
            seq: list[Any] = []
            self.state.owner[id(seq)] = owner
            for item in node.value:
                line, col = self._dash(item)
                rec = _Item(line, col, seq, len(seq), depth + 1)
                self.state.items.append(rec)
                seq.append(self.value(item, depth + 1, rec, path))
            self._mark(node)
            return seq
        self._mark(node)
        return self.scalar(node, path)

    def scalar(self, node: Any, path: list[str]) -> object:
        explicit_tag = self._text_at(node.start_mark) == "!"
        try:
            if explicit_tag:
                return resolve_tagged(str(node.tag), node.value)
            if not node.style:  # plain: None (pure parser) or "" (libyaml)
                return resolve_plain(node.value)
        except Unsupported as err:
            raise SopsError(f"{self.name}:{node.start_mark.line + 1}: {_dotted(path)}: {err}") from None
        return node.value

    def mapping(self, node: Any, branch: Branch, depth: int, owner: _Item | None, path: list[str]) -> None:
        self.state.owner[id(branch)] = owner
        seen: set[object] = set()
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.id != "scalar":
                raise SopsError(f"{self.name}:{line}: {_dotted(path)}: complex mapping keys are not supported")
            self._mark(key_node)
            key = self.scalar(key_node, path)
            if not isinstance(key, str):
                raise SopsError(f"{self.name}:{line}: {_dotted(path)}: key {key_node.value!r} is a "
                                f"{type(key).__name__}, sops supports string keys only; quote it")
            if key in seen:
                raise SopsError(f"{self.name}:{line}: {_dotted([*path, key])}: duplicate key")
            seen.add(key)
            rec = _Item(key_node.start_mark.line, key_node.start_mark.column, branch, len(branch), depth)
            self.state.items.append(rec)
            branch.append((key, self.value(value_node, depth, rec, [*path, key])))

    def _text_at(self, mark: Any) -> str:
        line = self.lines[mark.line] if mark.line < len(self.lines) else ""
        return line[mark.column:mark.column + 1]

    def _dash(self, node: Any) -> tuple[int, int]:
        """Line and column of the ``-`` introducing a block sequence item."""
        line, col = node.start_mark.line, node.start_mark.column
        for back in range(4):
            if line - back < 0:
                break
            text = self.lines[line - back] if line - back < len(self.lines) else ""
            prefix = text[:col] if back == 0 else re.sub(r"\s#.*$", "", text)
            stripped = prefix.rstrip()
            if stripped.endswith("-"):
                return line - back, len(stripped) - 1
            if stripped.strip():
                break
        return line, col


def _dotted(path: list[str]) -> str:
    return ".".join(path) if path else "(top level)"


def _comments(lines: list[str], state: _Doc) -> list[tuple[int, int, str, bool]]:
    """(line, column, text after '#', inline?) for every comment of one document's lines."""
    out = []
    for number, text in enumerate(lines):
        if number in state.occupied:
            continue
        start = state.lines_end.get(number, 0)
        match = _COMMENT_AT.match(text, start)
        if match is None:
            continue
        hash_at = match.end() - 1
        if hash_at > 0 and not text[hash_at - 1].isspace():
            continue
        inline = bool(text[:hash_at].strip())
        if not inline or not _SEPARATOR.match(text):
            out.append((number, hash_at, text[hash_at + 1:].rstrip("\r"), inline))
    return out


def _place_comments(lines: list[str], roots: list[Any], docs: list[Branch], states: list[_Doc]) -> None:
    bounds = _doc_bounds(lines, roots)
    merged = _Doc()
    for state in states:
        merged.occupied |= state.occupied
        for line, col in state.lines_end.items():
            merged.lines_end[line] = max(merged.lines_end.get(line, 0), col)
    for line, col, text, inline in _comments(lines, merged):
        index = max((i for i, b in enumerate(bounds) if b <= line), default=0)
        _place(states[index], docs[index], line, col, text, inline)
    for state in states:
        _apply(state)


def _doc_bounds(lines: list[str], roots: list[Any]) -> list[int]:
    """First line owned by each document (its ``---`` line, or its root node line)."""
    bounds = []
    for i, root in enumerate(roots):
        start = root.start_mark.line
        j = start
        while j > 0 and (i == 0 or j > roots[i - 1].end_mark.line) and not _SEPARATOR.match(lines[j] if j < len(lines) else ""):
            j -= 1
        bounds.append(0 if i == 0 else j)
    return bounds


_PENDING = "_pending"


def _place(state: _Doc, doc: Branch, line: int, col: int, text: str, inline: bool) -> None:
    items = state.items
    if inline:
        here = [it for it in items if it.line == line]
        if here:
            target = max(here, key=lambda it: it.depth)
            _queue(state, target.container, target.index, line, text)
            return
    prev = next((it for it in reversed(items) if it.line < line), None)
    nxt = next((it for it in items if it.line > line), None)
    if nxt is not None and (prev is None or col <= nxt.col or _inside(state, nxt.container, prev)):
        _queue(state, nxt.container, nxt.index, line, text)
    elif prev is not None and not (nxt is None and col == 0):
        _queue(state, prev.container, prev.index + 1, line, text)
    else:
        _queue(state, doc, len(doc), line, text)


def _inside(state: _Doc, container: list[Any], item: _Item) -> bool:
    owner = state.owner.get(id(container))
    while owner is not None:
        if owner is item:
            return True
        owner = state.owner.get(id(owner.container))
    return False


def _queue(state: _Doc, container: list[Any], index: int, line: int, text: str) -> None:
    pending: dict[int, tuple[list[Any], list[tuple[int, int, str]]]] = state.__dict__.setdefault(_PENDING, {})
    pending.setdefault(id(container), (container, []))[1].append((index, line, text))


def _apply(state: _Doc) -> None:
    pending = state.__dict__.get(_PENDING, {})
    for container, inserts in pending.values():
        is_map = isinstance(container, Branch)
        for index, _line, text in sorted(inserts, key=lambda t: (t[0], t[1]), reverse=True):
            container.insert(index, (Comment(text), None) if is_map else Comment(text))
