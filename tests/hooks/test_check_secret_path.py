"""The keyless check reads an encrypted Secret without composing it (issue 19, item 3), and says the same.

``check.parse._secret_tree`` takes a file whose data lines are Secret-shaped and whose ``sops:`` block has
the layout sops writes, as the sops store's line readers read it (``yaml_fast.read_encrypted``, whose
reading ``detect`` then reuses instead of composing the block again). It must give exactly the ``Parsed``
of the general path (libyaml nodes, or the round-trip reader), ``check`` the same problems, messages and
encrypted verdict, and ``sops_state`` the same state (metadata included) as with the line readers off.
The corpus: Secrets encrypted by the real sops and by fluxforge, the bench's broken files (a value
decrypted back, the MAC deleted, a ``sops:`` key that is not metadata, ``ENC[`` inside plaintext), the
hook corpus, and systematic edits of each: the data lines, the ``sops:`` block, and scalars that go-yaml
and YAML 1.2 resolve differently.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from generator.check import parse as check_parse
from generator.check.rules import Problem
from generator.check.scan import Rules, _is_sops_file, check_content, check_file
from generator.errors import SopsError
from generator.sops import api
from generator.sops.rules import CreationRule
from generator.sops.stores import yaml_fast
from generator.yaml12 import plain_is_string
from tests.helpers.hooks import CORPUS
from tests.helpers.sops import make_age_key, run_sops
from tests.sops.test_sops_detect import TAIL_EDITS
from tests.sops.test_sops_fast import _META_EDITS, _edit_meta, secrets

pytestmark = pytest.mark.interop

SECRET = (
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app-{n}\n  namespace: team-{n}\ntype: Opaque\n"
    "stringData:\n  username: user-{n}\n  password: p4ssw0rd-{n}\n  url: https://db.example.com:5432/app\n"
)
# plain scalars read as strings by go-yaml (so the line readers take them) but not by YAML 1.2, and back
AMBIGUOUS = ["2024-13-45", "=", "._1", "2024-1-1", "0o17", "1_000", "true", "yes", "null", "~", "-", "+1", "n"]


def _scalar_edits() -> Iterator[tuple[str, Callable[[str], str]]]:
    for word in AMBIGUOUS:
        yield f"data value {word}", lambda t, w=word: t.replace("kind: Secret", f"kind: {w}", 1)
        yield f"data key {word}", lambda t, w=word: f"{w}: x\n" + t
        yield f"sops version {word}", lambda t, w=word: re.sub(r"(?m)^(\s+version:) .*$", rf"\1 {w}", t, count=1)
        yield f"sops key {word}", lambda t, w=word: t.replace("\nsops:\n", f"\nsops:\n    {w}: x\n", 1)


def _shape_edits() -> Iterator[tuple[str, Callable[[str], str]]]:
    yield "as written", lambda t: t
    yield "a value decrypted back", lambda t: re.sub(r"password: ENC\[[^\]]*\]", "password: p4ssw0rd", t)
    yield "the MAC deleted", lambda t: re.sub(r"(?m)^    mac: .*\n", "", t)
    yield "a non-ASCII key and value", lambda t: "schlüssel: wert-é\n\U0001f511: v\n" + t
    yield "a deeper indentation", lambda t: t.replace("\n  ", "\n      ").replace("\n    ", "\n        ")
    yield "a long key", lambda t: "k" * 200 + ": v\n" + t
    yield "a key longer than YAML allows", lambda t: "k" * 1100 + ": v\n" + t
    yield "a control character in a value", lambda t: t.replace("kind: Secret", "kind: Sec\x7fret", 1)
    yield "an exclamation mark", lambda t: t.replace("kind: Secret", "kind: Secret!", 1)
    deep = "".join(f"{'    ' * (i + 1)}l{i}:\n" for i in range(22)) + "    " * 23 + "x: z\n"
    yield "a deep sops block", lambda t: t.replace("\nsops:\n", "\nsops:\n" + deep, 1)
    yield "plain text ENC[ in a value", lambda t: t.replace("kind: Secret", "kind: ENC[AES256_GCM,x]", 1)
    yield "a sops key that is not metadata", lambda t: t.split("\nsops:\n")[0] + "\nsops:\n    age: age1notakey\n"
    for what, old, new in _META_EDITS:
        yield f"sops block: {what}", lambda t, o=old, n=new: _edit_meta(t, o, n)
    for what, edit in TAIL_EDITS:
        yield f"file: {what}", edit
    yield from _scalar_edits()


@pytest.fixture(scope="module")
def encrypted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A work folder with a ``.sops.yaml`` (``secrets/`` must be encrypted) and encrypted Secrets: made by
    the real sops (both selectors the bench uses) and by fluxforge (values near YAML's edges)."""
    work = tmp_path_factory.mktemp("secret-path")
    key = make_age_key(work)
    texts = []
    for n, flags in enumerate(([], ["--encrypted-regex", "^(data|stringData)$"])):
        (work / f"plain{n}.yaml").write_text(SECRET.format(n=n))
        done = run_sops("encrypt", "--age", key.recipient, *flags, f"plain{n}.yaml", cwd=work, key_file=key.key_file)
        texts.append(done.stdout.decode())
    (work / ".sops.yaml").write_text(
        "creation_rules:\n  - path_regex: secrets/.*\\.yaml$\n    encrypted_regex: ^(data|stringData)$\n"
        f"    age: {key.recipient}\n"
    )
    for selector in (None, ("encrypted_regex", "^(data|stringData)$")):
        rule = CreationRule(key_groups=[[("age", key.recipient)]], selector=selector)
        for name, plain in [("bench", SECRET.format(n=7)), *secrets(5)]:
            try:
                texts.append(api.encrypt_bytes(plain.encode(), fmt="yaml", rule=rule, path_for_errors=name).decode())
            except SopsError:
                continue  # an odd value no YAML reader takes
    return work, texts


