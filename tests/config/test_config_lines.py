"""Config problems name the line of their key path from ``yamlio.load_lines`` (libyaml's events, one pass),
which must give every line ``load_rt`` (ruamel's round-trip loader, seconds on a fleet's config) gives:
for every key path of every YAML file of the repository, of dumped data in every layout and of hand-written
layouts, and for paths that stop at a missing key or item."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.config.load import parse_config
from generator.config.problems import line_of
from generator.errors import ConfigError
from generator.yamlio import YamlError, load_lines, load_plain, load_rt
from tests.helpers.yaml_corpus import LAYOUTS, dumped, key_paths, plain_data, yaml_corpus


def _same_lines(text: str) -> bool:
    """Every key path of ``text`` (and one step past each into a missing key or item) has the same line in
    both trees; False when ruamel does not load the text."""
    try:
        rt = load_rt(text)
        data = load_plain(text)
    except YamlError:
        return False
    fast = load_lines(text)
    for path in key_paths(data):
        for probe in (path, (*path, "no-such-key"), (*path, 10_000)):
            assert line_of(fast, probe) == line_of(rt, probe), probe
    return True


def test_every_yaml_file_of_the_repository_has_the_same_lines() -> None:
    compared = sum(_same_lines(path.read_text(encoding="utf-8", errors="replace")) for path in yaml_corpus())
    assert compared > 50


def test_a_fleet_config_is_read_from_the_events_not_by_the_round_trip_loader() -> None:
    text = "clusters:\n" + "".join(f"  - name: c{n}\n    kustomizations:\n      - {{name: k}}\n" for n in range(50))
    lined = load_lines(text)
    assert not hasattr(lined, "ca")  # ruamel's round-trip nodes carry their comments there
    assert _same_lines(text)
    assert hasattr(load_lines("a: &x 1\nb: *x\n"), "ca")  # an alias: the round-trip loader's tree


def test_a_config_problem_names_its_line() -> None:
    """End to end: a bad value deep in a config is reported at its own line."""
    lines = ['flux: {version: "2.9.4"}', "git:", "  url: ssh://git@github.com/contoso/fleet", "clusters:"]
    for n in range(30):
        lines += [f"  - name: c{n}", "    kustomizations:", "      - name: apps", "        path: apps/x"]
    lines.insert(lines.index("  - name: c17") + 4, "        prune: maybe")
    text = "\n".join(lines) + "\n"
    with pytest.raises(ConfigError) as raised:
        parse_config(text, display="f.yaml")
    problems = [p for p in raised.value.problems if "prune" in p]
    assert problems and problems[0].startswith(f"f.yaml:{lines.index('        prune: maybe') + 1}: ")


_DATA = plain_data(["yes", "no", "~", "", "010", "1e3", "2001-12-14", "a: b", "- x", "#c", "'q'", '"d"'])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_DATA, **LAYOUTS)
def test_dumped_data_has_the_same_lines(data: Any, flow: bool | None, width: int) -> None:
    _same_lines(dumped(data, flow=flow, width=width))


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(st.sampled_from(["a", "", "{}", "[]", "|\n  x\n  y", ">-\n  z", "[1, {k: v}]"]), max_size=6),
    layout=st.sampled_from(
        ["- {}\n", "k{i}: {}\n", "[{}]\n", "x{i}:\n  - {}\n", "? k{i}\n: {}\n", "# c\n\nk{i}:\n\n  {}\n"]
        + ["---\nk: {}\n", "k{i}: {}\r\n"]
    ),
)
def test_hand_written_layouts_have_the_same_lines(values: list[str], layout: str) -> None:
    _same_lines("".join(layout.format(value, i=i) for i, value in enumerate(values)))
