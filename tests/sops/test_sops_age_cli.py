"""The wrapped data key is an armored age file as sops writes it: the age CLI opens ours, and a key
wrapped by the age CLI works in fluxforge and in sops."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from generator.errors import KeySourceError, SopsError
from generator.sops import api, engine
from generator.sops.keys import KeyOptions
from generator.sops.keys.age import AgeSource
from tests.helpers.sops import AgeKey, require, run_sops, write_rule


def _encrypt(work: Path, key: AgeKey) -> bytes:
    config = write_rule(work, key.recipient)
    rule = api.load_rules(config).rule_for(work / "s.yaml")
    assert rule is not None
    return api.encrypt_bytes(b"password: age-cli-secret\n", fmt="yaml", rule=rule)


def _enc_block(text: str) -> str:
    match = re.search(r"enc: \|\n((?: {12}.*\n)+)", text)
    assert match
    return "".join(line[12:] + "\n" for line in match.group(1).splitlines())


@pytest.mark.interop
def test_age_cli_opens_our_wrapped_key(work: Path, age_key: AgeKey) -> None:
    ours = _encrypt(work, age_key)
    armored = _enc_block(ours.decode())
    lines = armored.splitlines()
    assert lines[0] == "-----BEGIN AGE ENCRYPTED FILE-----" and lines[-1] == "-----END AGE ENCRYPTED FILE-----"
    assert all(len(line) <= 64 for line in lines[1:-1]) and armored.endswith("\n")
    done = subprocess.run(
        [require("age"), "-d", "-i", str(age_key.key_file)], input=armored.encode(), capture_output=True, check=True
    )
    assert len(done.stdout) == 32
    opened = engine.open_file(ours, fmt="yaml", name="s.yaml", cache={}, options=KeyOptions(), data_key=done.stdout)
    assert opened.store.emit_plain(opened.docs) == b"password: age-cli-secret\n"


@pytest.mark.interop
def test_key_wrapped_by_age_cli_works_in_fluxforge_and_sops(work: Path, age_key: AgeKey) -> None:
    ours = _encrypt(work, age_key).decode()
    data_key = AgeSource().unwrap({"recipient": age_key.recipient, "enc": _enc_block(ours)})
    done = subprocess.run(
        [require("age"), "-a", "-r", age_key.recipient], input=data_key, capture_output=True, check=True
    )
    armored = done.stdout.decode()
    indented = "".join(" " * 12 + line + "\n" for line in armored.splitlines())
    swapped = re.sub(r"(enc: \|\n)((?: {12}.*\n)+)", lambda m: m.group(1) + indented, ours)
    assert swapped != ours
    (work / "swapped.yaml").write_text(swapped)
    assert api.decrypt_bytes(swapped.encode(), fmt="yaml") == b"password: age-cli-secret\n"
    out = run_sops("decrypt", "swapped.yaml", cwd=work, key_file=age_key.key_file).stdout
    assert out == b"password: age-cli-secret\n"


def test_identities_from_env_and_default_file(
    work: Path, age_key: AgeKey, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ours = _encrypt(work, age_key)
    monkeypatch.delenv("SOPS_AGE_KEY_FILE")
    with pytest.raises(KeySourceError, match="no identity found"):
        api.decrypt_bytes(ours, fmt="yaml", path_for_errors="s.yaml")
    monkeypatch.setenv("SOPS_AGE_KEY", age_key.identity)
    assert api.decrypt_bytes(ours, fmt="yaml") == b"password: age-cli-secret\n"
    monkeypatch.delenv("SOPS_AGE_KEY")
    default = Path(str(tmp_path / "xdg")) / "sops" / "age" / "keys.txt"
    default.parent.mkdir(parents=True)
    default.write_text(age_key.key_file.read_text())
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert api.decrypt_bytes(ours, fmt="yaml") == b"password: age-cli-secret\n"


def test_bad_recipient_is_a_clear_error(work: Path) -> None:
    write_rule(work, "age1notarecipient")
    rule = api.load_rules(work / ".sops.yaml").rule_for(work / "s.yaml")
    assert rule is not None
    with pytest.raises(SopsError, match="not a valid age recipient"):
        api.encrypt_bytes(b"a: b\n", fmt="yaml", rule=rule)
