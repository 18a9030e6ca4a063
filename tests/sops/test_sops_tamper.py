"""Tampering and bad input: refused by us (one clear error naming the file and key path, exit 1,
file untouched, no plaintext printed) and, where it is a sops file, refused by sops too."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from tests.helpers.sops import AgeKey, make_age_key, run_sops, write_rule

PLAIN = """\
apiVersion: v1
kind: Secret
metadata:
  name: app
stringData:
  password: hunter2-very-secret
  user: admin-user-name
"""
SECRETS = ("hunter2-very-secret", "admin-user-name")


@pytest.fixture
def encrypted(work: Path, age_key: AgeKey, run_cli: Callable[..., Result]) -> Path:
    write_rule(work, age_key.recipient, "encrypted_regex: ^(data|stringData)$")
    path = work / "secret.yaml"
    path.write_text(PLAIN)
    result = run_cli("encrypt", "-i", str(path))
    assert result.exit_code == 0, result.output
    return path


def _refused(run_cli: Callable[..., Result], path: Path, *expect: str) -> str:
    before = path.read_bytes()
    result = run_cli("decrypt", str(path))
    assert result.exit_code == 1, result.output
    assert path.read_bytes() == before
    for secret in SECRETS:
        assert secret not in result.output
    assert str(path) in result.output
    for text in expect:
        assert text in result.output, result.output
    return result.output


def _sops_refuses(path: Path, key: AgeKey) -> None:
    done = run_sops("decrypt", path.name, cwd=path.parent, key_file=key.key_file, check=False)
    assert done.returncode != 0


def _values(text: str) -> list[str]:
    return re.findall(r"ENC\[AES256_GCM,data:[^,]*,", text)


@pytest.mark.interop
def test_untampered_decrypts(encrypted: Path, run_cli: Callable[..., Result]) -> None:
    result = run_cli("decrypt", str(encrypted))
    assert result.exit_code == 0 and "hunter2-very-secret" in result.output


@pytest.mark.interop
def test_changed_value(encrypted: Path, age_key: AgeKey, run_cli: Callable[..., Result]) -> None:
    text = encrypted.read_text()
    first = _values(text)[0]
    flipped = first[:-3] + ("A" if first[-3] != "A" else "B") + first[-2:]
    encrypted.write_text(text.replace(first, flipped, 1))
    _refused(run_cli, encrypted, "stringData.password")
    _sops_refuses(encrypted, age_key)


@pytest.mark.interop
def test_swapped_values(encrypted: Path, age_key: AgeKey, run_cli: Callable[..., Result]) -> None:
    text = encrypted.read_text()
    pw = re.search(r"password: (ENC\[.*?\])\n", text)
    user = re.search(r"user: (ENC\[.*?\])\n", text)
    assert pw and user
    swapped = text.replace(pw.group(1), "@@PW@@").replace(user.group(1), pw.group(1)).replace("@@PW@@", user.group(1))
    encrypted.write_text(swapped)
    _refused(run_cli, encrypted, "stringData.password")
    _sops_refuses(encrypted, age_key)


@pytest.mark.interop
@pytest.mark.parametrize(
    ("pattern", "replacement", "expect"),
    [
        (r"(mac: ENC\[AES256_GCM,data:)(.)", r"\g<1>Z\2", "MAC"),
        (r'lastmodified: "\d{4}', 'lastmodified: "1999', "lastmodified"),
        (r"encrypted_regex: .*", "encrypted_regex: ^(data|stringData|kind)$", "kind"),
        (r"(\n    version: )", r"\n    mac_only_encrypted: true\1", "MAC mismatch"),
        (r"name: app", "name: other", "MAC mismatch"),
    ],
)
def test_tampered_metadata_or_cleartext(
    encrypted: Path, age_key: AgeKey, run_cli: Callable[..., Result], pattern: str, replacement: str, expect: str
) -> None:
    text = encrypted.read_text()
    changed = re.sub(pattern, replacement, text, count=1)
    assert changed != text
    encrypted.write_text(changed)
    _refused(run_cli, encrypted, expect)
    _sops_refuses(encrypted, age_key)


def test_malformed_enc_value(encrypted: Path, run_cli: Callable[..., Result]) -> None:
    text = encrypted.read_text()
    encrypted.write_text(re.sub(r"user: ENC\[.*?\]\n", "user: ENC[AES256_GCM,data:abc]\n", text))
    _refused(run_cli, encrypted, "stringData.user", "ENC[")


def test_plain_value_where_encrypted_expected(encrypted: Path, run_cli: Callable[..., Result]) -> None:
    text = encrypted.read_text()
    encrypted.write_text(re.sub(r"user: ENC\[.*?\]\n", "user: 42\n", text))
    _refused(run_cli, encrypted, "stringData.user")


def test_missing_sops_block(work: Path, run_cli: Callable[..., Result]) -> None:
    path = work / "plain.yaml"
    path.write_text(PLAIN)
    out = _refused(run_cli, path, "not encrypted")
    assert out.count("\n") == 1


def test_wrong_key(
    encrypted: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    other = make_age_key(tmp_path, "other.txt")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(other.key_file))
    _refused(run_cli, encrypted, "sops.age", "data key")


def test_unknown_key_type(encrypted: Path, run_cli: Callable[..., Result]) -> None:
    text = encrypted.read_text().replace("\n    age:\n", "\n    vault_transit:\n").replace("sops:\n", "sops:\n", 1)
    text = re.sub(r"    age:\n(        - .*\n|          .*\n|            .*\n)+", "", encrypted.read_text())
    text = text.replace(
        "    lastmodified:",
        "    hc_vault:\n        - vault_address: http://x\n          "
        'engine_path: t\n          key_name: k\n          created_at: "2020-01-01T00:00:00Z"\n'
        "          enc: vault:v1:abc\n    lastmodified:",
    )
    encrypted.write_text(text)
    _refused(run_cli, encrypted, "hc_vault")


def test_broken_yaml(work: Path, run_cli: Callable[..., Result]) -> None:
    path = work / "broken.yaml"
    path.write_text("a: [unclosed\nb: hunter2-very-secret\n")
    _refused(run_cli, path, "invalid YAML")


def test_encrypt_broken_yaml_leaves_file(work: Path, age_key: AgeKey, run_cli: Callable[..., Result]) -> None:
    write_rule(work, age_key.recipient)
    path = work / "broken.yaml"
    path.write_text("a: b\n  c: hunter2-very-secret\n")
    before = path.read_bytes()
    result = run_cli("encrypt", "-i", str(path))
    assert result.exit_code == 1
    assert path.read_bytes() == before
    assert "hunter2" not in result.output and str(path) in result.output


def test_non_string_key_names_path(work: Path, age_key: AgeKey, run_cli: Callable[..., Result]) -> None:
    write_rule(work, age_key.recipient)
    path = work / "ints.yaml"
    path.write_text("outer:\n  1: one\n")
    result = run_cli("encrypt", "-i", str(path))
    assert result.exit_code == 1
    assert "ints.yaml:2: outer:" in result.output and "quote it" in result.output
