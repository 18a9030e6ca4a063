"""Issue 17's cases one by one against the real sops 3.11.0 (the corpus and the property test cover
them at random; these name each one).

Where sops and its own documentation disagree, the binary wins: every expectation here is what
the binary printed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from generator.errors import SopsError
from generator.sops import api
from tests.helpers.sops import AgeKey, mask, run_sops, write_rule

pytestmark = pytest.mark.interop


def _both(work: Path, key: AgeKey, name: str, text: str | bytes, extra: str = "") -> tuple[bytes, bytes]:
    """(sops decrypt of fluxforge's ciphertext, sops decrypt of sops's own) for one plaintext."""
    write_rule(work, key.recipient, extra)
    data = text.encode() if isinstance(text, str) else text
    (work / name).write_bytes(data)
    rule = api.load_rules(work / ".sops.yaml").rule_for(work / name)
    assert rule is not None
    fmt = api.detect_format(name)
    (work / f"ours-{name}").write_bytes(api.encrypt_bytes(data, fmt=fmt, rule=rule))
    (work / f"theirs-{name}").write_bytes(run_sops("encrypt", name, cwd=work).stdout)
    ours = run_sops("decrypt", f"ours-{name}", cwd=work, key_file=key.key_file).stdout
    theirs = run_sops("decrypt", f"theirs-{name}", cwd=work, key_file=key.key_file).stdout
    return ours, theirs


# --- item 1: no silent data change --------------------------------------------------------------


def test_trailing_empty_comment_after_a_list_of_maps_stays_a_comment(work: Path, age_key: AgeKey) -> None:
    ours, theirs = _both(work, age_key, "k.yaml", "k11:\n  - m: v5\n  #\n")
    assert ours == theirs == b"k11:\n    - m: v5\n#\n"  # go-yaml hangs it after the list: no item ""


def test_an_empty_comment_inside_an_encrypted_list_is_refused(work: Path, age_key: AgeKey) -> None:
    """sops 3.11 encrypts it to "" and writes that as a list item: the data changes for good."""
    text = "k:\n  - a\n  #\n  - b\n"
    write_rule(work, age_key.recipient)
    (work / "l.yaml").write_text(text)
    rule = api.load_rules(work / ".sops.yaml").rule_for(work / "l.yaml")
    assert rule is not None
    with pytest.raises(
        SopsError,
        match=r"k: an empty comment line \('#'\) inside this list would become a list "
        r"item \"\"",
    ):
        api.encrypt_bytes(text.encode(), fmt="yaml", rule=rule)
    (work / "theirs.yaml").write_bytes(run_sops("encrypt", "l.yaml", cwd=work).stdout)
    shown = run_sops("decrypt", "theirs.yaml", cwd=work, key_file=age_key.key_file).stdout
    assert shown == b'k:\n    - a\n    - ""\n    - b\n'  # what sops itself makes of it
    # the same comment where no value is encrypted (encrypted_regex elsewhere) is fine: it stays clear
    ours, theirs = _both(work, age_key, "m.yaml", text, "encrypted_regex: ^data$")
    assert ours == theirs == b"k:\n    - a\n    #\n    - b\n"


# --- item 3: comments stay comments -------------------------------------------------------------

COMMENT_CASES = {
    "dedented between indented keys": 'a:\n  b: 1\n# DEBUG: "1"\n  c: 2\n',
    "before an alias and a merge key": (
        "base: &b\n  # in anchor\n  x: 1\n# before alias\nother: *b\nm:\n  # before merge\n  <<: *b\n  y: 2\n"
    ),
    "a comment-only document": "a: 1\n---\n# only a comment\n---\nb: 2\n",
    "on the --- line": "a: 1\n--- # on the dashes\nb: 2\n",
    "first line after a BOM": "\ufeff# first\na: 1\n",
    "head of a list item that is a mapping": "l:\n  # head\n  - a: 1\n    b: 2\nn: 1\n",
}


@pytest.mark.parametrize("text", COMMENT_CASES.values(), ids=COMMENT_CASES.keys())
def test_comments_land_where_sops_puts_them(work: Path, age_key: AgeKey, text: str) -> None:
    ours, theirs = _both(work, age_key, "c.yaml", text)
    assert ours == theirs
    assert b"type:comment]" not in ours


def test_a_comment_sops_would_read_back_under_another_key_is_refused(work: Path, age_key: AgeKey) -> None:
    """Dedented comments at the end of nested blocks: go-yaml writes them where it reads them back
    under another key, so their AAD no longer fits and sops shows #ENC[…] for ever."""
    text = "k00:\n  k10:\n    - v0\n# c1\n  k11: val1\n    # c2\n"
    write_rule(work, age_key.recipient)
    (work / "d.yaml").write_text(text)
    (work / "theirs.yaml").write_bytes(run_sops("encrypt", "d.yaml", cwd=work).stdout)
    shown = run_sops("decrypt", "theirs.yaml", cwd=work, key_file=age_key.key_file)
    rule = api.load_rules(work / ".sops.yaml").rule_for(work / "d.yaml")
    assert rule is not None
    try:
        ours = api.encrypt_bytes(text.encode(), fmt="yaml", rule=rule)
    except SopsError as err:
        assert "a comment here would not be read back by sops under this key" in str(err)
        assert b"type:comment]" in shown.stdout  # sops's own file keeps an undecryptable comment
        return
    (work / "ours.yaml").write_bytes(ours)
    assert run_sops("decrypt", "ours.yaml", cwd=work, key_file=age_key.key_file).stdout == shown.stdout


