"""Where comments land in the sops tree, modelled on go-yaml v3's scanner (``scan_comments``) as
sops 3.11 reads it back (checked case by case against the real binary).

A block of full-line comments between two content lines is split into *foot* comments of the
previous item and a *head* comment of the next item: a comment line (or the next content line)
that is indented less than the innermost open block and at a different column than the comments
gathered so far closes them as a foot (they trail the previous item in its own container); what
is left is a head comment (it goes right before the next item). The first foot of a gap follows
the previous item; later ones (and a dedented block right after the last content of a document)
go to the enclosing container at their column. An inline comment
goes before the innermost item starting on its line (sops 3.11 moves it onto its own line).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from generator.sops.values import Branch, Comment

_COMMENT_AT = re.compile(r"(?:\s|:(?=\s)|-(?=\s)|\?(?=\s))*#")
_SEPARATOR = re.compile(r"(---|\.\.\.)(\s|$)")


@dataclass
class Item:
    """A mapping key or a sequence entry: where it starts and which container holds it."""

    line: int
    col: int
    container: list[Any]
    index: int
    depth: int


@dataclass
class Doc:
    items: list[Item] = field(default_factory=list)
    owner: dict[int, Item | None] = field(default_factory=dict)  # id(container) -> owning item
    lines_end: dict[int, int] = field(default_factory=dict)  # line -> max end column of a node there
    occupied: set[int] = field(default_factory=set)
    pending: dict[int, tuple[list[Any], list[tuple[int, int, str]]]] = field(default_factory=dict)


def place_comments(lines: list[str], roots: list[Any], docs: list[Branch], states: list[Doc]) -> None:
    bounds = _doc_bounds(lines, roots)
    occupied: set[int] = set()
    lines_end: dict[int, int] = {}
    for state in states:
        occupied |= state.occupied
        for line, col in state.lines_end.items():
            lines_end[line] = max(lines_end.get(line, 0), col)
    full: dict[int, tuple[int, str]] = {}
    for line, col, text, inline in _scan(lines, occupied, lines_end):
        index = max((i for i, b in enumerate(bounds) if b <= line), default=0)
        if inline and _inline(states[index], line, text):
            continue
        full[line] = (col, text)
    for index, (state, doc) in enumerate(zip(states, docs, strict=True)):
        end = bounds[index + 1] if index + 1 < len(bounds) else len(lines)
        _blocks(state, doc, lines, range(bounds[index], end), full, occupied)
        _apply(state)


def _scan(lines: list[str], occupied: set[int], lines_end: dict[int, int]) -> list[tuple[int, int, str, bool]]:
    """(line, column, text after '#', inline?) for every comment."""
    out = []
    for number, text in enumerate(lines):
        if number in occupied:
            continue
        match = _COMMENT_AT.match(text, lines_end.get(number, 0))
        if match is None:
            continue
        hash_at = match.end() - 1
        if hash_at > 0 and not text[hash_at - 1].isspace():
            continue
        inline = bool(text[:hash_at].strip())
        if not inline or not _SEPARATOR.match(text):
            out.append((number, hash_at, text[hash_at + 1:].rstrip("\r"), inline))
    return out


def _doc_bounds(lines: list[str], roots: list[Any]) -> list[int]:
    """First line owned by each document (its ``---`` line, or its root node line)."""
    bounds = []
    for i, root in enumerate(roots):
        j = root.start_mark.line
        while (j > 0 and (i == 0 or j > roots[i - 1].end_mark.line)
               and not _SEPARATOR.match(lines[j] if j < len(lines) else "")):
            j -= 1
        bounds.append(0 if i == 0 else j)
    return bounds


def _inline(state: Doc, line: int, text: str) -> bool:
    here = [it for it in state.items if it.line == line]
    if not here:
        return False
    target = max(here, key=lambda it: it.depth)
    _queue(state, target.container, target.index, line, text)
    return True


def _blocks(state: Doc, doc: Branch, lines: list[str], span: range, full: dict[int, tuple[int, str]],
            occupied: set[int]) -> None:
    """Walk the document's lines; each run of comment lines is split into foot and head parts."""
    block: list[tuple[int, int, str]] = []
    after_content = False  # the current block started on the line right after content
    last_content = -1
    feet = 0  # foot blocks already split off in this gap: later ones no longer follow the prior item
    for number in span:
        text = lines[number] if number < len(lines) else ""
        if number in full:
            col, comment = full[number]
            prev = _prev(state, number)
            indent = prev.col if prev else 0
            if block and col < indent and col != block[0][1]:
                _foot(state, doc, prev, block, dedented=feet > 0)
                feet, block = feet + 1, []
            if not block:
                after_content = number == last_content + 1
            block.append((number, col, comment))
        elif number in occupied or (text.strip() and not _SEPARATOR.match(text)):
            if block:
                _flush(state, doc, block, number, len(text) - len(text.lstrip()), dedented=feet > 0)
                block = []
            last_content, feet = number, 0
        elif not text.strip():
            if block and after_content and _blank_after(state, doc, block, number):
                feet, block = feet + 1, []
            after_content = False
    if block:
        _at_end(state, doc, block, after_content=after_content, feet=feet)


