"""Help a person can use: every command shows one or two examples, --credential lists its choices,
--debug works before and after the command name, and each option name means one thing everywhere."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from generator.cli import main
from generator.sops.keys.kinds import AZURE_CREDENTIALS
from tests.helpers import REPO_ROOT


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    found: list[tuple[tuple[str, ...], click.Command]] = [(prefix, group)]
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
        else:
            found.append(((*prefix, name), command))
    return found


COMMANDS = [path for path, _ in _commands(main)]


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "fluxforge")
def test_every_help_has_one_or_two_examples(path: tuple[str, ...], run_cli) -> None:
    result = run_cli(*path, "--help")
    assert result.exit_code == 0
    text = result.output
    assert "Examples:" in text, text
    examples = text.split("Examples:", 1)[1].splitlines()
    commands = [line.strip() for line in examples if line.strip()]
    assert 1 <= len(commands) <= 2, commands
    assert all("fluxforge" in line for line in commands), commands
    if path:
        assert any(f"fluxforge {' '.join(path)}" in line for line in commands), commands
    assert "--debug" in text


def test_credential_shows_its_choices(run_cli) -> None:
    for command in ("encrypt", "decrypt", "edit", "rotate", "updatekeys"):
        text = run_cli(command, "--help").output
        assert "[" + "|".join(AZURE_CREDENTIALS) + "]" in text, command
    wrong = run_cli("decrypt", "--credential", "azcli", "x.yaml")
    assert wrong.exit_code == 2
    assert "'azcli' is not one of 'default', 'workload', 'environment', 'cli', 'managed'" in wrong.stderr


def test_debug_after_the_subcommand_shows_the_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli
) -> None:
    monkeypatch.chdir(tmp_path)
    plain = run_cli("render")
    assert plain.exit_code == 1 and "Traceback" not in plain.stderr
    for args in (("--debug", "render"), ("render", "--debug")):
        result = run_cli(*args)
        assert result.exit_code == 1, args
        assert "Traceback (most recent call last)" in result.stderr, args
        assert result.stderr.endswith(
            "fluxforge.yaml: not found here or in a parent folder; create one with `fluxforge init`\n"
        )
    nested = run_cli("hook", "run", "--debug")
    assert nested.exit_code == 1 and "Traceback (most recent call last)" in nested.stderr


def test_option_names_mean_one_thing(run_cli) -> None:
    """--output is a file (decrypt), --out-dir a folder (render), --sops-config a .sops.yaml, the
    fluxforge.yaml is always the CONFIG argument; the old spellings are gone (no release had them)."""
    helps = {" ".join(path): run_cli(*path, "--help").output for path in COMMANDS}
    for name, text in helps.items():
        assert "--config " not in text, name
        if re.search(r"--output(?!-)", text):  # --output-type (sops's store flag) is another option
            assert name == "decrypt", name
        if "--sops-config" in text:
            assert name in {"encrypt", "edit", "updatekeys", "check"}, name
    assert "--out-dir DIR" in helps["render"]
    assert "--output FILE" in helps["decrypt"]
    old = run_cli("encrypt", "--config", ".sops.yaml", "-i", "x.yaml")
    assert old.exit_code == 2 and "No such option '--config'" in old.stderr


def test_config_docs_help_writes_no_file(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "generator.config.docs", "--help"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout.startswith("usage: python -m generator.config.docs")
    assert list(tmp_path.iterdir()) == []
    bad = subprocess.run(
        [sys.executable, "-m", "generator.config.docs", "--nope"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and "unrecognized arguments: --nope" in bad.stderr
    assert list(tmp_path.iterdir()) == []
    target = tmp_path / "ref.md"
    assert (
        subprocess.run(
            [sys.executable, "-m", "generator.config.docs", str(target)],
            cwd=tmp_path,
            env=env,
            check=False,
            capture_output=True,
        ).returncode
        == 0
    )
    check = subprocess.run(
        [sys.executable, "-m", "generator.config.docs", "--check", str(target)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0
    target.write_text("stale\n")
    stale = subprocess.run(
        [sys.executable, "-m", "generator.config.docs", "--check", str(target)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert stale.returncode == 1 and "not current" in stale.stderr
