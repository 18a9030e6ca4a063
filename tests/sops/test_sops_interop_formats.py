"""JSON, dotenv and binary stores against sops 3.11: both directions and the masked byte layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.sops import api
from tests.helpers.sops import AgeKey, mask, run_sops, write_rule

JSON_DOC = """{
  "name": "app",
  "port": 8080,
  "ratio": 0.1,
  "small": 1e-05,
  "big": 12345678901234567890,
  "on": true,
  "nothing": null,
  "empty": "",
  "html": "<a href='x'>&amp;</a>",
  "unicode": "héllo ✓",
  "nested": {"list": [1, "two", {"three": 3.5}], "empty_obj": {}, "empty_list": []},
  "keep_unencrypted": "visible"
}
"""

DOTENV = "DB_USER=admin\nDB_PASS=hunter2\n# a comment\nMULTI=line1\\nline2\nEMPTY=\nspaced = value \nNUM=5\n"

BINARY = b"\x00\x01binary\xff\xfe data\nwith newline\n"


def _roundtrip(work: Path, key: AgeKey, name: str, content: bytes, extra: str = "") -> None:
    config = write_rule(work, key.recipient, extra)
    (work / name).write_bytes(content)
    rule = api.load_rules(config).rule_for(work / name)
    assert rule is not None
    fmt = api.detect_format(name)
    ours = api.encrypt_bytes(content, fmt=fmt, rule=rule)
    theirs = run_sops("encrypt", name, cwd=work).stdout
    (work / f"ours.{name}").write_bytes(ours)
    (work / f"theirs.{name}").write_bytes(theirs)
    sops_of_theirs = run_sops("decrypt", f"theirs.{name}", cwd=work, key_file=key.key_file).stdout
    sops_of_ours = run_sops("decrypt", f"ours.{name}", cwd=work, key_file=key.key_file).stdout
    assert sops_of_ours == sops_of_theirs
    assert api.decrypt_bytes(theirs, fmt=fmt) == sops_of_theirs
    assert api.decrypt_bytes(ours, fmt=fmt) == sops_of_theirs
    assert mask(ours.decode()) == mask(theirs.decode())
    if fmt == "binary":
        assert sops_of_ours == content


@pytest.mark.interop
@pytest.mark.parametrize(
    "extra", ["", "encrypted_regex: ^(name|nested)$", ("mac_only_encrypted: true\nencrypted_regex: ^(port|list)$")]
)
def test_json(work: Path, age_key: AgeKey, extra: str) -> None:
    _roundtrip(work, age_key, "config.json", JSON_DOC.encode(), extra)


@pytest.mark.interop
def test_json_marker_for_flux(work: Path, age_key: AgeKey) -> None:
    config = write_rule(work, age_key.recipient)
    rule = api.load_rules(config).rule_for(work / "x.json")
    assert rule is not None
    out = api.encrypt_bytes(b'{"a": "b"}', fmt="json", rule=rule)
    assert b'"mac": "ENC[' in out and api.is_encrypted(out, "json")


@pytest.mark.interop
@pytest.mark.parametrize("extra", ["", "encrypted_regex: ^DB_"])
def test_dotenv(work: Path, age_key: AgeKey, extra: str) -> None:
    _roundtrip(work, age_key, "app.env", DOTENV.encode(), extra)


@pytest.mark.interop
def test_binary(work: Path, age_key: AgeKey) -> None:
    _roundtrip(work, age_key, "blob.bin", BINARY)


@pytest.mark.interop
def test_binary_ignores_selectors(work: Path, age_key: AgeKey) -> None:
    _roundtrip(work, age_key, "token.txt", b"just a token", "encrypted_regex: ^nothing$")
