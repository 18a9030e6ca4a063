"""Colour only for a person at a terminal: --color auto|always|never, NO_COLOR, a real pseudo-terminal."""

from __future__ import annotations

import os
import pty
import shutil
import subprocess
from pathlib import Path

import pytest

from generator.report.colour import colour_diff, colour_marks, wants_colour
from tests.helpers import SAMPLE_REPO

ESC = "\x1b["


@pytest.mark.parametrize(
    ("choice", "tty", "env", "expected"),
    [
        ("auto", True, {}, True),
        ("auto", False, {}, False),
        ("auto", True, {"NO_COLOR": "1"}, False),
        ("auto", True, {"NO_COLOR": ""}, True),
        ("always", False, {"NO_COLOR": "1"}, True),
        ("never", True, {}, False),
    ],
)
def test_wants_colour(choice: str, tty: bool, env: dict[str, str], expected: bool) -> None:
    assert wants_colour(choice, tty, env) is expected


def test_colour_diff_and_marks() -> None:
    assert colour_diff("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old\n+new\n same\n") == (
        "\x1b[1m--- a/x\x1b[0m\n\x1b[1m+++ b/x\x1b[0m\n\x1b[36m@@ -1 +1 @@\x1b[0m\n\x1b[31m-old\x1b[0m\n"
        "\x1b[32m+new\x1b[0m\n same\n"
    )
    assert colour_marks("✔ static.config  ok\n✘ static.tree  bad\n! w\nplain ✔\n") == (
        "\x1b[32m✔\x1b[0m static.config  ok\n\x1b[31m✘\x1b[0m static.tree  bad\n\x1b[33m!\x1b[0m w\nplain ✔\n"
    )


@pytest.fixture
def changed(tmp_path: Path) -> Path:
    repo = tmp_path / "fleet"
    shutil.copytree(SAMPLE_REPO, repo)
    config = repo / "fluxforge.yaml"
    config.write_text(config.read_text().replace("  branch: main", "  branch: trunk", 1))
    return repo


def _in_terminal(cwd: Path, *args: str, env: dict[str, str]) -> str:
    """Run fluxforge with stdout and stderr on a pseudo-terminal; return what it printed."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            ["fluxforge", *args],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=follower,
            stderr=follower,
            env={**os.environ, **env},
            check=False,
            timeout=120,
        )
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the terminal is closed and drained
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(leader)
    assert proc.returncode in (0, 1)
    return b"".join(chunks).decode()


def test_render_diff_colours_only_on_a_terminal(changed: Path) -> None:
    piped = subprocess.run(["fluxforge", "render", "--diff"], cwd=changed, capture_output=True, text=True, check=False)
    assert piped.returncode == 0 and "+    branch: trunk" in piped.stdout and ESC not in piped.stdout + piped.stderr
    on_tty = _in_terminal(changed, "render", "--diff", env={})
    assert "\x1b[32m+    branch: trunk\x1b[0m" in on_tty
    assert ESC not in _in_terminal(changed, "render", "--diff", env={"NO_COLOR": "1"})
    assert ESC not in _in_terminal(changed, "render", "--diff", "--color", "never", env={})
    forced = subprocess.run(
        ["fluxforge", "render", "--diff", "--color", "always"],
        cwd=changed,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert "\x1b[31m-    branch: main\x1b[0m" in forced.stdout


def test_render_check_failure_diff_is_coloured_on_a_terminal(changed: Path) -> None:
    on_tty = _in_terminal(changed, "render", "--check", env={})
    assert "\x1b[32m+    branch: trunk\x1b[0m" in on_tty
    piped = subprocess.run(["fluxforge", "render", "--check"], cwd=changed, capture_output=True, text=True, check=False)
    assert piped.returncode == 1 and "+    branch: trunk" in piped.stderr and ESC not in piped.stderr


def test_doctor_marks(tmp_path: Path) -> None:
    repo = tmp_path / "fleet"
    shutil.copytree(SAMPLE_REPO, repo)
    plain = subprocess.run(["fluxforge", "doctor", "--static"], cwd=repo, capture_output=True, text=True, check=False)
    assert "✔ static.config" in plain.stdout and ESC not in plain.stdout
    coloured = subprocess.run(
        ["fluxforge", "doctor", "--static", "--color", "always"], cwd=repo, capture_output=True, text=True, check=False
    )
    assert "\x1b[32m✔\x1b[0m static.config" in coloured.stdout
    assert (
        coloured.stdout.replace("\x1b[32m", "")
        .replace("\x1b[31m", "")
        .replace("\x1b[33m", "")
        .replace("\x1b[2m", "")
        .replace("\x1b[0m", "")
        == plain.stdout
    )
    assert "\x1b[32m✔\x1b[0m static.config" in _in_terminal(repo, "doctor", "--static", env={})


def test_upgrade_dry_run_colours_with_always(tmp_path: Path) -> None:
    from tests.helpers.upgrade import make_repo

    repo = make_repo(tmp_path / "fleet", "2.5.1")
    done = subprocess.run(
        ["fluxforge", "upgrade", "--to", "2.6.4", "--dry-run", "--color", "always"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and '\x1b[32m+  version: "2.6.4"' in done.stdout
    plain = subprocess.run(
        ["fluxforge", "upgrade", "--to", "2.6.4", "--dry-run"], cwd=repo, capture_output=True, text=True, check=False
    )
    assert ESC not in plain.stdout and '+  version: "2.6.4"' in plain.stdout
