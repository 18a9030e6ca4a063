"""The fast proof that a config satisfies its schema (generator/config/schema_proof.py) never calls valid
what jsonschema rejects: checked on every config of the repository (the sample, the examples, every bad
config of tests/config/bad_configs) and on thousands of mutations of the valid ones (each value replaced by
values of other types and forms, each key removed, an unknown key added to each mapping). A valid config is
proven without jsonschema, so the fast path is taken; a rejected one gets jsonschema's own messages."""

from __future__ import annotations

import copy
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from generator.config import load as config_load
from generator.config.load import parse_config
from generator.config.schema_proof import proves_valid
from generator.yamlio import YamlError, load_plain
from tests.helpers import REPO_ROOT
from tests.helpers.yaml_corpus import key_paths

BAD = sorted((REPO_ROOT / "tests" / "config" / "bad_configs").glob("*.yaml"))
VALID = [REPO_ROOT / "sample-repo" / "fluxforge.yaml", REPO_ROOT / "examples" / "aks-extension" / "fluxforge.yaml"]
OTHERS: list[Any] = [
    None,
    True,
    False,
    0,
    7,
    1.0,
    2.5,
    "",
    "x",
    "UPPER case",
    "v2.9.4",
    "a" * 300,
    [],
    ["x"],
    {},
    {"k": 1},
]


def _schema_errors(data: Any) -> list[Any]:
    return list(config_load._validator().iter_errors(data))


def _set(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(data)
    if not path:
        return value
    parent = out
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return out


def _mutations(data: Any) -> Iterator[Any]:
    for path in key_paths(data):
        for other in OTHERS:
            yield _set(data, path, other)
        if path and isinstance(path[-1], str):  # the key removed
            removed = copy.deepcopy(data)
            target = removed
            for step in path[:-1]:
                target = target[step]
            del target[path[-1]]
            yield removed
        node = data
        for step in path:
            node = node[step]
        if isinstance(node, dict):
            yield _set(data, path, {**node, "unknownKey": "x"})
            if node:
                first = next(iter(node))
                yield _set(data, path, {**node, first.upper() + "x": node[first]})
        if isinstance(node, list) and node:
            yield _set(data, path, [*node, node[0]])  # a duplicate entry


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.parent.name)
def test_valid_configs_are_proven_and_every_mutation_agrees(path: Path) -> None:
    data = load_plain(path.read_text(encoding="utf-8"))
    schema = config_load._inlined_schema()
    assert proves_valid(schema, data) and not _schema_errors(data)  # the fast path is taken
    proven = rejected = 0
    for mutated in _mutations(data):
        if proves_valid(schema, mutated):
            assert not _schema_errors(mutated), mutated
            proven += 1
        else:
            rejected += 1
    assert proven > 50 and rejected > 200


def test_bad_configs_are_never_proven() -> None:
    """Every bad config jsonschema rejects is not proven (its messages stay jsonschema's)."""
    rejected = 0
    for path in BAD:
        try:
            data = load_plain(path.read_text(encoding="utf-8"))
        except YamlError:
            continue  # not YAML: the schema is never asked
        if _schema_errors(data):
            assert not proves_valid(config_load._inlined_schema(), data), path.name
            rejected += 1
    assert rejected > 30


def test_a_valid_config_loads_without_jsonschema() -> None:
    """In a fresh interpreter: loading the sample config imports no jsonschema (the proof was enough)."""
    import subprocess

    code = (
        "import sys; from generator.config.load import load_config; load_config(sys.argv[1]); "
        "print(any(m == 'jsonschema' or m.startswith('jsonschema.') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(VALID[0])], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    with pytest.raises(Exception, match="unknown key"):
        parse_config(VALID[0].read_text(encoding="utf-8") + "bogus: 1\n")


KEYWORD_CASES: list[tuple[dict[str, Any], list[Any]]] = [
    ({"minLength": 2}, ["ab", "a", "", 5]),
    ({"maxLength": 2}, ["ab", "abc", "é" * 2, None]),
    ({"minItems": 1}, [[], [1], "x"]),
    ({"maxItems": 1}, [[], [1, 2], {}]),
    ({"enum": ["a", "b"]}, ["a", "c", 1, True, None]),
    ({"enum": [1, True]}, [1, True, 1.0, "1"]),
    ({"type": "integer"}, [1, 1.0, True, "1", 2.5]),
    ({"type": ["string", "null"]}, ["x", None, 0]),
    ({"type": "number"}, [1, 1.5, False]),
    (
        {"uniqueItems": True},
        [[1, 1.0], [1, True], [{"a": 1}, {"a": 1}], [{"a": 1}, {"a": True}], [[1], [1]], ["a", "b"]],
    ),
    ({"pattern": "^a$"}, ["a", "a\n", "ba", 3]),
    ({"required": ["a"]}, [{"a": 1}, {}, [], "a"]),
    ({"additionalProperties": False, "properties": {"a": {}}}, [{"a": 1}, {"a": 1, "b": 2}, {1: 2}]),
    ({"additionalProperties": {"type": "string"}}, [{"a": "x"}, {"a": 1}]),
    ({"items": {"type": "string"}}, [["a"], ["a", 1], "ab"]),
    ({"properties": {"a": False}}, [{"a": 1}, {"b": 1}]),
    ({"oneOf": [{"type": "string"}, {"minLength": 1}]}, ["", "x", 1]),
    ({"patternProperties": {"^x": {"type": "string"}}}, [{"x": 1}, {"y": 1}]),
    ({"prefixItems": [{"type": "string"}]}, [[1], ["a"]]),
    ({"const": "a"}, ["a", "b"]),
]


@pytest.mark.parametrize(("schema", "instances"), KEYWORD_CASES, ids=lambda v: str(v)[:40])
def test_each_keyword_as_jsonschema_decides_it(schema: dict[str, Any], instances: list[Any]) -> None:
    """Proven only where jsonschema finds nothing; a keyword the proof does not know is never proven."""
    from jsonschema import Draft202012Validator

    known = set(schema) <= {
        "minLength", "maxLength", "minItems", "maxItems", "enum", "type", "uniqueItems", "pattern",
        "required", "additionalProperties", "properties", "items",
    }  # fmt: skip
    for instance in instances:
        valid = not list(Draft202012Validator(schema).iter_errors(instance))
        proven = proves_valid(schema, instance)
        assert not proven or valid, (schema, instance)
        if not known:
            assert not proven, (schema, instance)