# --- item 4: decrypt output equals sops's -------------------------------------------------------

STRINGS = {
    "tabs": "a\tb\nc\td\n",
    "tab only": "x\n\ty",
    "line separator": "a\u2028b\u2028c",
    "next line": "a\x85b c",
    "leading BOM": "\ufeffhello x",
    "inner BOM": "x\ufeffy",
    "merge": "<<",
    "keep": "line\n\n",
    "tab then break": "a\n\tb\t\n",
    "emoji": "emoji 😀",
}


def test_decrypt_prints_what_sops_prints(work: Path, age_key: AgeKey) -> None:
    write_rule(work, age_key.recipient)
    (work / "s.json").write_text(json.dumps(STRINGS))
    theirs = run_sops("encrypt", "s.json", cwd=work).stdout
    for store in ("yaml", "json"):
        expected = run_sops(
            "decrypt", "--output-type", store, "/dev/stdin", cwd=work, key_file=age_key.key_file, input=theirs
        ).stdout
        (work / f"s.{store}").write_bytes(expected)
        (work / f"theirs.{store}").write_bytes(run_sops("encrypt", f"s.{store}", cwd=work).stdout)
        shown = run_sops("decrypt", f"theirs.{store}", cwd=work, key_file=age_key.key_file).stdout
        import os

        os.environ["SOPS_AGE_KEY_FILE"] = str(age_key.key_file)
        try:
            assert api.decrypt_bytes((work / f"theirs.{store}").read_bytes(), fmt=store) == shown, store
        finally:
            del os.environ["SOPS_AGE_KEY_FILE"]
    yaml_text = (work / "s.yaml").read_text()
    assert "tabs: |\n    a\tb\n" in yaml_text and "merge: !!merge <<" in yaml_text
    assert '"\\uFEFF\\x68\\x65\\x6C\\x6C\\x6F\\x20\\x78"' in yaml_text  # go-yaml escapes all after a BOM
    assert "line separator: 'a\u2028    b\u2028    c'" in yaml_text


def test_a_top_level_merge_key_with_a_scalar_value_is_refused(work: Path, age_key: AgeKey) -> None:
    """sops writes the key "<<" as the merge key `!!merge <<` and then cannot read its own file."""
    text = 'a: x\n"<<": y\n'
    write_rule(work, age_key.recipient)
    (work / "m.yaml").write_text(text)
    (work / "theirs.yaml").write_bytes(run_sops("encrypt", "m.yaml", cwd=work).stdout)
    done = run_sops("decrypt", "theirs.yaml", cwd=work, key_file=age_key.key_file, check=False)
    assert done.returncode != 0 and b"map merge requires map or sequence of maps" in done.stderr
    assert not api.is_encrypted((work / "theirs.yaml").read_bytes(), "yaml")  # sops cannot load it either
    rule = api.load_rules(work / ".sops.yaml").rule_for(work / "m.yaml")
    assert rule is not None
    with pytest.raises(SopsError, match=r"m:2: <<: a top-level '<<' key is a YAML merge key for sops"):
        api.encrypt_bytes(text.encode(), fmt="yaml", rule=rule, path_for_errors="m")
    # nested, or with a mapping as value, both tools are fine
    ours, theirs = _both(work, age_key, "n.yaml", 'a:\n  "<<": y\nx: &x\n  k: 1\n<<: *x\n')
    assert ours == theirs


