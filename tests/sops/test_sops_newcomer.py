"""The dead ends a newcomer meets with sops files, and the one command that gets them out.

* A plaintext value added by hand to an encrypted file: `fluxforge encrypt -i` encrypts it (needs the
  key), keeps every other ciphertext, and writes a new MAC, which the real sops accepts; check,
  decrypt, edit and rotate all point at that command. If anything else changed outside sops too,
  the MAC cannot be vouched for and nothing is written.
* `.sops.yaml` is looked up from the working directory upwards, as the real sops 3.11 does (shown
  here with the binary); run from the folder above, the error names the nearby file and
  `--sops-config`, and never advises creating it.
* `encrypt -i` on a folder no rule covers says so and exits 1.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers.sops import AgeKey, run_sops, write_rule

pytestmark = pytest.mark.interop

SECRET = """\
apiVersion: v1
kind: Secret
metadata:
    name: db
stringData:
    password: first-pw-123
"""
RULE = "encrypted_regex: ^(data|stringData)$"


def _encrypted(work: Path, age_key: AgeKey, run_cli) -> Path:
    write_rule(work, age_key.recipient, RULE)
    secret = work / "db.yaml"
    secret.write_text(SECRET)
    assert run_cli("encrypt", "-i", "db.yaml").exit_code == 0
    return secret


def _add_plaintext(secret: Path, line: str = "    apikey: added-pw-456\n") -> None:
    text = secret.read_text()
    secret.write_text(text.replace("stringData:\n", "stringData:\n" + line, 1))


def test_encrypt_in_place_encrypts_values_added_by_hand(work: Path, age_key: AgeKey, run_cli) -> None:
    secret = _encrypted(work, age_key, run_cli)
    password_line = next(line for line in secret.read_text().splitlines() if line.startswith("    password:"))
    _add_plaintext(secret)
    result = run_cli("encrypt", "-i", "db.yaml")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "db.yaml: encrypted 1 plaintext value(s) added by hand (stringData.apikey); new MAC",
        "encrypted 1 file(s), 0 already encrypted",
    ]
    text = secret.read_text()
    assert "added-pw-456" not in text
    assert password_line in text.splitlines()  # the value that was encrypted keeps its ciphertext
    plain = run_sops("decrypt", "db.yaml", cwd=work, key_file=age_key.key_file).stdout.decode()
    assert "apikey: added-pw-456" in plain and "password: first-pw-123" in plain  # real sops: MAC verified
    again = run_cli("encrypt", "-i", "db.yaml")
    assert again.stderr == "encrypted 0 file(s), 1 already encrypted\n"
    check = run_cli("check", "db.yaml")
    assert check.exit_code == 0, check.output


def test_every_command_points_at_encrypt_in_place(work: Path, age_key: AgeKey, run_cli) -> None:
    secret = _encrypted(work, age_key, run_cli)
    _add_plaintext(secret)
    before = secret.read_bytes()
    hint = "`fluxforge encrypt -i db.yaml` encrypts it and recomputes the MAC"
    for args in (("decrypt", "db.yaml"), ("rotate", "db.yaml"), ("edit", "db.yaml")):
        result = run_cli(*args, env={"EDITOR": "true"})
        assert result.exit_code == 1, args
        assert hint in result.stderr, (args, result.stderr)
        assert "added-pw-456" not in result.output
    check = run_cli("check", "db.yaml")
    assert check.exit_code == 1
    assert (
        "stringData.apikey: plaintext value where encrypted_regex '^(data|stringData)$' requires encryption; "
        "run `fluxforge encrypt -i` on this file" in check.stderr
    )
    assert secret.read_bytes() == before


def test_other_changes_outside_sops_are_not_sealed(work: Path, age_key: AgeKey, run_cli) -> None:
    """A clear-text value edited as well: the MAC does not hold without the added value, nothing written."""
    secret = _encrypted(work, age_key, run_cli)
    _add_plaintext(secret)
    secret.write_text(secret.read_text().replace("name: db", "name: other"))
    before = secret.read_bytes()
    result = run_cli("encrypt", "-i", "db.yaml")
    assert result.exit_code == 1
    assert result.stderr == (
        "db.yaml: MAC mismatch even without the 1 plaintext value(s) added by hand (stringData.apikey): other "
        "values or the metadata were changed outside sops too; refusing to seal them with a new MAC\n"
    )
    assert secret.read_bytes() == before


def test_a_replaced_value_is_not_sealed_either(work: Path, age_key: AgeKey, run_cli) -> None:
    secret = _encrypted(work, age_key, run_cli)
    lines = [
        ("    password: replaced-pw\n" if line.startswith("    password:") else line)
        for line in secret.read_text().splitlines(keepends=True)
    ]
    secret.write_text("".join(lines))
    result = run_cli("encrypt", "-i", "db.yaml")
    assert result.exit_code == 1 and "MAC mismatch even without" in result.stderr
    assert "replaced-pw" not in result.output


def _fleet(root: Path, age_key: AgeKey) -> Path:
    fleet = root / "fleet"
    (fleet / "apps/staging").mkdir(parents=True)
    (fleet / "other").mkdir()
    write_rule(fleet, age_key.recipient, RULE, path_regex="^apps/staging/")
    (fleet / "apps/staging/db-secret.yaml").write_text(SECRET)
    (fleet / "other/values.yaml").write_text("replicas: 3\n")
    return fleet


def test_sops_config_is_found_from_the_working_directory_as_sops_does(
    tmp_path: Path, age_key: AgeKey, monkeypatch: pytest.MonkeyPatch, run_cli
) -> None:
    fleet = _fleet(tmp_path, age_key)
    monkeypatch.chdir(tmp_path)
    target = "fleet/apps/staging/db-secret.yaml"
    sops = run_sops("encrypt", target, cwd=tmp_path, key_file=age_key.key_file, check=False)
    assert sops.returncode != 0 and b"config file not found" in sops.stderr  # the real sops 3.11, from above
    result = run_cli("encrypt", "-i", target)
    assert result.exit_code == 1
    assert result.stderr == (
        "no .sops.yaml in the current directory or its parents (fluxforge looks from the working directory "
        "upwards, as sops does); fleet/.sops.yaml is the .sops.yaml nearest to fleet/apps/staging/db-secret.yaml: "
        "run from fleet/ or pass --sops-config fleet/.sops.yaml\n"
    )
    assert "create" not in result.stderr
    assert (fleet / "apps/staging/db-secret.yaml").read_text() == SECRET
    # both ways out work, and match what sops does with the same config
    sops_cfg = run_sops("--config", "fleet/.sops.yaml", "encrypt", target, cwd=tmp_path, key_file=age_key.key_file)
    assert b"ENC[AES256_GCM" in sops_cfg.stdout
    via_flag = run_cli("encrypt", "-i", "--sops-config", "fleet/.sops.yaml", target)
    assert via_flag.exit_code == 0, via_flag.output
    plain = run_sops("decrypt", target, cwd=tmp_path, key_file=age_key.key_file).stdout.decode()
    assert "first-pw-123" in plain
    monkeypatch.chdir(fleet)
    assert (
        run_cli("encrypt", "-i", "apps/staging/db-secret.yaml").stderr == "encrypted 0 file(s), 1 already encrypted\n"
    )


def test_a_rule_in_the_wrong_config_names_the_nearer_one(
    tmp_path: Path, age_key: AgeKey, monkeypatch: pytest.MonkeyPatch, run_cli
) -> None:
    _fleet(tmp_path, age_key)
    write_rule(tmp_path, age_key.recipient, RULE, path_regex="^nothing/")  # found from here, matches nothing
    monkeypatch.chdir(tmp_path)
    result = run_cli("encrypt", "-i", "fleet/apps/staging/db-secret.yaml")
    assert result.exit_code == 1
    assert result.stderr == (
        "fleet/apps/staging/db-secret.yaml: no creation rule in .sops.yaml matches this file; fleet/.sops.yaml is "
        "the .sops.yaml nearest to fleet/apps/staging/db-secret.yaml: run from fleet/ or pass --sops-config "
        "fleet/.sops.yaml\n"
    )


def test_encrypt_a_folder_no_rule_covers_exits_1(
    tmp_path: Path, age_key: AgeKey, monkeypatch: pytest.MonkeyPatch, run_cli
) -> None:
    fleet = _fleet(tmp_path, age_key)
    monkeypatch.chdir(fleet)
    result = run_cli("encrypt", "-i", "other")
    assert result.exit_code == 1
    assert result.stderr == (
        "other: no creation rule in .sops.yaml matches any of the 1 file(s) below this folder; nothing to encrypt\n"
    )
    assert (fleet / "other/values.yaml").read_text() == "replicas: 3\n"
    covered = run_cli("encrypt", "-i", "apps")
    assert covered.exit_code == 0 and covered.stderr == "encrypted 1 file(s), 0 already encrypted\n"


def test_no_config_anywhere_says_how_to_get_one(work: Path, age_key: AgeKey, run_cli) -> None:
    (work / "s.yaml").write_text(SECRET)
    result = run_cli("encrypt", "-i", "s.yaml")
    assert result.exit_code == 1
    assert result.stderr == (
        "no .sops.yaml in the current directory or its parents (fluxforge looks from the working directory "
        "upwards, as sops does); write one with creation_rules (`fluxforge render` generates it from "
        "fluxforge.yaml) or pass --sops-config FILE\n"
    )
    assert os.environ["SOPS_AGE_KEY_FILE"] == str(age_key.key_file)


def test_a_sops_yaml_below_the_named_folder_is_named_too(
    tmp_path: Path, age_key: AgeKey, monkeypatch: pytest.MonkeyPatch, run_cli
) -> None:
    _fleet(tmp_path, age_key)
    monkeypatch.chdir(tmp_path)
    hint = "fleet/.sops.yaml is below .: run from fleet/ or pass --sops-config fleet/.sops.yaml"
    encrypt = run_cli("encrypt", "-i", ".")
    assert encrypt.exit_code == 1 and encrypt.stderr.endswith(f"; {hint}\n")
    check = run_cli("check")  # no PATH, no git: the working directory
    assert check.exit_code == 1 and f"; {hint}; or pass --allow-missing-rules" in check.stderr
