"""`fluxforge --help` (and `-h`) without click: generator.front prints the root help by click's layout rules.

Each test compares the front with click's own rendering of the same command line (the click path forced:
``generator.cli.main`` called directly): the same bytes on stdout and stderr and the same exit status, at
every terminal width click can choose (``COLUMNS`` set, unset, invalid; a real terminal of several sizes;
no terminal), for program names that wrap the usage line, on a closed pipe, and under shell completion
(which the front leaves to click). No timing here: start-up is measured by bench/hook.py."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import shutil
import struct
import subprocess
import sys
import termios
from importlib.metadata import entry_points
from pathlib import Path

import click
import pytest

from generator import front
from generator.cli import main

CLICK_PATH = "import sys; sys.argv[0] = {prog!r}; from generator.cli import main; main()"
"""The same command line through click (``generator.cli.main``), for the same program name."""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES") and not k.endswith("_COMPLETE")}
    env.update(extra)
    return env


def _script() -> str:
    found = shutil.which("fluxforge")
    assert found is not None, "the fluxforge console script is not on PATH (activate the venv)"
    return found


def _both(args: list[str], env: dict[str, str]) -> tuple[tuple[int, bytes, bytes], tuple[int, bytes, bytes]]:
    """(exit status, stdout, stderr) of the console script (the front) and of the click path."""
    runs = []
    for argv in ([_script(), *args], [sys.executable, "-c", CLICK_PATH.format(prog="fluxforge"), *args]):
        done = subprocess.run(argv, capture_output=True, env=env, check=False)
        runs.append((done.returncode, done.stdout, done.stderr))
    return runs[0], runs[1]


def test_the_console_script_is_the_front() -> None:
    (script,) = [ep for ep in entry_points(group="console_scripts") if ep.name == "fluxforge"]
    assert script.value == "generator.front:main"


COLUMNS = [str(n) for n in range(1, 131)] + ["", "0", "-7", "abc", " 66 ", "6_0", "100000", None]


@pytest.mark.parametrize("prog", ["fluxforge", "ff", "f" * 40, "fluxforge-" * 6, "x" * 90])
def test_the_page_is_clicks_at_every_width(prog: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every width click can choose (COLUMNS 1-130, invalid values, unset: no terminal here), and program
    names long enough to move the usage line's arguments."""
    for columns in COLUMNS:
        if columns is None:
            monkeypatch.delenv("COLUMNS", raising=False)
        else:
            monkeypatch.setenv("COLUMNS", columns)
        clicks = click.Context(main, info_name=prog, **main.context_settings).get_help()  # what --help prints
        assert front.root_help(prog, front.help_width()) == clicks, (prog, columns)


SHORT_HELP_CORPUS = [
    *front.SUMMARIES.values(),
    "Sync the fleet. Then report what changed.",
    "Compare A vs. B and print it. Done.",
    "Ends with a period.",
    "\b\nA kept block.\n\nSecond paragraph. More.",
    "Pre-commit hooks-and-more: a very-long-hyphenated-word-that-click-does-not-split in it.",
    "One\nparagraph over\tlines. Next one",
    "",
]


def test_short_help_is_clicks() -> None:
    """The command list's shortening, against click's own on help texts with several sentences,
    abbreviations, a \\b block, hyphenated words, at every limit."""
    for text in SHORT_HELP_CORPUS:
        for limit in range(200):
            assert front.short_help(text, limit) == click.Command("c", help=text).get_short_help_str(limit), (
                text,
                limit,
            )


@pytest.mark.parametrize("args", [["--help"], ["-h"]])
@pytest.mark.parametrize("columns", [None, "45", "79", "200", "abc"])
def test_the_script_prints_what_click_prints(args: list[str], columns: str | None) -> None:
    env = _env() if columns is None else _env(COLUMNS=columns)
    ours, clicks = _both(args, env)
    assert ours == clicks
    assert b"Commands:" in clicks[1] and b"rotate-key" in clicks[1]


def _on_terminal(argv: list[str], columns: int) -> tuple[int, bytes, bytes]:
    """Run ``argv`` with its stdout on a pseudo-terminal ``columns`` wide (no COLUMNS in its environment)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=follower, stderr=subprocess.PIPE, env=_env())
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the terminal's last writer has gone
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.stderr is not None
    err = proc.stderr.read()
    return proc.wait(), b"".join(chunks), err


@pytest.mark.parametrize("columns", [20, 52, 66, 81, 132])
def test_on_a_terminal_the_width_is_the_terminals(columns: int) -> None:
    ours = _on_terminal([_script(), "--help"], columns)
    clicks = _on_terminal([sys.executable, "-c", CLICK_PATH.format(prog="fluxforge"), "--help"], columns)
    assert ours == clicks
    assert ours[1].count(b"\r\n") > 20


def test_a_closed_pipe_ends_as_click_ends_it() -> None:
    """stdout is a pipe nobody reads (its reader closed): exit 1 and nothing on stderr, like click."""
    results = []
    for argv in ([_script(), "--help"], [sys.executable, "-c", CLICK_PATH.format(prog="fluxforge"), "--help"]):
        reader, writer = os.pipe()
        os.close(reader)
        done = subprocess.run(argv, stdout=writer, stderr=subprocess.PIPE, env=_env(), check=False)
        os.close(writer)
        results.append((done.returncode, done.stderr))
    assert results[0] == results[1] == (1, b"")


def test_shell_completion_stays_with_click() -> None:
    ours, clicks = _both(["--help"], _env(_FLUXFORGE_COMPLETE="bash_source"))
    assert ours == clicks
    assert b"complete" in clicks[1] and b"Usage:" not in clicks[1]


@pytest.mark.parametrize("args", [["--help", "render"], ["-h", "--debug"], ["--help", "--bogus"], ["--version"], []])
def test_any_other_command_line_is_clicks(args: list[str]) -> None:
    ours, clicks = _both(args, _env(COLUMNS="80"))
    assert ours == clicks


PROBE = r"""
import json, sys
sys.argv = ["fluxforge", *json.loads(sys.argv[1])]
from generator.front import main
try:
    main()
