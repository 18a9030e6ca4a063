"""Shared fixtures: hermetic environment, a CliRunner that never hides exceptions."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from generator.cli import main


@pytest.fixture(autouse=True)
def _hermetic_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test reads the developer's keys, git config or Azure login."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "fluxforge test")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "test@fluxforge.invalid")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "fluxforge test")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "test@fluxforge.invalid")
    monkeypatch.setenv("FLUXFORGE_CHECK_CACHE", "off")  # no verdict cache in this repository's own .git
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))  # the render index (generator/render/index.py)
    for var in list(os.environ):
        if var.startswith(("SOPS_", "AZURE_")) or var in ("GITHUB_ACTIONS", "TF_BUILD", "NO_COLOR"):
            monkeypatch.delenv(var)  # the CI variables pick --format's default (and NO_COLOR --color's)


@pytest.fixture
def run_cli() -> Callable[..., Result]:
    """Invoke ``fluxforge ARGS`` in process; exceptions propagate instead of being swallowed."""

    def invoke(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        runner = CliRunner()
        return runner.invoke(main, list(args), input=input, env=env, catch_exceptions=False)

    return invoke


@pytest.fixture
def chdir_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI a skipped test is a failure: a skip must never hide a missing tool."""
    if os.environ.get("CI") != "true":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped and exitstatus == 0:
        reporter.write_line(f"CI=true: {len(skipped)} skipped test(s) count as failures", red=True)
        session.exitstatus = 1
