"""YAML to test readers against: every YAML file of the repository, hypothesis data dumped in every layout,
and every key path of a document."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from ruamel.yaml import YAML

from tests.helpers import REPO_ROOT


def yaml_corpus() -> list[Path]:
    """Every ``.yaml``/``.yml`` file of the repository (not in .venv, .git, node_modules or caches)."""
    skip = {".venv", ".git", "node_modules", "__pycache__"}
    return sorted(
        p
        for p in REPO_ROOT.rglob("*")
        if p.suffix in {".yaml", ".yml"} and p.is_file() and not skip & set(p.relative_to(REPO_ROOT).parts)
    )


def key_paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """``path`` and the key path of everything below ``node`` (mapping keys and list indexes), depth first."""
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from key_paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from key_paths(value, (*path, index))


def plain_data(scalars: Sequence[str]) -> st.SearchStrategy[Any]:
    """Nested lists and mappings of ``scalars`` (as text), other text, numbers, booleans and nulls."""
    scalar = st.one_of(
        st.sampled_from(list(scalars)),
        st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12),
        st.integers(),
        st.floats(allow_nan=True),
        st.booleans(),
        st.none(),
    )
    return st.recursive(
        scalar,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(st.one_of(st.text(max_size=8), st.integers(), st.booleans()), inner, max_size=4),
        ),
        max_leaves=25,
    )


LAYOUTS = {"flow": st.sampled_from([None, True, False]), "width": st.sampled_from([20, 4096])}
"""Keyword strategies for :func:`dumped`: block, flow and mixed styles; short and long lines."""


def dumped(data: Any, *, flow: bool | None, width: int) -> str:
    """``{"root": data}`` as ruamel's pure-Python dumper writes it in that style."""
    out = io.StringIO()
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = flow
    yaml.width = width
    yaml.dump({"root": data}, out)
    return out.getvalue()