def test_yaml_1_2_directive_is_refused_as_sops_refuses_it(work: Path, age_key: AgeKey) -> None:
    write_rule(work, age_key.recipient)
    (work / "v.yaml").write_text("%YAML 1.2\n---\na: b\n")
    done = run_sops("encrypt", "v.yaml", cwd=work, check=False)
    assert done.returncode != 0 and b"found incompatible YAML document" in done.stderr
    rule = api.load_rules(work / ".sops.yaml").rule_for(work / "v.yaml")
    assert rule is not None
    with pytest.raises(
        SopsError,
        match=r"v:1:1: invalid YAML: found incompatible YAML document \(a %YAML "
        r"directive other than 1.1: sops reads YAML 1.1 only",
    ):
        api.encrypt_bytes((work / "v.yaml").read_bytes(), fmt="yaml", rule=rule, path_for_errors="v")
    ours, theirs = _both(work, age_key, "w.yaml", "%YAML 1.1\n---\na: b\n")
    assert ours == theirs == b"a: b\n"


def test_binary_envelope_keeps_tabs_whatever_the_json_indent(work: Path, age_key: AgeKey) -> None:
    """sops indents the binary store's JSON envelope by stores.json_binary, not stores.json."""
    (work / ".sops.yaml").write_text(
        f"stores:\n  json:\n    indent: 2\ncreation_rules:\n  - age: {age_key.recipient}\n"
    )
    (work / "b.bin").write_bytes(b"payload\n")
    theirs = run_sops("encrypt", "b.bin", cwd=work).stdout
    rules = api.load_rules(work / ".sops.yaml")
    rule = rules.rule_for(work / "b.bin")
    assert rule is not None
    ours = api.encrypt_bytes(b"payload\n", fmt="binary", rule=rule)
    assert ours.startswith(b'{\n\t"data": "ENC[') and mask(ours.decode()) == mask(theirs.decode())
    (work / ".sops.yaml").write_text(
        f"stores:\n  json_binary:\n    indent: 3\ncreation_rules:\n  - age: {age_key.recipient}\n"
    )
    theirs = run_sops("encrypt", "b.bin", cwd=work).stdout
    rule = api.load_rules(work / ".sops.yaml").rule_for(work / "b.bin")
    assert rule is not None
    ours = api.encrypt_bytes(b"payload\n", fmt="binary", rule=rule)
    assert ours.startswith(b'{\n   "data": "ENC[') and mask(ours.decode()) == mask(theirs.decode())


# --- Should: value types are not bound by the MAC ------------------------------------------------


def _retyped(work: Path, key: AgeKey, kind: str) -> Path:
    write_rule(work, key.recipient)
    (work / "t.yaml").write_text('a: "42"\nb: hello\n')
    text = run_sops("encrypt", "t.yaml", cwd=work).stdout.decode()
    changed = re.sub(r"type:str\]", f"type:{kind}]", text, count=1)
    (work / f"t-{kind}.yaml").write_text(changed)
    return work / f"t-{kind}.yaml"


def test_type_bytes_is_refused_where_sops_crashes(work: Path, age_key: AgeKey) -> None:
    path = _retyped(work, age_key, "bytes")
    done = run_sops("decrypt", path.name, cwd=work, key_file=age_key.key_file, check=False)
    assert done.returncode != 0 and b"panic" in done.stderr
    import os

    os.environ["SOPS_AGE_KEY_FILE"] = str(age_key.key_file)
    try:
        with pytest.raises(SopsError, match=r"a: cannot decrypt: type:bytes, which sops never writes"):
            api.decrypt_bytes(path.read_bytes(), fmt="yaml", path_for_errors="t")
    finally:
        del os.environ["SOPS_AGE_KEY_FILE"]


def test_type_int_instead_of_str_passes_both_tools(work: Path, age_key: AgeKey) -> None:
    """The documented limitation (docs/sops.md): the MAC covers the bytes, not the type."""
    path = _retyped(work, age_key, "int")
    assert run_sops("decrypt", path.name, cwd=work, key_file=age_key.key_file).stdout == b"a: 42\nb: hello\n"
    import os

    os.environ["SOPS_AGE_KEY_FILE"] = str(age_key.key_file)
    try:
        assert api.decrypt_bytes(path.read_bytes(), fmt="yaml") == b"a: 42\nb: hello\n"
    finally:
        del os.environ["SOPS_AGE_KEY_FILE"]
