"""The keyless check's fast YAML/JSON reader (libyaml nodes) gives exactly what the round-trip reader gives.

``generator.check.parse._fast_tree`` either declines a stream (tags, anchors, merge keys, directives,
complex or duplicate keys, anything libyaml does not parse: the round-trip reader then decides) or
returns the same ``Parsed``: the same leaves with key paths, values and ``line:col``, the same sops
metadata and its position, the same documents. Proven on every YAML/JSON file of the repository's
fixtures and corpora, on the upstream sops files, on generated documents, and on the check's verdicts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.check import parse as check_parse
from generator.check.scan import Rules, check_content
from generator.yamlio import dump_rt
from tests.helpers import require_vectors
from tests.helpers.hooks import CORPUS

REPO = Path(__file__).resolve().parents[2]
FILES = sorted(
    p
    for base in ("tests", "sample-repo")
    for p in (REPO / base).rglob("*")
    if p.suffix in (".yaml", ".yml", ".json") and p.is_file() and "__pycache__" not in p.parts
)


def _located(leaf: check_parse.Leaf) -> tuple[Any, ...]:
    return (leaf.keys, leaf.where, leaf.value, *((leaf.line, leaf.col) if leaf.value is not None else ()))


def _same(fmt: str, text: str) -> bool:
    """Assert fast == round-trip when the fast path takes ``text``; whether it took it."""
    fast = check_parse._fast_tree(fmt, text)
    try:
        slow: check_parse.Parsed | None = check_parse._rt_tree(fmt, text)
    except check_parse.ParseError:
        slow = None
    if fast is None:
        return False
    assert slow is not None, "the fast path read a stream the round-trip reader refuses"
    # a null's position is never reported (a null is neither a secret nor ciphertext), and the parsers
    # place an empty value differently (libyaml: after the colon, ruamel: at the next token)
    assert [_located(leaf) for leaf in fast.leaves] == [_located(leaf) for leaf in slow.leaves]
    assert [(isinstance(a.value, str), a.value is None) for a in fast.leaves] == [
        (isinstance(b.value, str), b.value is None) for b in slow.leaves
    ]
    assert fast.metadata == slow.metadata
    assert (fast.meta_line, fast.meta_col) == (slow.meta_line, slow.meta_col)
    assert fast.documents == slow.documents
    assert [type(d) is list for d in fast.documents] == [isinstance(d, list) for d in slow.documents]
    return True


def test_the_repository_files_read_the_same() -> None:
    assert len(FILES) > 50
    taken = [
        p for p in FILES if _same("json" if p.suffix == ".json" else "yaml", p.read_bytes().decode("utf-8", "replace"))
    ]
    # most files take the fast path (the comparison is not vacuous), the encrypted corpus files among them
    assert len(taken) > len(FILES) // 2
    assert any(b"ENC[AES256_GCM" in p.read_bytes() for p in taken)


def test_the_upstream_sops_files_read_the_same() -> None:
    vectors = [p for p in require_vectors().rglob("*") if p.suffix in (".yaml", ".json") and p.is_file()]
    taken = [p for p in vectors if _same(p.suffix[1:], p.read_bytes().decode("utf-8", "replace"))]
    assert taken, "no upstream sops file took the fast path"


@pytest.mark.parametrize(
    "text",
    [
        "a: !!binary aGVsbG8=\n",  # a tag
        "base: &b {x: 1}\nother: *b\n",  # an anchor and alias
        "<<: {x: 1}\ny: 2\n",  # a merge key
        "%YAML 1.1\n---\nflag: yes\n",  # a directive (1.1 resolves `yes` as a bool)
        "? [a, b]\n: c\n",  # a complex key
        "a: 1\na: 2\n",  # a duplicate key
        "1: x\n1.0: y\n",  # equal keys of different spellings
        "a: [1, 2\n",  # a syntax error
        "when: 2024-13-45\n",  # a timestamp-like value
    ],
)
def test_what_the_fast_path_declines_or_reads_the_same(text: str) -> None:
    _same("yaml", text)


def test_the_declined_shapes_are_declined() -> None:
    for text in (
        "a: !!str x\n",
        "a: &x 1\nb: *x\n",
        "<<: {x: 1}\n",
        "%YAML 1.2\n---\na: 1\n",
        "a: 1\na: 2\n",
        "? [a]\n: b\n",
        "a: [1\n",
    ):
        assert check_parse._fast_tree("yaml", text) is None, text


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12),
    st.sampled_from(
        [
            "ENC[AES256_GCM,data:aGk=,iv:YWFh,tag:YmJi,type:str]",
            "${VAR}",
            "",
            "~",
            "null",
            "true",
            "0o17",
            "0x1F",
            "1_000",
            "2024-01-01",
            "2024-01-01T00:00:00Z",
            "-",
            "a: b",
            "#x",
            "'q'",
        ]
    ),
)
_keys = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=8),
    st.sampled_from(["data", "stringData", "sops", "kind", "mac", "1", "true", "null"]),
)
_trees = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_keys, inner, max_size=4)),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs=st.lists(st.dictionaries(_keys, _trees, max_size=5), min_size=1, max_size=3), as_json=st.booleans())
def test_generated_documents_read_the_same(docs: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        _same("json", json.dumps(docs[0], indent=2, default=str))
        return
    text = "---\n".join(dump_rt(doc) for doc in docs)
    _same("yaml", text)


@pytest.mark.parametrize("rel", sorted(str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*") if p.is_file()))
def test_the_verdicts_are_the_same(rel: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CORPUS)
    rules = Rules.load()
    data = (CORPUS / rel).read_bytes()
    fast = check_content(Path(rel), data, rules)
    monkeypatch.setattr(check_parse, "_fast_tree", lambda fmt, text: None)
    assert check_content(Path(rel), data, rules) == fast
