"""Read YAML as sops 3.11 does: go-yaml scalar types, comments as tree items, aliases expanded.

Comment placement is in ``yaml_comments``.
"""

from __future__ import annotations

import re
from typing import Any

from generator.errors import SopsError
from generator.sops.stores.goyaml import Unsupported, resolve_plain, resolve_tagged
from generator.sops.stores.yaml_comments import Doc as _Doc
from generator.sops.stores.yaml_comments import Item as _Item
from generator.sops.stores.yaml_comments import place_comments as _place_comments
from generator.sops.values import Branch


def load_documents(text: str, name: str) -> list[Branch]:
    """Parse every document of ``text`` into a ``Branch``; ``SopsError`` naming ``name`` on error."""
    from generator.yamlio import compose_all

    try:
        roots = compose_all(text)
    except Exception as err:  # noqa: BLE001 - ruamel raises many error classes
        raise SopsError(f"{name}{_where(err)}: invalid YAML: {_first_line(err)}") from None
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


def _where(err: Exception) -> str:
    """``:LINE:COL`` of a ruamel error's problem mark (1-based), or nothing."""
    mark = getattr(err, "problem_mark", None)
    if mark is None:
        line = getattr(err, "line", None)  # yamlguard.TooComplex
        return f":{line}" if isinstance(line, int) else ""
    return f":{mark.line + 1}:{mark.column + 1}"


def _first_line(err: Exception) -> str:
    """The problem in words; the context ("while scanning a quoted scalar") follows with its line."""
    problem, context = getattr(err, "problem", None), getattr(err, "context", None)
    if problem:
        mark = getattr(err, "context_mark", None)
        started = f" at line {mark.line + 1}" if mark is not None else ""
        return f"{problem} ({context}{started})" if context else str(problem)
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
