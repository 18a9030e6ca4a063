"""The key-kind table: every sops key kind read, written and compared through one row."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from generator.check.rules import Expectation, check_metadata, recipients_of
from generator.check.scan import Rules
from generator.errors import SopsError
from generator.sops import api
from generator.sops.keys import KeyOptions, source_for
from generator.sops.keys.kinds import BY_NAME, KINDS, UNWRAP_ORDER
from generator.sops.metadata import KeyEntry, Metadata, from_mapping, to_branch, to_plain

KMS_ARN = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
GCP_KEY = "projects/p/locations/global/keyRings/r/cryptoKeys/k"
VAULT_URI = "https://vault.example.com:8200/v1/transit/keys/fleet"

GROUPS_CONFIG = f"""\
creation_rules:
  - path_regex: \\.yaml$
    key_groups:
      - kms:
          - arn: {KMS_ARN}
            role: arn:aws:iam::111122223333:role/sops
            context: {{team: platform}}
        gcp_kms:
          - resource_id: {GCP_KEY}
        hckms:
          - key_id: tr-west-1:0000-1111
        hc_vault: [{VAULT_URI}]
        age: [age1aaa]
"""


def _rules(tmp_path: Path, text: str) -> api.SopsRules:
    config = tmp_path / ".sops.yaml"
    config.write_text(text)
    return api.load_rules(config)


def test_mapping_valued_key_group_entries_name_their_key(tmp_path: Path) -> None:
    """kms/gcp_kms/hckms items are mappings in sops's config (arn, resource_id, key_id), not strings."""
    rule = _rules(tmp_path, GROUPS_CONFIG).rule_for(tmp_path / "a.yaml")
    assert rule is not None
    assert rule.key_groups == [
        [
            ("age", "age1aaa"),
            ("kms", KMS_ARN),
            ("gcp_kms", GCP_KEY),
            ("hckms", "tr-west-1:0000-1111"),
            ("hc_vault", VAULT_URI),
        ]
    ]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("kms: [{role: r}]", "key_groups[0].kms[0]: needs arn"),
        ("gcp_kms: [[x]]", "key_groups[0].gcp_kms[0]: expected a mapping with resource_id or a string, found a list"),
        ("azure_keyvault: [{key: k}]", "key_groups[0].azure_keyvault[0]: each entry needs vaultUrl and key"),
    ],
)
def test_a_key_group_entry_without_its_key_is_named(tmp_path: Path, entry: str, message: str) -> None:
    with pytest.raises(SopsError, match=message.replace("[", r"\[").replace("]", r"\]")):
        _rules(tmp_path, f"creation_rules:\n  - key_groups:\n      - {entry}\n")


def test_the_check_compares_every_kind_with_the_rule(tmp_path: Path) -> None:
    """Metadata written for a rule's kms/gcp_kms/hckms/hc_vault/age keys matches that rule: no recipient
    problem (hc_vault's recipient is its transit URI, built from address, engine path and key name)."""
    rules = Rules(_rules(tmp_path, GROUPS_CONFIG))
    match = rules.match(tmp_path / "a.yaml")
    assert match is not None
    group = {
        "kms": [
            {
                "arn": KMS_ARN,
                "role": "arn:aws:iam::111122223333:role/sops",
                "created_at": "2026-01-01T00:00:00Z",
                "enc": "x",
            }
        ],
        "gcp_kms": [{"resource_id": GCP_KEY, "created_at": "2026-01-01T00:00:00Z", "enc": "x"}],
        "hckms": [{"key_id": "tr-west-1:0000-1111", "created_at": "2026-01-01T00:00:00Z", "enc": "x"}],
        "hc_vault": [
            {
                "vault_address": "https://vault.example.com:8200",
                "engine_path": "transit",
                "key_name": "fleet",
                "created_at": "2026-01-01T00:00:00Z",
                "enc": "x",
            }
        ],
        "age": [{"recipient": "age1aaa", "enc": "x"}],
    }
    expect = match.expectation()
    assert recipients_of({"key_groups": [group]}) == expect.recipients
    assert "hc_vault:" + VAULT_URI in expect.recipients and "age1aaa" in expect.recipients


def test_recipients_that_differ_are_named_with_their_kind() -> None:
    meta = {"kms": [{"arn": "arn:other", "enc": "x"}], "lastmodified": "2026-01-01T00:00:00Z", "version": "3.11.0"}
    expect = Expectation(".sops.yaml creation_rules[0]", api.DEFAULT_SELECTOR, frozenset({f"kms:{KMS_ARN}"}))
    parsed = type("P", (), {"metadata": meta, "meta_line": 3, "meta_col": 1})()
    messages = [p.message for p in check_metadata(parsed, expect)]  # type: ignore[arg-type]
    assert any(f"missing kms:{KMS_ARN}" in m and "not in the rule kms:arn:other" in m for m in messages), messages


@pytest.mark.parametrize("kind", [k.name for k in KINDS])
def test_every_kind_is_written_in_sops_field_order_and_read_back(kind: str) -> None:
    row = BY_NAME[kind]
    fields = {name: f"{name}-value" for name in row.fields}
    meta = Metadata(groups=[[KeyEntry(kind, fields)]], lastmodified="2026-01-01T00:00:00Z", mac="ENC[x]")
    written = to_plain(to_branch(meta))
    assert list(written[kind][0]) == list(row.fields)
    again = from_mapping(written, "f.yaml")
    assert again.groups == [[KeyEntry(kind, fields)]]


def test_the_table_holds_each_kind_and_each_field_once() -> None:
    assert len({k.name for k in KINDS}) == len(KINDS)
    assert len({k.rule_field for k in KINDS}) == len(KINDS)
    assert [k.name for k in UNWRAP_ORDER][:2] == ["age", "pgp"]  # sops: age first, then pgp, then the rest
    for kind in KINDS:
        if kind.source is not None:
            assert callable(importlib.import_module(kind.source).make_source), kind.name


def test_a_kind_without_a_key_source_is_refused_with_the_supported_ones() -> None:
    with pytest.raises(SopsError, match="unsupported key type 'kms'; fluxforge supports: age, azure_kv"):
        source_for("kms", KeyOptions())


def test_key_options_reach_the_key_source_per_kind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli) -> None:
    """The sops commands share one set of key flags; each arrives in its kind's options."""
    seen: list[KeyOptions] = []

    def fake_rotate(paths: list[Path], *, options: KeyOptions, **_: object) -> api.Report:
        seen.append(options)
        return api.Report()

    monkeypatch.setattr(api, "rotate_paths", fake_rotate)
    assert run_cli("rotate", "--credential", "CLI", str(tmp_path)).exit_code == 0
    assert run_cli("rotate", str(tmp_path)).exit_code == 0
    assert [o.get("azure_kv", "credential") for o in seen] == ["cli", None]
