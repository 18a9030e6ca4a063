"""The plain-data loader behind the config (``yamlio.load_plain``) looks the implicit-tag table up once per
loader instead of once per scalar: it must build exactly what ruamel's own libyaml safe loader builds, for
every scalar form (YAML 1.2 booleans, octals, floats, nulls, timestamps, a ``%YAML 1.1`` directive) and for
every YAML file of the repository."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from generator import yamlio
from generator.yamlio import YamlError, load_all_plain, load_plain
from tests.helpers.yaml_corpus import LAYOUTS, dumped, plain_data, yaml_corpus

SCALARS = [
    "yes",
    "no",
    "on",
    "off",
    "y",
    "n",
    "true",
    "True",
    "TRUE",
    "false",
    "~",
    "null",
    "Null",
    "",
    "010",
    "0o10",
    "0x1f",
    "0b101",
    "1_000",
    "+12",
    "-0",
    "1e3",
    "1.5e-3",
    ".5",
    "1.",
    ".inf",
    "-.Inf",
    ".NaN",
    "0.1",
    "12:30:45",
    "2001-12-14",
    "2001-12-14t21:59:43.10-05:00",
    "2001-12-14 21:59:43.10",
    "=",
    "<<",
    "'010'",
    '"yes"',
    "!!str 10",
    "!!int '7'",
    "!!float 1",
    "1:2",
    "0777",
    "123456789012345678901234567890",
    "a b",
    "'- quoted'",
]


def _stock(text: str, *, every: bool = False) -> Any:
    yaml = YAML(typ="safe", pure=False)
    yaml.allow_duplicate_keys = False
    return list(yaml.load_all(text)) if every else yaml.load(text)


def _same(a: Any, b: Any) -> bool:
    """Equal, NaN included, and of the same types all the way down (True is not 1)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def _as_ruamel(text: str) -> bool:
    """``load_all_plain`` builds what ruamel's libyaml safe loader builds, or refuses what it refuses; False
    when the text has aliases (yamlguard's bounds may refuse what ruamel expands: not compared)."""
    try:
        expected = _stock(text, every=True)
    except Exception:  # noqa: BLE001 - ruamel raises many types
        with pytest.raises(YamlError):
            load_all_plain(text)
        return True
    if "*" in text:
        return False
    assert _same(load_all_plain(text), expected), text[:200]
    return True


@pytest.mark.parametrize("directive", ["", "%YAML 1.1\n---\n", "%YAML 1.2\n---\n"])
def test_every_scalar_form_as_ruamel_builds_it(directive: str) -> None:
    for value in SCALARS:
        assert _as_ruamel(f"{directive}key: {value}\nlist: [{value}]\n{value}: in a key\n")
    text = directive + "".join(f"k{i}: {value}\n" for i, value in enumerate(SCALARS) if value not in {"=", "<<"})
    assert _same(load_plain(text), _stock(text))
    assert _as_ruamel(text + "---\n" + text)


def test_every_yaml_file_of_the_repository_as_ruamel_builds_it() -> None:
    files = yaml_corpus()
    compared = sum(_as_ruamel(path.read_text(encoding="utf-8", errors="replace")) for path in files)
    assert len(files) > 50 and compared > 50


# --- the events path: load_plain builds a document without anchors, aliases, tags, merge keys or directives
#     from the parser's events (yamlio._from_events); ruamel's loader decides everything else.


def _general(text: str) -> Any:
    """What load_plain returns or raises without the events path."""
    with yamlio._one_error():
        yamlio.guard(text)
        return yamlio._plain_yaml().load(text)


def _events_as_general(text: str) -> bool:
    """The events path builds what the general path builds (True), or leaves the text to it (False); a text
    the general path refuses is never built by the events path, and load_plain raises the same problem."""
    built = yamlio._from_events(text)
    try:
        expected = _general(text)
    except YamlError as err:
        assert built is yamlio._GENERAL, text[:200]
        with pytest.raises(YamlError) as raised:
            load_plain(text)
        assert (raised.value.reason, raised.value.line, raised.value.column) == (err.reason, err.line, err.column)
        return False
    if built is yamlio._GENERAL:
        return False
    assert _same(built, expected), text[:200]
    return True


def test_the_events_path_builds_every_plain_scalar_form_as_the_loader_does() -> None:
    plain = [v for v in SCALARS if not v.startswith(("'", '"', "!")) and v not in {"=", "<<"}]
    for value in SCALARS:
        for text in (
            f"key: {value}\n",
            f"list: [{value}]\n",
            f"- {value}\n- [{value}, {value}]\n",
            f"{value}: in a key\n",
            f"flow: {{{value}: {value}}}\n",
            f"{value}\n",
            f'quoted: "{value}"\n',
            f"block: |\n  {value}\n",
        ):
            _events_as_general(text)
    text = "".join(f"k{i}: {value}\n" for i, value in enumerate(plain))
    assert _events_as_general(text)  # each plain form, as a value, on the events path


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\na: 2\n",  # duplicate key
        "a: 1\nb:\n  c: 1\n  c: 1\n",
        "1: x\n0x1: y\n",  # the same key once built (1)
        "true: x\n1: y\n",  # True == 1 in a dict
        "? [a]\n: b\n",  # complex key
        "{[a]: b}\n",
        "a: 1\n---\nb: 2\n",  # two documents
        "a: [1, 2\n",  # unclosed flow
        "a:\n\tb: 1\n",  # a tab
        "a: 'unterminated\n",
        "- a\nb: c\n",
        "a: b: c\n",
        "",
        "---\n",
        "# only a comment\n",
        "---\n...\n",
    ],
)
def test_the_events_path_leaves_what_it_does_not_build_to_the_loader(text: str) -> None:
    _events_as_general(text)
    if text.startswith(("a: 1\na: 2", "? [a]", "a: 1\n---")):
        assert yamlio._from_events(text) is yamlio._GENERAL


def test_the_events_path_stops_at_the_depth_guard_refuses() -> None:
    assert _events_as_general("[" * 100 + "x" + "]" * 100 + "\n")  # a node 100 levels deep: built
    assert _events_as_general("a: " + "[" * 99 + "x" + "]" * 99 + "\n")
    too_deep = "[" * 101 + "x" + "]" * 101 + "\n"
    assert not _events_as_general(too_deep)
    with pytest.raises(YamlError) as raised:
        load_plain(too_deep)
    assert raised.value.refused


def test_the_events_path_builds_every_yaml_file_of_the_repository_as_the_loader_does() -> None:
    built = sum(_events_as_general(path.read_text(encoding="utf-8", errors="replace")) for path in yaml_corpus())
    assert built > 50


_DATA = plain_data(SCALARS)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_DATA, **LAYOUTS)
def test_the_events_path_builds_dumped_data_as_the_loader_does(data: Any, flow: bool | None, width: int) -> None:
    _events_as_general(dumped(data, flow=flow, width=width))


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(st.sampled_from(SCALARS), min_size=1, max_size=6),
    layout=st.sampled_from(["- {}\n", "k{i}: {}\n", "[{}]\n", "x:\n  - {}\n", "? {}\n: v{i}\n"]),
)
def test_the_events_path_builds_hand_written_layouts_as_the_loader_does(values: list[str], layout: str) -> None:
    text = "".join(layout.format(value, i=i) for i, value in enumerate(values))
    _events_as_general(text)
