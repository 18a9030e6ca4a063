"""The pure structure rules of the keyless check (generator.check.rules, generator.check.parse)."""

from __future__ import annotations

import pytest

from generator.check.parse import parse
from generator.check.rules import Expectation, check_metadata, enc_problem, recipients_of, selector_of
from generator.sops.api import DEFAULT_SELECTOR, detect_format, metadata_from_flat, selects

IV = "A" * 43 + "="
TAG = "B" * 22 + "=="
GOOD_ENC = f"ENC[AES256_GCM,data:Zm9v,iv:{IV},tag:{TAG},type:str]"
VAULT = "https://kv-a.vault.azure.net"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (GOOD_ENC, None),
        ("ENC[AES256_GCM,data:Zm9v]", "malformed ENC value (expected"),
        (f"ENC[AES256_GCM,data:Zm9v,iv:c2hvcnQ=,tag:{TAG},type:str]", "iv is 5 bytes"),
        (f"ENC[AES256_GCM,data:@@@,iv:{IV},tag:{TAG},type:str]", "not base64"),
        (f"ENC[AES256_GCM,data:Zm9v,iv:{IV},tag:{TAG},type:blob]", "unknown type 'blob'"),
    ],
)
def test_enc_problem(value: str, problem: str | None) -> None:
    found = enc_problem(value)
    assert (found is None) if problem is None else (found is not None and problem in found)


@pytest.mark.parametrize(
    ("selector", "keys", "expected"),
    [
        (DEFAULT_SELECTOR, ("a", "b"), True),
        (DEFAULT_SELECTOR, ("a_unencrypted", "b"), False),
        (("encrypted_suffix", "_secret"), ("db_secret", "x"), True),
        (("encrypted_suffix", "_secret"), ("db", "x"), False),
        (("encrypted_regex", "^(data|stringData)$"), ("stringData", "nested", "deeper"), True),
        (("encrypted_regex", "^(data|stringData)$"), ("metadata", "name"), False),
        (("unencrypted_regex", "^public"), ("public_key",), False),
        (("encrypted_comment_regex", "sops:enc"), ("a",), None),
    ],
)
def test_selects(selector: tuple[str, str], keys: tuple[str, ...], expected: bool | None) -> None:
    assert selects(selector, keys) is expected


def test_selector_of_default_and_conflict() -> None:
    assert selector_of({}) == DEFAULT_SELECTOR
    assert selector_of({"encrypted_regex": "^data$"}) == ("encrypted_regex", "^data$")
    assert selector_of({"encrypted_regex": "^data$", "unencrypted_suffix": "_u"}) is None


def _meta(**extra: object) -> dict[str, object]:
    return {"lastmodified": "2026-11-23T08:00:09Z", "mac": GOOD_ENC, "version": "3.11.0", **extra}


def _problems(meta: dict[str, object], expect: Expectation | None) -> list[str]:
    parsed = parse("x.yaml", b"a: 1\n")
    parsed.metadata = meta
    return [p.message for p in check_metadata(parsed, expect)]


def test_azure_kv_recipients_and_versionless_rule() -> None:
    meta = _meta(azure_kv=[{"vault_url": VAULT, "name": "sops", "version": "v2", "created_at": "x", "enc": "e"}])
    assert recipients_of(meta) == {f"{VAULT}/keys/sops/v2"}
    loose = Expectation("rule", DEFAULT_SELECTOR, frozenset({f"{VAULT}/keys/sops"}))
    assert _problems(meta, loose) == []
    pinned_other = Expectation("rule", DEFAULT_SELECTOR, frozenset({f"{VAULT}/keys/sops/v1"}))
    (message,) = _problems(meta, pinned_other)
    assert message.startswith(f"recipients differ from rule (missing {VAULT}/keys/sops/v1; not in the rule ")


def test_key_groups_recipients_are_collected() -> None:
    meta = _meta(
        key_groups=[
            {"age": [{"recipient": "age1aaa", "enc": "x"}]},
            {"age": [{"recipient": "age1bbb", "enc": "y"}], "hc_vault": []},
        ],
        shamir_threshold=2,
    )
    assert recipients_of(meta) == {"age1aaa", "age1bbb"}


def test_key_group_count_must_match_the_rule() -> None:
    one_group = _meta(age=[{"recipient": "age1aaa", "enc": "x"}, {"recipient": "age1bbb", "enc": "y"}])
    two_groups = Expectation("rule", DEFAULT_SELECTOR, frozenset({"age1aaa", "age1bbb"}), groups=2)
    assert _problems(one_group, two_groups) == ["1 key group(s) but rule has 2; run `fluxforge updatekeys`"]
    split = _meta(
        key_groups=[{"age": [{"recipient": "age1aaa", "enc": "x"}]}, {"age": [{"recipient": "age1bbb", "enc": "y"}]}],
        shamir_threshold=2,
    )
    assert _problems(split, two_groups) == []


def test_metadata_problems_are_all_reported() -> None:
    messages = _problems({"mac": "", "version": "3.11", "encrypted_regex": "a", "encrypted_suffix": "b"}, None)
    expected = [
        "has no MAC",
        "'lastmodified' is missing",
        "'version' is missing",
        "has no master key",
        "sets more than one of",
    ]
    assert len(messages) == len(expected)
    assert all(fragment in message for fragment, message in zip(expected, messages, strict=True))


def test_flat_metadata_is_read_by_the_engine() -> None:
    flat = {
        "age__list_0__map_recipient": "age1x",
        "age__list_0__map_enc": "E",
        "age__list_1__map_recipient": "age1y",
        "mac": "M",
        "key_groups__list_0__map_age__list_0__map_recipient": "age1z",
    }
    assert metadata_from_flat(flat) == {
        "age": [{"recipient": "age1x", "enc": "E"}, {"recipient": "age1y"}],
        "mac": "M",
        "key_groups": [{"age": [{"recipient": "age1z"}]}],
    }


@pytest.mark.parametrize(
    ("path", "fmt"),
    [
        ("a/b.yaml", "yaml"),
        ("b.YML", "yaml"),
        ("c.json", "json"),
        (".env", "dotenv"),
        ("x.env", "dotenv"),
        ("d.ini", "ini"),
        ("dir.yaml/file", "binary"),
        ("tls.key", "binary"),
    ],
)
def test_store_by_file_name(path: str, fmt: str) -> None:
    assert detect_format(path) == fmt
