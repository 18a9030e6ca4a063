from __future__ import annotations

import subprocess
import sys

import click
import pytest

from generator import __version__, cli
from generator.errors import ConfigError, UsageError


def test_version(run_cli) -> None:
    result = run_cli("--version")
    assert result.exit_code == 0
    assert __version__ in result.output


def test_module_entry_point_shows_help() -> None:
    proc = subprocess.run([sys.executable, "-m", "generator", "--help"], check=False, capture_output=True, text=True)
    assert proc.returncode == 0
    assert "Usage:" in proc.stdout


def test_help_does_not_import_azure() -> None:
    code = "import sys; from generator.cli import main; print(any(m.startswith('azure') for m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("exc", "code"),
    [(ConfigError(["a.yaml:3: x: bad", "a.yaml:4: y: bad"]), 1), (UsageError("wrong flags"), 2)],
)
def test_errors_map_to_exit_codes_one_line_each(exc: Exception, code: int) -> None:
    def boom() -> None:
        raise exc

    @click.command()
    def cmd() -> None:
        cli._run(boom)

    result = click.testing.CliRunner().invoke(cmd, [])
    assert result.exit_code == code
    assert result.output.splitlines() == str(exc).splitlines()
    assert "Traceback" not in result.output


def test_unexpected_exception_is_exit_3_without_traceback() -> None:
    @click.command()
    def cmd() -> None:
        cli._run(lambda: 1 / 0)

    result = click.testing.CliRunner().invoke(cmd, [])
    assert result.exit_code == 3
    assert "internal error (ZeroDivisionError)" in result.output
    assert "Traceback" not in result.output


def test_decrypt_in_place_and_output_together_is_a_usage_error(run_cli, tmp_path) -> None:
    result = run_cli("decrypt", "-i", "--output", str(tmp_path / "out"), str(tmp_path / "in.yaml"))
    assert result.exit_code == 2
    assert result.output == "use either -i/--in-place or --output, not both\n"
    assert not (tmp_path / "out").exists()
