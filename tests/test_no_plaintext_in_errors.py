"""Values that fail to parse must never be quoted back: the file may hold a plaintext secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.sops import make_age_key

SECRET = "hunter2-SECRET-VALUE"


@pytest.fixture
def ruled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    key = make_age_key(tmp_path)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.key_file))
    (tmp_path / ".sops.yaml").write_text(f"creation_rules:\n  - path_regex: ^s/\n    age: {key.recipient}\n")
    (tmp_path / "s").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("tag", ["int", "bool", "float", "timestamp"])
def test_check_does_not_quote_a_value_its_tag_cannot_build(ruled: Path, run_cli, tag: str) -> None:
    (ruled / "s" / "x.yaml").write_text(f"apiVersion: v1\nkind: Secret\nstringData:\n  pw: !!{tag} {SECRET}\n")
    result = run_cli("check", "s/x.yaml")
    assert result.exit_code == 1
    assert "s/x.yaml:" in result.output and "cannot be built from its tag" in result.output
    assert SECRET not in result.output


def test_check_keeps_the_scanner_reason_for_syntax_errors(ruled: Path, run_cli) -> None:
    (ruled / "s" / "x.yaml").write_text(f'stringData:\n  pw: "{SECRET}\n')
    result = run_cli("check", "s/x.yaml")
    assert result.exit_code == 1
    assert "s/x.yaml:3:1: not valid YAML: found unexpected end of stream" in result.output
    assert SECRET not in result.output


@pytest.mark.parametrize("command", ["encrypt", "edit"])
def test_sops_binary_tag_error_does_not_quote_the_value(
    ruled: Path, run_cli, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = ruled / "s" / "x.yaml"
    text = f"password: !!binary {SECRET}!\n"
    if command == "edit":
        editor = ruled / "editor.sh"
        editor.write_text(f"#!/bin/sh\nprintf '%s' '{text}' > \"$1\"\n")
        editor.chmod(0o755)
        monkeypatch.setenv("EDITOR", str(editor))
    else:
        target.write_text(text)
    result = run_cli(command, "s/x.yaml")
    assert result.exit_code == 1
    assert "!!binary value is not valid base64" in result.output
    assert SECRET not in result.output


def test_sops_yaml_syntax_error_is_file_line_col_without_the_value(ruled: Path, run_cli) -> None:
    (ruled / "s" / "x.yaml").write_text(f'stringData:\n  pw: "{SECRET}\n')
    result = run_cli("encrypt", "-i", "s/x.yaml")
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        "s/x.yaml:3:1: invalid YAML: found unexpected end of stream (while scanning a quoted scalar at line 2)"
    )
    assert SECRET not in result.output
