"""Turn validation findings into ``FILE:LINE: key.path: message`` lines.

Findings carry a key path (``("clusters", 0, "name")``); the line comes from ruamel's round-trip
position info (``.lc``), looked up only when there is something to report.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

__all__ = ["ConfigProblem", "KeyPath", "format_problems", "line_of", "problems_from_schema"]

KeyPath = tuple[str | int, ...]

_TYPE_NAMES = {
    "string": "a string",
    "object": "a mapping",
    "array": "a list",
    "boolean": "true or false",
    "integer": "an integer",
    "number": "a number",
}


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with the config, at a key path."""

    path: KeyPath
    message: str


def dotted(path: KeyPath) -> str:
    """``("clusters", 0, "name")`` -> ``clusters[0].name``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _child(node: Any, part: str | int) -> Any:
    try:
        return node[part]
    except (KeyError, IndexError, TypeError):
        return None


def _position(node: Any, part: str | int) -> int | None:
    """0-based line of key/item ``part`` inside ``node`` (None if unknown)."""
    lc = getattr(node, "lc", None)
    if lc is None:
        return None
    try:
        pos = lc.item(part) if isinstance(part, int) else lc.key(part)
    except (KeyError, IndexError, TypeError):
        return None
    return int(pos[0]) if pos else None


def line_of(root: Any, path: KeyPath) -> int:
    """1-based line of the deepest part of ``path`` that exists in the round-trip tree."""
    best = int(getattr(getattr(root, "lc", None), "line", 0) or 0)
    node = root
    for part in path:
        pos = _position(node, part)
        if pos is None:
            break
        best = pos
        node = _child(node, part)
        if node is None:
            break
    return best + 1


def format_problems(problems: Iterable[ConfigProblem], root: Any, display: str) -> list[str]:
    """Sort by line, de-duplicate, and render one line per problem."""
    seen: set[str] = set()
    ordered: list[tuple[int, str]] = []
    for problem in problems:
        line = line_of(root, problem.path)
        where = f"{dotted(problem.path)}: " if problem.path else ""
        text = f"{display}:{line}: {where}{problem.message}"
        if text not in seen:
            seen.add(text)
            ordered.append((line, text))
    return [text for _, text in sorted(ordered, key=lambda item: item[0])]


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    match = match or [c for c in choices if word and (c.startswith(word) or word.startswith(c))][:1]
    return f"; did you mean '{match[0]}'?" if match else ""


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    return f"{value!r}"


def _type_message(err: ValidationError) -> str:
    expected = err.validator_value
    names = [expected] if isinstance(expected, str) else list(expected)
    wanted = " or ".join(_TYPE_NAMES.get(name, name) for name in names)
    hint = " (quote it)" if "string" in names and isinstance(err.instance, int | float) else ""
    return f"expected {wanted}, got {_describe(err.instance)}{hint}"


def _unknown_keys(err: ValidationError, path: KeyPath) -> list[ConfigProblem]:
    allowed = sorted(err.schema.get("properties", {}))
    extras = [key for key in err.instance if key not in allowed]
    return [
        ConfigProblem(
            (*path, key), f"unknown key '{key}'{did_you_mean(str(key), allowed)} (allowed: {', '.join(allowed)})"
        )
        for key in extras
    ]


def _missing_keys(err: ValidationError, path: KeyPath) -> list[ConfigProblem]:
    return [
        ConfigProblem(path, f"missing required key '{key}'") for key in err.validator_value if key not in err.instance
    ]


def _message(err: ValidationError) -> str:
    kind = err.validator
    custom = err.schema.get("x-message") if isinstance(err.schema, dict) else None
    if kind in {"pattern", "format", "maxLength"} and custom:
        return f"{_describe(err.instance)} {custom}"
    if kind == "type":
        return _type_message(err)
    if kind == "enum":
        options = [str(option) for option in err.validator_value]
        hint = did_you_mean(str(err.instance), options)
        return f"{_describe(err.instance)} is not one of: {', '.join(options)}{hint}"
    if kind == "minItems":
        return f"must list at least {err.validator_value} item(s)"
    if kind == "uniqueItems":
        return "has duplicate entries"
    if kind == "minLength":
        return "must not be empty"
    return str(err.message)


def problems_from_schema(errors: Iterable[ValidationError]) -> list[ConfigProblem]:
    """Translate jsonschema errors into Problems (unknown keys and missing keys one per key)."""
    found: list[ConfigProblem] = []
    for err in errors:
        path: KeyPath = tuple(err.absolute_path)
        if err.validator == "additionalProperties":
            found.extend(_unknown_keys(err, path))
        elif err.validator == "required":
            found.extend(_missing_keys(err, path))
        else:
            found.append(ConfigProblem(path, _message(err)))
    return found
