"""Bounds on hostile YAML/JSON before anything expands or recurses over it.

* **Aliases**: the rule of go-yaml v3 (what sops uses), so fluxforge refuses exactly the documents sops
  refuses with "document contains excessive aliasing": counting every node decoded, aliases expanded,
  once more than 100 come from alias expansion in a document of more than 1,000 decoded nodes, their
  share may be at most 99 % (falling to 10 % between 400,000 and 4,000,000 nodes). A 380-byte
  "billion laughs" bomb is refused after a few thousand nodes instead of expanding to gigabytes.
* **Depth**: at most ``MAX_DEPTH`` nested mappings/sequences (sops allows 10,000; Kubernetes objects
  need a few dozen, and Python's recursion would end far below 10,000). A cheap upper bound on the
  depth is computed from the text first, so the C parser (libyaml) never sees a document deep enough
  to overflow its stack.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ruamel.yaml.error import YAMLError

MAX_DEPTH = 100
_ALIAS_LOW, _ALIAS_HIGH = 400_000, 4_000_000
_PREFIX = re.compile(r"^[ \t?:-]*", re.MULTILINE)


class TooComplex(YAMLError):
    """A document fluxforge refuses to expand; the message never quotes a value. ``line`` is 1-based.
    A ``YAMLError``, so every reader that reports invalid YAML reports this too."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


def depth_bound(text: str) -> int:
    """An upper bound on the nesting depth of ``text``: every flow level needs a ``[`` or ``{``, and two
    consecutive block levels move at least one column right of the line's indentation prefix."""
    prefix = max((len(m) for m in _PREFIX.findall(text)), default=0)
    return text.count("[") + text.count("{") + 2 * prefix + 2


def too_deep(line: int | None = None) -> TooComplex:
    return TooComplex(
        f"nested deeper than {MAX_DEPTH} levels of mappings and sequences; fluxforge refuses "
        "such documents (sops stops at 10,000)",
        line,
    )


def _allowed_alias_ratio(decoded: int) -> float:
    if decoded <= _ALIAS_LOW:
        return 0.99
    if decoded >= _ALIAS_HIGH:
        return 0.10
    return 0.99 - 0.89 * (decoded - _ALIAS_LOW) / (_ALIAS_HIGH - _ALIAS_LOW)


class _Counter:
    """go-yaml's decodeCount/aliasCount, checked after every node as go-yaml does."""

    def __init__(self) -> None:
        self.decoded = 0
        self.aliased = 0

    def tick(self, under_alias: bool, node: Any) -> None:
        self.decoded += 1
        if under_alias:
            self.aliased += 1
        if (
            self.aliased > 100
            and self.decoded > 1000
            and self.aliased / self.decoded > _allowed_alias_ratio(self.decoded)
        ):
            raise TooComplex(
                "document contains excessive aliasing (sops refuses it too); write the values "
                "out instead of nesting aliases",
                _line(node),
            )


def check_nodes(roots: Iterable[Any]) -> None:
    """Apply the alias and depth bounds to composed ruamel nodes (one root per document).

    The composer returns the anchored node object itself for an alias, so an alias is an edge to a
    node whose defining edge (its first appearance in document order) is another one.
    """
    counter = _Counter()
    defined: dict[int, tuple[int, int]] = {}
    for index, root in enumerate(roots):
        counter.tick(False, root)  # the document node
        stack: list[tuple[Any, bool, int, tuple[int, int]]] = [(root, False, 1, (-1, index))]
        while stack:
            node, under, depth, edge = stack.pop()
            if defined.setdefault(id(node), edge) != edge:  # an alias: the alias node, then the target
                counter.tick(under, node)
                under = True
            counter.tick(under, node)
            children = _children(node)
            if children and depth > MAX_DEPTH:
                raise too_deep(_line(node))
            stack.extend((child, under, depth + 1, (id(node), i)) for i, child in reversed(list(enumerate(children))))


def _children(node: Any) -> list[Any]:
    if node.id == "mapping":
        return [part for pair in node.value for part in pair]
    if node.id == "sequence":
        return list(node.value)
    return []


def _line(node: Any) -> int | None:
    mark = getattr(node, "start_mark", None)
    return mark.line + 1 if mark is not None else None


def check_depth(value: Any) -> None:
    """The depth bound for plain data (JSON read with ``json.loads``): dicts, lists, and list-like
    trees of pairs (``Branch``)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: list[Any] = list(item.values())
        elif isinstance(item, list):
            children = [v[1] if isinstance(v, tuple) and len(v) == 2 else v for v in item]
        else:
            continue
        if depth >= MAX_DEPTH:
            raise too_deep()
        stack.extend((child, depth + 1) for child in children)
