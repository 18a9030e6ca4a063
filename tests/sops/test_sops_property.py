"""Property tests: random trees round-trip through fluxforge; a sample goes through the real sops;
float canonical form and YAML scalar resolution agree with sops on random inputs."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.sops import api, engine
from generator.sops.aead import Cipher
from generator.sops.keys import KeyOptions
from generator.sops.rules import CreationRule
from generator.sops.stores.yaml_emit import emit_documents
from generator.sops.values import Branch, format_float
from tests.helpers.sops import AgeKey, make_age_key, run_sops, write_rule

KEYS = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x2FF, blacklist_characters="\x7f"),
    min_size=1,
    max_size=12,
)
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\x85\u2028\u2029"), max_size=30
    ).filter(lambda s: not s[:1].isspace()),  # sops writes "|4-" blocks it cannot re-read
)


def _branch(pairs: dict[str, object]) -> Branch:
    return Branch((k, _conv(v)) for k, v in pairs.items())


def _conv(value: object) -> object:
    if isinstance(value, dict):
        return _branch(value)
    if isinstance(value, list):
        return [_conv(v) for v in value]
    return value


TREES = st.recursive(
    LEAVES,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=4)),
    max_leaves=12,
)
DOCS = st.dictionaries(KEYS.filter(lambda k: k != "sops"), TREES, min_size=1, max_size=5)


@pytest.fixture(scope="module")
def module_key(tmp_path_factory: pytest.TempPathFactory) -> AgeKey:
    return make_age_key(tmp_path_factory.mktemp("propkey"))


def _plain(doc: dict[str, object]) -> bytes:
    """The document as YAML, normalised through one read/write (YAML itself is lossy, as in sops:
    the float -0.0 is written ``-0`` and read back as the int 0)."""
    from generator.sops.stores.yaml_read import load_documents

    first = emit_documents([_branch(doc)])
    return emit_documents(load_documents(first, "doc")).encode("utf-8", "surrogateescape")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=DOCS, selector=st.sampled_from([None, ("encrypted_regex", "^a"), ("unencrypted_suffix", "x")]))
def test_roundtrip_through_fluxforge(
    module_key: AgeKey, monkeypatch: pytest.MonkeyPatch, doc: dict[str, object], selector: tuple[str, str] | None
) -> None:
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(module_key.key_file))
    plain = _plain(doc)
    rule = CreationRule(key_groups=[[("age", module_key.recipient)]], selector=selector)
    encrypted = api.encrypt_bytes(plain, fmt="yaml", rule=rule)
    assert api.decrypt_bytes(encrypted, fmt="yaml") == plain


@pytest.mark.interop
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=DOCS)
def test_sample_through_sops(
    module_key: AgeKey, tmp_path_factory: pytest.TempPathFactory, doc: dict[str, object]
) -> None:
    work = tmp_path_factory.mktemp("prop")
    write_rule(work, module_key.recipient)
    plain = _plain(doc)
    (work / "d.yaml").write_bytes(plain)
    rule = api.load_rules(work / ".sops.yaml").rule_for(work / "d.yaml")
    assert rule is not None
    (work / "ours.yaml").write_bytes(api.encrypt_bytes(plain, fmt="yaml", rule=rule))
    theirs = run_sops("encrypt", "d.yaml", cwd=work).stdout
    expected = run_sops(
        "decrypt",
        "--input-type",
        "yaml",
        "--output-type",
        "yaml",
        "/dev/stdin",
        cwd=work,
        key_file=module_key.key_file,
        input=theirs,
    ).stdout
    assert run_sops("decrypt", "ours.yaml", cwd=work, key_file=module_key.key_file).stdout == expected
    import os

    os.environ["SOPS_AGE_KEY_FILE"] = str(module_key.key_file)
    try:
        assert api.decrypt_bytes(theirs, fmt="yaml") == expected
    finally:
        del os.environ["SOPS_AGE_KEY_FILE"]


def _sops_plaintexts(work: Path, key: AgeKey, name: str, content: bytes) -> dict[str, tuple[bytes, str]]:
    """Encrypt with sops, then read each value's raw plaintext and type with the data key."""
    (work / name).write_bytes(content)
    encrypted = run_sops("encrypt", name, cwd=work).stdout
    fmt = api.detect_format(name)
    _, raw = engine.store_for(fmt).load_encrypted(encrypted, name)
    from generator.sops import metadata

    meta = metadata.from_mapping(raw, name)
    import os

    os.environ["SOPS_AGE_KEY_FILE"] = str(key.key_file)
    try:
        data_key = engine.recover_key(meta, {}, KeyOptions(), name)
    finally:
        del os.environ["SOPS_AGE_KEY_FILE"]
    docs, _ = engine.store_for(fmt).load_encrypted(encrypted, name)
    cipher = Cipher(data_key)
    return {str(k): cipher.decrypt_raw(v, f"{k}:") for k, v in docs[0] if isinstance(v, str) and v}


