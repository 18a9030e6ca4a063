"""Config problems name the line of their key path from ``yamlio.load_lines`` (libyaml's events, one pass),
which must give every line ``load_rt`` (ruamel's round-trip loader, seconds on a fleet's config) gives:
for every key path of every YAML file of the repository, of dumped data in every layout and of hand-written
layouts, and for paths that stop at a missing key or item."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from generator.config.load import parse_config
from generator.config.problems import line_of
from generator.errors import ConfigError
from generator.yamlio import YamlError, load_lines, load_plain, load_rt
from tests.helpers import REPO_ROOT


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _paths(value, (*prefix, index))


def _same_lines(text: str) -> bool:
    """Every key path of ``text`` (and one step past each into a missing key or item) has the same line in
    both trees; False when ruamel does not load the text."""
    try:
        rt = load_rt(text)
        data = load_plain(text)
    except YamlError:
        return False
    fast = load_lines(text)
    for path in _paths(data):
        for probe in (path, (*path, "no-such-key"), (*path, 10_000)):
            assert line_of(fast, probe) == line_of(rt, probe), probe
    return True


def _corpus() -> list[Path]:
    skip = {".venv", ".git", "node_modules", "__pycache__"}
    return sorted(
        p
        for p in REPO_ROOT.rglob("*")
        if p.suffix in {".yaml", ".yml"} and p.is_file() and not skip & set(p.relative_to(REPO_ROOT).parts)
    )


def test_every_yaml_file_of_the_repository_has_the_same_lines() -> None:
    compared = sum(_same_lines(path.read_text(encoding="utf-8", errors="replace")) for path in _corpus())
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
    try:
        parse_config(text, display="f.yaml")
    except ConfigError as err:
        problems = [p for p in err.problems if "prune" in p]
    assert problems and problems[0].startswith(f"f.yaml:{lines.index('        prune: maybe') + 1}: ")


_SCALAR = st.one_of(
    st.sampled_from(["yes", "no", "~", "", "010", "1e3", "2001-12-14", "a: b", "- x", "#c", "'q'", '"d"']),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=10),
    st.integers(),
    st.booleans(),
    st.none(),
)
_DATA = st.recursive(
    _SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=6), st.integers(), st.booleans()), inner, max_size=4),
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_DATA, flow=st.sampled_from([None, True, False]), width=st.sampled_from([20, 4096]))
def test_dumped_data_has_the_same_lines(data: Any, flow: bool | None, width: int) -> None:
    out = io.StringIO()
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = flow
    yaml.width = width
    yaml.dump({"root": data}, out)
    _same_lines(out.getvalue())


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
