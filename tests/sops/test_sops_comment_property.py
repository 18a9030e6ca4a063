"""Property (issue 17, item 1): comments never change data.

Hypothesis writes random YAML (nested mappings and lists, indentless lists, several documents) and
inserts comment lines at random lines and columns (empty ``#`` lines included), inline comments and
blank lines. Both tools encrypt it; the real ``sops decrypt`` opens both files, and the two outputs
are read as data by an independent parser (ruamel.yaml). The data from fluxforge's file always
equals the plaintext's data. Where sops's own file decrypts to the plaintext's data with every
comment readable, fluxforge's decrypts to the same text; where sops's own file changes the data (an
empty comment in an encrypted list becomes an item ``""``) or loses a comment (written where it
reads back under another key: ``#ENC[…]``), fluxforge refuses the file with a message instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from generator.errors import SopsError
from generator.sops import api
from generator.sops.stores.yaml_read import load_documents
from generator.sops.values import Branch, Comment
from generator.yamlio import make_yaml
from tests.helpers.sops import AgeKey, make_age_key, run_sops, write_rule

pytestmark = pytest.mark.interop

KEYS = ["a", "b", "data", "stringData", "password", "user_unencrypted", "port", "k"]
SCALARS = ["v1", "42", "0x1F", "true", "yes", "1.50", "2024-01-02", "~", "''", '"q s"', "'s q'", "a b", "-3", "x:y"]
COMMENTS = ["#", "# c", '# DEBUG: "1"', "#x", "# password: hunter2"]
SELECTORS = [
    "",
    "encrypted_regex: ^(data|stringData)$",
    "unencrypted_suffix: _unencrypted",
    "encrypted_comment_regex: DEBUG",
    "unencrypted_regex: ^port$",
]


@st.composite
def _lines(draw: Any, indent: int, step: int, depth: int) -> list[str]:
    """A block mapping at ``indent``: one line per key; values nested, listed or scalar."""
    out: list[str] = []
    for key in draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=3, unique=True)):
        kind = draw(st.sampled_from(["scalar", "map", "list"] if depth < 3 else ["scalar"]))
        if kind == "scalar":
            out.append(" " * indent + f"{key}: {draw(st.sampled_from(SCALARS))}")
            continue
        out.append(" " * indent + f"{key}:")
        if kind == "map":
            out.extend(draw(_lines(indent + step, step, depth + 1)))
            continue
        item_indent = indent + draw(st.sampled_from([0, step]))  # indentless lists too
        for _ in range(draw(st.integers(1, 3))):
            if draw(st.booleans()) and depth < 2:
                sub = draw(_lines(item_indent + 2, step, depth + 1))
                out.append(" " * item_indent + "- " + sub[0].lstrip())
                out.extend(sub[1:])
            else:
                out.append(" " * item_indent + f"- {draw(st.sampled_from(SCALARS))}")
    return out


@st.composite
def yaml_with_comments(draw: Any) -> str:
    docs = []
    for _ in range(draw(st.integers(1, 2))):
        lines = draw(_lines(0, draw(st.sampled_from([2, 4])), 0))
        for _ in range(draw(st.integers(1, 6))):
            at = draw(st.integers(0, len(lines)))
            column = draw(st.sampled_from([0, 2, 4, 6, 8]))
            lines.insert(at, " " * column + draw(st.sampled_from(COMMENTS)) if draw(st.integers(0, 5)) else "")
        for i, line in enumerate(lines):
            if line.strip() and not line.lstrip().startswith("#") and draw(st.integers(0, 9)) == 0:
                lines[i] = line + "  # inline"
        docs.append("\n".join(lines))
    return "\n---\n".join(docs) + "\n"


def _data(value: object) -> object:
    """The data of a fluxforge tree: comments dropped."""
    if isinstance(value, Branch):
        return [(k, _data(v)) for k, v in value if not isinstance(k, Comment)]
    if isinstance(value, list):
        return [_data(v) for v in value if not isinstance(v, Comment)]
    return value


def _comments(value: object, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    """Every comment with the key path of its container (what sops encrypts it under), sorted:
    a comment that moves within its key path still decrypts."""
    out: list[tuple[tuple[str, ...], str]] = []
    items = list(value) if isinstance(value, list) else []
    for item in items:
        key, child = item if isinstance(value, Branch) else (None, item)
        if isinstance(key, Comment) or isinstance(child, Comment):
            out.append((path, (key if isinstance(key, Comment) else child).value))  # type: ignore[union-attr]
        else:
            out.extend(_comments(child, (*path, str(key)) if isinstance(value, Branch) else path))
    return sorted(out)


def _read(text: str) -> tuple[list[object], list[tuple[tuple[str, ...], str]]]:
    docs = load_documents(text, "t")
    return [_data(d) for d in docs], [c for d in docs for c in _comments(d)]


def _ruamel_data(text: str) -> list[Any]:
    """The data of a sops output, read by ruamel.yaml (another parser than fluxforge's)."""
    return [_plain(doc) for doc in make_yaml(typ="safe").load_all(text)]


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return [(str(k), _plain(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, AgeKey]:
    path = tmp_path_factory.mktemp("comments")
    return path, make_age_key(path)


@settings(
    max_examples=24,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
)  # no shrinking: every step runs the real sops
@given(text=yaml_with_comments(), selector=st.sampled_from(SELECTORS))
def test_comments_never_change_data(work: tuple[Path, AgeKey], text: str, selector: str) -> None:
    path, key = work
    write_rule(path, key.recipient, selector)
    (path / "p.yaml").write_text(text)
    theirs = run_sops("encrypt", "p.yaml", cwd=path, check=False)
    rule = api.load_rules(path / ".sops.yaml").rule_for(path / "p.yaml")
    assert rule is not None
    try:
        ours: bytes | None = api.encrypt_bytes(text.encode(), fmt="yaml", rule=rule)
    except SopsError as err:
        ours, refusal = None, str(err)
    if theirs.returncode != 0:
        assert ours is None, f"sops refuses this file ({theirs.stderr!r}), fluxforge must too\n{text}"
        return
    plain = _read(text)
    (path / "theirs.yaml").write_bytes(theirs.stdout)
    sops_text = run_sops("decrypt", "theirs.yaml", cwd=path, key_file=key.key_file).stdout.decode()
    sops_ok = _read(sops_text) == plain and "type:comment]" not in sops_text  # same data, no comment lost
    if ours is None:
        assert not sops_ok, f"fluxforge refused a file sops handles: {refusal}\n{text}"
        assert "hunter2" not in refusal
        return
    (path / "ours.yaml").write_bytes(ours)
    our_text = run_sops("decrypt", "ours.yaml", cwd=path, key_file=key.key_file).stdout.decode()
    assert _read(our_text) == plain, text  # the same data, every comment kept under its key path
    assert "type:comment]" not in our_text, text
    if sops_ok:
        assert _ruamel_data(our_text) == _ruamel_data(sops_text), text
        assert our_text == sops_text, text
