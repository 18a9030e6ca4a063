"""A fast proof that a config satisfies its JSON Schema, without jsonschema.

``proves_valid(schema, instance)`` is True only when the instance is certainly valid under the Draft
2020-12 semantics jsonschema applies (the same type rules, ``re.search`` for patterns, lengths in code
points). Anything it does not decide with certainty (a keyword it does not know, an enum over values
other than strings, a float where an integer is asked for) counts as not proven: the caller then runs
jsonschema itself, which finds the problems and words them. So a valid config never imports or runs
jsonschema (a third of a fleet config's load), and an invalid one gets exactly the messages it always got.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

__all__ = ["proves_valid"]

_ANNOTATIONS = frozenset(
    {"description", "default", "title", "examples", "$schema", "$id", "$comment", "x-message", "deprecated"}
)

_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),  # 1.0 (valid): not proven
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
}


class _Unsure(Exception):
    """The check cannot decide this with certainty: not proven."""


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def proves_valid(schema: Mapping[str, Any], instance: Any) -> bool:
    """True only when ``instance`` is certainly valid under ``schema`` (``$ref`` already inlined)."""
    try:
        return _valid(schema, instance)
    except _Unsure:
        return False


def _valid(schema: Mapping[str, Any] | bool, instance: Any) -> bool:
    if isinstance(schema, bool):
        return schema
    for keyword, value in schema.items():
        if keyword in _ANNOTATIONS:
            continue
        check = _KEYWORDS.get(keyword)
        if check is None:
            raise _Unsure(keyword)
        if not check(value, instance, schema):
            return False
    return True


def _type(expected: str | list[str], instance: Any, _schema: Mapping[str, Any]) -> bool:
    names = [expected] if isinstance(expected, str) else expected
    if any(name not in _TYPES for name in names):
        raise _Unsure(names)
    return any(_TYPES[name](instance) for name in names)


def _properties(props: Mapping[str, Any], instance: Any, _schema: Mapping[str, Any]) -> bool:
    if not isinstance(instance, dict):
        return True
    return all(_valid(props[key], value) for key, value in instance.items() if key in props)


def _additional(extra: bool | Mapping[str, Any], instance: Any, schema: Mapping[str, Any]) -> bool:
    if not isinstance(instance, dict):
        return True
    props = schema.get("properties", {})
    extras = [value for key, value in instance.items() if key not in props]
    if isinstance(extra, bool):
        return extra or not extras
    return all(_valid(extra, value) for value in extras)


def _required(names: list[str], instance: Any, _schema: Mapping[str, Any]) -> bool:
    return not isinstance(instance, dict) or all(name in instance for name in names)


def _items(item: Any, instance: Any, _schema: Mapping[str, Any]) -> bool:
    if not isinstance(instance, list):
        return True
    if not isinstance(item, dict):
        raise _Unsure("items")
    return all(_valid(item, value) for value in instance)


def _canonical(value: Any) -> Any:
    """A hashable stand-in equal for values jsonschema's ``equal`` calls equal (a string only to the same
    string, a bool only to itself, ``1`` to ``1.0``, lists item by item, mappings key by key); it may call
    equal more than jsonschema does (a huge integer and its float), never less, so "all unique" is certain."""
    if isinstance(value, str):
        return ("s", value)
    if isinstance(value, bool) or value is None:
        return ("c", value)
    if isinstance(value, int | float):
        return ("n", float(value))
    if isinstance(value, list):
        return ("l", tuple(_canonical(item) for item in value))
    if isinstance(value, dict):
        return ("m", frozenset((key, _canonical(item)) for key, item in value.items()))
    raise _Unsure(type(value).__name__)


def _unique(unique: bool, instance: Any, _schema: Mapping[str, Any]) -> bool:
    if not unique or not isinstance(instance, list):
        return True
    return len({_canonical(value) for value in instance}) == len(instance)


def _enum(options: list[Any], instance: Any, _schema: Mapping[str, Any]) -> bool:
    if not isinstance(instance, str):
        raise _Unsure("enum")
    return instance in options


def _pattern(pattern: str, instance: Any, _schema: Mapping[str, Any]) -> bool:
    return not isinstance(instance, str) or _compiled(pattern).search(instance) is not None


def _length(
    kind: type[str | list[Any]], bound: Callable[[int, int], bool]
) -> Callable[[int, Any, Mapping[str, Any]], bool]:
    """A length bound on a string (code points, as jsonschema counts) or a list; other types pass."""

    def check(limit: int, instance: Any, _schema: Mapping[str, Any]) -> bool:
        return not isinstance(instance, kind) or bound(len(instance), limit)

    return check


_KEYWORDS: dict[str, Callable[[Any, Any, Mapping[str, Any]], bool]] = {
    "type": _type,
    "properties": _properties,
    "additionalProperties": _additional,
    "required": _required,
    "items": _items,
    "uniqueItems": _unique,
    "enum": _enum,
    "pattern": _pattern,
    "minLength": _length(str, lambda n, limit: n >= limit),
    "maxLength": _length(str, lambda n, limit: n <= limit),
    "minItems": _length(list, lambda n, limit: n >= limit),
    "maxItems": _length(list, lambda n, limit: n <= limit),
}