@pytest.mark.interop
def test_float_canonical_form_matches_sops(work: Path, age_key: AgeKey) -> None:
    rng = random.Random(1234)
    values = [0.1, 1e-05, 1e22, 1.5, -0.0, 1234568000.0, 2.0**60, 5e-324, 1.7976931348623157e308, 0.3, 100.0]
    values += [rng.uniform(-1e6, 1e6) for _ in range(40)]
    values += [math.ldexp(rng.random(), rng.randint(-80, 80)) for _ in range(40)]
    write_rule(work, age_key.recipient)
    doc = {f"f{i}": v for i, v in enumerate(values)}
    got = _sops_plaintexts(work, age_key, "floats.json", json.dumps(doc).encode())
    for i, value in enumerate(values):
        plain, kind = got[f"f{i}"]
        assert kind == "float"
        assert plain.decode() == format_float(value), value


@pytest.mark.interop
def test_yaml_scalar_types_match_sops(work: Path, age_key: AgeKey) -> None:
    scalars = [
        "0",
        "-0",
        "+5",
        "017",
        "08",
        "0o17",
        "0x1F",
        "0b101",
        "-0b11",
        "1_000",
        "1e3",
        "1.",
        ".5",
        "-.5",
        ".inf",
        "-.Inf",
        ".NaN",
        "1e400",
        "9223372036854775807",
        "-9223372036854775808",
        "99999999999999999999",
        "True",
        "FALSE",
        "yes",
        "Off",
        "~",
        "2024-1-2",
        "2024-01-02 03:04:05",
        "2024-01-02t03:04:05.500+01:00",
        "2024-13-01",
        "12:30",
        "1.2.3",
        "0.",
        "00",
        "+",
        "-1_0",
        "0x_1F",
    ]
    write_rule(work, age_key.recipient)
    text = "".join(f"k{i}: {s}\n" for i, s in enumerate(scalars))
    got = _sops_plaintexts(work, age_key, "scalars.yaml", text.encode())
    rule = CreationRule(key_groups=[[("age", age_key.recipient)]])
    ours = api.encrypt_bytes(text.encode(), fmt="yaml", rule=rule)
    import os

    os.environ["SOPS_AGE_KEY_FILE"] = str(age_key.key_file)
    try:
        opened = engine.open_file(ours, fmt="yaml", name="ours", cache={}, options=KeyOptions())
    finally:
        del os.environ["SOPS_AGE_KEY_FILE"]
    docs, _ = engine.store_for("yaml").load_encrypted(ours, "ours")
    for i, scalar in enumerate(scalars):
        key = f"k{i}"
        if key not in got:  # null: not encrypted by sops
            assert dict(docs[0])[key] is None, scalar
            continue
        value = dict(docs[0])[key]
        assert isinstance(value, str), scalar
        assert opened.cipher.decrypt_raw(value, f"{key}:") == got[key], scalar
