"""Which store a file name selects must be sops's choice (Go's filepath.Ext), checked with the binary."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.sops.api import detect_format
from tests.helpers.sops import AgeKey, run_sops, write_rule


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        (".env", "dotenv"),
        ("app.env", "dotenv"),
        ("a.YAML", "yaml"),
        ("x.yml", "yaml"),
        ("c.json", "json"),
        (".env.local", "binary"),
        ("dir.d/file", "binary"),
        ("notes.txt", "binary"),
        ("a.INI", "ini"),
    ],
)
def test_store_by_name(name: str, fmt: str) -> None:
    assert detect_format(name) == fmt


def test_dotfile_env_is_dotenv_for_sops_too(run_cli, work: Path, age_key: AgeKey) -> None:
    write_rule(work, age_key.recipient)
    (work / ".env").write_text("DB_PASSWORD=hunter2\nUSER=app\n")
    result = run_cli("encrypt", "-i", ".env")
    assert result.exit_code == 0, result.output
    encrypted = (work / ".env").read_text()
    assert encrypted.startswith("DB_PASSWORD=ENC[AES256_GCM,")
    assert "sops_mac=ENC[" in encrypted
    out = run_sops("decrypt", ".env", cwd=work, key_file=age_key.key_file)
    assert out.stdout == b"DB_PASSWORD=hunter2\nUSER=app\n"


def test_ini_uses_the_ini_store_as_sops_does(run_cli, work: Path, age_key: AgeKey) -> None:
    write_rule(work, age_key.recipient)
    (work / "app.ini").write_text("[db]\npassword = hunter2\n")
    result = run_cli("encrypt", "-i", "app.ini")
    assert result.exit_code == 0, result.output
    encrypted = (work / "app.ini").read_text()
    assert encrypted.startswith("[db]\npassword = ENC[AES256_GCM,") and "\n[sops]\n" in encrypted
    assert "hunter2" not in encrypted + result.output
    out = run_sops("decrypt", "app.ini", cwd=work, key_file=age_key.key_file)
    assert out.stdout == b"[db]\npassword = hunter2\n"