except SystemExit as done:
    code = done.code
else:
    code = 0
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


@pytest.mark.parametrize("args", [["--help"], ["-h"]])
def test_the_root_help_loads_neither_click_nor_fluxforges_cli(args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)], capture_output=True, text=True, env=_env(), check=True
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    modules = set(report["modules"])
    assert report["code"] == 0 and "Commands:" in done.stdout
    assert sorted(m for m in modules if m.split(".")[0] in ("generator", "click")) == ["generator", "generator.front"]


AT_EXIT = r"""
import atexit, json, sys
atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr))  # the run's last line
sys.argv = ["fluxforge", *json.loads(sys.argv[1])]
from generator.front import main
main()
"""


def test_other_command_lines_reach_click_through_the_front() -> None:
    """Through click, and out through the process's exit handlers (one is registered here): a run skips the
    interpreter's teardown only when nothing is registered."""
    done = subprocess.run(
        [sys.executable, "-c", AT_EXIT, json.dumps(["render", "--help"])],
        capture_output=True,
        text=True,
        env=_env(),
        check=True,
    )
    modules = set(json.loads(done.stderr.strip().splitlines()[-1]))
    assert {"click", "generator.cli", "generator.cli.commands"} <= modules
    assert "Usage: fluxforge render" in done.stdout


GUID = "c5e055dd-c1c8-4bc7-8cf2-a7eb2667c772"


def test_a_click_run_ends_with_every_byte_out(tmp_path: Path) -> None:
    """A command click runs ends without the interpreter's teardown (nothing else registered): its status,
    stdout and stderr are those of the click path, which tears down as usual. A diff of a small fleet's
    whole render (megabytes on stdout), a usage error, a user error."""
    clusters = "".join(
        f"  - name: c{n}\n    oidcIssuer: https://oidc.example/{n}/\n    identity: {{clientId: {GUID}}}\n"
        f"    kustomizations: [{', '.join(f'{{name: k{k}, path: apps/c{n}/k{k}}}' for k in range(40))}]\n"
        for n in range(60)
    )
    config = tmp_path / "fluxforge.yaml"
    config.write_text(
        f"flux: {{version: '2.9.4'}}\ngit: {{url: 'ssh://git@github.com/contoso/fleet'}}\n"
        f"azure: {{tenantId: {GUID}}}\nsops: {{keyVault: [{{vault: kv-fleet, key: sops-flux}}]}}\n"
        f"clusters:\n{clusters}"
    )
    env = _env(XDG_CACHE_HOME=str(tmp_path / "cache"))
    for args, status in (
        (["render", "--diff", str(config)], 0),
        (["render", "--bogus"], 2),
        (["render", str(tmp_path / "missing.yaml")], 1),
    ):
        ours, clicks = _both(args, env)
        assert ours == clicks, args
        assert ours[0] == status, ours[2][-300:]
    diff, _ = _both(["render", "--diff", str(config)], env)
    assert len(diff[1]) > 1_000_000 and diff[1].endswith(b"\n")


@pytest.mark.parametrize("args", [["--version"], ["render", "--bogus"], ["lint", "/nonexistent"]])
@pytest.mark.parametrize("closed", [">&-", "2>&-"])
def test_a_closed_stdout_or_stderr_ends_as_click_ends_it(args: list[str], closed: str) -> None:
    """With a descriptor closed (Python then has no such stream) the run ends the usual way: click's status."""
    runs = []
    for argv in ([_script(), *args], [sys.executable, "-c", CLICK_PATH.format(prog="fluxforge"), *args]):
        shell = f'exec "$@" {closed}'
        done = subprocess.run(["sh", "-c", shell, "sh", *argv], capture_output=True, env=_env(), check=False)
        runs.append((done.returncode, done.stderr))
    assert runs[0] == runs[1]
    assert runs[0][0] == {"--version": 0, "render": 2, "lint": 2}[args[0]]
    assert b"Traceback" not in runs[0][1]


def test_a_profiler_gets_its_report(tmp_path: Path) -> None:
    """``python -m cProfile`` (a tracer or coverage alike) reports after the program: such a run ends the
    usual way, so the report is written."""
    out = tmp_path / "run.prof"
    done = subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "generator", "--version"],
        capture_output=True,
        env=_env(),
        check=False,
    )
    assert done.returncode == 0 and b"fluxforge " in done.stdout
    assert out.stat().st_size > 1000


TEARDOWN = r"""
import os, sys, threading, time
class Marker:
    def __del__(self):
        os.write(2, b"torn down\n")  # the interpreter's teardown frees the module's globals
marker = Marker()
if sys.argv[1] == "thread":
    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
sys.argv = ["fluxforge", "--version"]
from generator.front import main
main()
"""


@pytest.mark.parametrize(("case", "torn_down"), [("alone", False), ("thread", True)])
def test_the_teardown_is_skipped_only_when_nothing_else_runs(case: str, torn_down: bool) -> None:
    """A run click ends leaves without the interpreter's teardown; another thread running, it tears down."""
    done = subprocess.run(
        [sys.executable, "-c", TEARDOWN, case], capture_output=True, text=True, env=_env(), check=False
    )
    assert done.returncode == 0 and done.stdout.startswith("fluxforge ")
    assert ("torn down" in done.stderr) is torn_down