def _blank_after(state: Doc, doc: Branch, block: list[tuple[int, int, str]], number: int) -> bool:
    """A dedented block right after content and followed by a blank line is a foot of its own."""
    prev = _prev(state, number)
    if prev is None or block[0][1] >= prev.col:
        return False
    nxt = next((it for it in state.items if it.line > number), None)
    if nxt is not None and inside(state, nxt.container, prev):
        # right after "key:" whose value follows: go-yaml hangs it after the first nested item
        _foot(state, doc, nxt, block, dedented=False)
    else:
        _foot(state, doc, prev, block, dedented=True, stop=nxt)
    return True


def _at_end(state: Doc, doc: Branch, block: list[tuple[int, int, str]], *, after_content: bool,
            feet: int) -> None:
    prev = _prev(state, block[0][0])
    indent = prev.col if prev else 0
    if after_content and prev is not None:
        _foot(state, doc, prev, block[:1], dedented=feet > 0 or block[0][1] < indent)
        block = block[1:]
    if block:  # what is left at the end of the document: by its column
        _foot(state, doc, prev, block, dedented=True)


def _flush(state: Doc, doc: Branch, block: list[tuple[int, int, str]], content_line: int, content_col: int,
           *, dedented: bool) -> None:
    """The block before a content line: a foot if that line dedents past the open block, else a head."""
    prev = _prev(state, block[0][0])
    nxt = next((it for it in state.items if it.line >= content_line), None)
    indent = prev.col if prev else 0
    if prev is not None and content_col < indent and content_col != block[0][1]:
        _foot(state, doc, prev, block, dedented=dedented, stop=nxt)
    elif nxt is not None:
        for line, _col, comment in block:
            _queue(state, nxt.container, nxt.index, line, comment)
    else:
        for line, _col, comment in block:
            _queue(state, doc, len(doc), line, comment)


def _prev(state: Doc, line: int) -> Item | None:
    return next((it for it in reversed(state.items) if it.line < line), None)


def _foot(state: Doc, doc: Branch, prev: Item | None, block: list[tuple[int, int, str]], *,
          dedented: bool, stop: Item | None = None) -> None:
    """Comments trailing ``prev`` in its own container; when ``dedented`` (no longer tied to the
    prior item) in the enclosing container at the comments' column."""
    target = prev
    col = block[0][1]
    if target is None:
        for line, _col, comment in block:
            _queue(state, doc, len(doc), line, comment)
        return
    if dedented:
        # never further out than the container of the next item (it stays open)
        keep = _ancestors(state, stop.container) if stop is not None else set()
        owner = state.owner.get(id(target.container))
        while owner is not None and target.col > col and id(target.container) not in keep:
            target, owner = owner, state.owner.get(id(owner.container))
    for line, _col, comment in block:
        _queue(state, target.container, target.index + 1, line, comment)


def _ancestors(state: Doc, container: list[Any]) -> set[int]:
    out = {id(container)}
    owner = state.owner.get(id(container))
    while owner is not None:
        out.add(id(owner.container))
        owner = state.owner.get(id(owner.container))
    return out


def inside(state: Doc, container: list[Any], item: Item) -> bool:
    owner = state.owner.get(id(container))
    while owner is not None:
        if owner is item:
            return True
        owner = state.owner.get(id(owner.container))
    return False


def _queue(state: Doc, container: list[Any], index: int, line: int, text: str) -> None:
    state.pending.setdefault(id(container), (container, []))[1].append((index, line, text))


def _apply(state: Doc) -> None:
    for container, inserts in state.pending.values():
        is_map = isinstance(container, Branch)
        for index, _line, text in sorted(inserts, key=lambda t: (t[0], t[1]), reverse=True):
            container.insert(index, (Comment(text), None) if is_map else Comment(text))