def _general_parse(text: str) -> object:
    try:
        return check_parse._parse_tree("yaml", text)
    except check_parse.ParseError as err:
        return (str(err), err.line, err.col)


def _verdicts(rules: Rules, data: bytes) -> list[tuple[list[Problem], bool]]:
    paths = [Path(rel) for rel in ("secrets/x.yaml", "apps/x.yaml", "notes/x.txt")]
    return [(check_content(path, data, rules), _is_sops_file(path, data)) for path in paths]


def test_the_secret_path_gives_the_general_parse_and_verdicts(
    encrypted: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    work, texts = encrypted
    monkeypatch.chdir(work)
    rules = Rules.load()
    taken = 0
    for text in _corpus(texts):
        fast = check_parse._secret_tree(text)
        verdicts = _verdicts(rules, text.encode())
        state = api.sops_state(text.encode(), "yaml")
        with monkeypatch.context() as m:
            m.setattr(yaml_fast, "read_encrypted", lambda _text, keep=False: None)
            general = _general_parse(text)
            assert _verdicts(rules, text.encode()) == verdicts, text
            assert api.sops_state(text.encode(), "yaml") == state, text
        if fast is not None:
            taken += 1
            assert fast == general, text
    # most of the written files, and many of the edits, take the line readers (the comparison is not vacuous)
    assert taken >= len(texts) * 12, taken


def _corpus(texts: list[str]) -> list[str]:
    """Each encrypted text with every edit, and the hook corpus."""
    corpus = [edit(text) for text in texts for _, edit in _shape_edits()]
    return corpus + [p.read_text(errors="replace") for p in CORPUS.rglob("*.yaml")]


def test_one_reading_gives_both_answers(encrypted: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    """``check_file`` takes the problems and the encrypted verdict from one reading (the encrypted verdict from
    the ``sops:`` block the parse read, ``sops.api.shaped_state``): the same as ``check_content`` and
    ``_is_sops_file`` asked one after the other, the latter without the line readers (its general path)."""
    work, texts = encrypted
    monkeypatch.chdir(work)
    rules = Rules.load()
    shaped: set[bool] = set()
    for text in _corpus(texts):
        data = text.encode()
        for rel in ("secrets/x.yaml", "apps/x.yaml", "notes/x.txt"):
            verdict = check_file(rel, data, rules)
            with monkeypatch.context() as m:
                m.setattr(yaml_fast, "read_encrypted", lambda _text, keep=False: None)
                general = (check_content(Path(rel), data, rules), _is_sops_file(Path(rel), data))
            assert (verdict.problems, verdict.encrypted) == general, (rel, text)
            if rel == "secrets/x.yaml" and check_parse._secret_tree(text) is not None:
                shaped.add(verdict.encrypted)
    assert shaped == {True, False}  # the one-reading verdict decided both ways (the MAC deleted: not encrypted)


def test_what_the_secret_path_declines(encrypted: tuple[Path, list[str]]) -> None:
    """Scalars that YAML 1.2 reads as something else than go-yaml does go the general way."""
    _work, texts = encrypted
    text = texts[1]  # the real sops's, data and stringData encrypted only
    assert "kind: Secret" in text and check_parse._secret_tree(text) is not None
    for name, edit in _scalar_edits():
        if name.split()[-1] in ("2024-13-45", "=", "._1"):
            assert edit(text) != text and check_parse._secret_tree(edit(text)) is None, name


def test_decrypt_takes_over_what_the_check_read(
    encrypted: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``detect`` keeps the block it read for the store, the store takes it and decrypts it in place: the
    next reader of the same text reads it afresh, so it sees ciphertext (never the store's plaintext), and
    the verdicts before and after are the same; decrypting twice gives the same plaintext."""
    work, _texts = encrypted
    key = make_age_key(work, "other.txt")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.key_file))
    rule = CreationRule(key_groups=[[("age", key.recipient)]])
    data = api.encrypt_bytes(SECRET.format(n=3).encode(), fmt="yaml", rule=rule, path_for_errors="s.yaml")
    before = check_parse._secret_tree(data.decode())
    state = api.sops_state(data, "yaml")
    assert before is not None and state.encrypted
    plain = api.decrypt_bytes(data, fmt="yaml")
    assert b"p4ssw0rd-3" in plain
    after = check_parse._secret_tree(data.decode())
    assert after == before and "p4ssw0rd-3" not in repr(after)
    assert api.sops_state(data, "yaml") == state
    assert api.decrypt_bytes(data, fmt="yaml") == plain


SCALARS = [*(w for w in AMBIGUOUS if w != "-"), "apiVersion", "v1", "Secret", "ENC[AES256_GCM,data:x]", "3.11.0"]
SCALARS += ["1e3", ".inf", "NaN", "0x1f", "2001-12-14t21:59:43.10-05:00", "2026-11-30T14:10:57Z", "<<", "Null"]
SCALARS += ["FALSE", "on", "off", "y", "a" * 80]


@pytest.mark.parametrize("text", SCALARS)
def test_yaml12_string_is_what_the_composer_resolves(text: str) -> None:
    """The line readers' "is this plain scalar a string in YAML 1.2" answers as libyaml's composer resolves
    it, also when the answer is remembered (asked twice)."""
    from generator.yamlio import compose_all

    value = compose_all(f"k: {text}\n")[0].value[0][1]
    expected = value.tag == "tag:yaml.org,2002:str"
    assert plain_is_string(text) is expected, text
    assert plain_is_string(text) is expected, text
