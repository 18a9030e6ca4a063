"""Properties of the three-way merge over random YAML trees (hypothesis)."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from generator.merge.nodes import render_path
from generator.merge.text import merge_text
from generator.yamlio import dump_rt, load_rt

KEYS = st.sampled_from(["a", "b", "c", "d", "e", "f"])
SCALARS = st.integers(0, 50) | st.text("xyz", min_size=1, max_size=4)
TREES = st.recursive(
    SCALARS,
    lambda inner: (
        st.dictionaries(KEYS, inner, min_size=1, max_size=4)
        | st.lists(st.text("pqr", min_size=1, max_size=3), min_size=1, max_size=4, unique=True)
    ),
    max_leaves=12,
)
ROOTS = st.dictionaries(KEYS, TREES, min_size=1, max_size=5)


def leaves(tree: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if isinstance(tree, dict):
        return [p for k, v in tree.items() for p in leaves(v, (*path, k))]
    return [path]


def put(tree: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        tree = tree[key]
    tree[path[-1]] = value


def get(tree: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        tree = tree[key]
    return tree


def plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    return node if isinstance(node, int) else str(node)


@settings(max_examples=100, deadline=None)
@given(ROOTS, st.data())
def test_disjoint_edits_both_apply_without_conflict(base: dict[str, Any], data: st.DataObject) -> None:
    paths = leaves(base)
    owner = data.draw(st.lists(st.sampled_from(["ours", "theirs", "none"]), min_size=len(paths), max_size=len(paths)))
    ours, theirs, expected = copy.deepcopy(base), copy.deepcopy(base), copy.deepcopy(base)
    for path, who in zip(paths, owner, strict=True):
        if who == "none":
            continue
        value = f"{who}-{len(path)}"
        put(ours if who == "ours" else theirs, path, value)
        put(expected, path, value)
    ours["zz_user"] = "mine"
    expected["zz_user"] = "mine"
    theirs["new_key"] = 7
    expected["new_key"] = 7
    merged = merge_text(dump_rt(base), dump_rt(ours), dump_rt(theirs))
    assert merged.clean, merged.conflicts
    assert merged.text is not None
    assert plain(load_rt(merged.text)) == plain(expected)
    # the merged file against the new render is a fixed point (a second upgrade changes nothing)
    assert merge_text(dump_rt(theirs), merged.text, dump_rt(theirs)).text == merged.text


@settings(max_examples=100, deadline=None)
@given(ROOTS, st.data())
def test_same_leaf_changed_differently_is_one_conflict(base: dict[str, Any], data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(leaves(base)))
    ours, theirs = copy.deepcopy(base), copy.deepcopy(base)
    put(ours, path, "mine")
    put(theirs, path, "upgrade")
    merged = merge_text(dump_rt(base), dump_rt(ours), dump_rt(theirs))
    assert [c.path for c in merged.conflicts] == [render_path(path)]
    assert merged.text is not None and get(load_rt(merged.text), path) == "mine"
    forced = merge_text(dump_rt(base), dump_rt(ours), dump_rt(theirs), force=True)
    assert forced.text is not None and get(load_rt(forced.text), path) == "upgrade"


@settings(max_examples=100, deadline=None)
@given(ROOTS, ROOTS)
def test_one_sided_changes_take_that_side_exactly(base: dict[str, Any], other: dict[str, Any]) -> None:
    b, o = dump_rt(base), dump_rt(other)
    assert merge_text(b, b, o).text == o
    assert merge_text(b, o, b).text == o
    assert merge_text(b, o, o).text == o


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text("pqrs", min_size=1, max_size=3), min_size=1, max_size=6, unique=True), st.data())
def test_scalar_lists_merge_by_value(items: list[str], data: st.DataObject) -> None:
    """The user reorders and adds, the upgrade drops and appends: every change survives."""
    ours = data.draw(st.permutations(items))
    dropped = data.draw(st.sampled_from(items))
    theirs = [i for i in items if i != dropped] + ["new-upgrade"]
    ours_added = [*ours[:1], "mine", *ours[1:]]
    merged = merge_text(dump_rt({"l": items}), dump_rt({"l": ours_added}), dump_rt({"l": theirs}))
    assert merged.clean
    assert merged.text is not None
    assert plain(load_rt(merged.text)["l"]) == [i for i in ours_added if i != dropped] + ["new-upgrade"]
