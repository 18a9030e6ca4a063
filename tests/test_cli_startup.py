"""Start-up stays small: `fluxforge --help` imports click and the root group only (generator.cli, not
the commands in generator.cli.commands), and each command's --help the command table, never the heavy
libraries a command loads when it runs (an import boundary, not a timing: performance is measured in
bench/, never asserted in tests). The root --help lists the commands from generator.cli.SUMMARIES; the
tests here hold that list equal to what the commands themselves say."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from tests.helpers.hooks import git, staged_repo

HEAVY = (
    "jinja2",
    "jsonschema",
    "cryptography",
    "re2",
    "ruamel",
    "pygit2",
    "pyrage",
    "azure",
    "yaml",
    "generator.sops.engine",
    "generator.sops.stores",
    "generator.render",
    "generator.config",
    "generator.check",
    "generator.doctor",
    "generator.commands",
    "generator.gitrepo",
    "generator.yamlio",
    "generator.merge",
    "generator.flux",
    "generator.azure",
    # the report package's own module is light (format names, the CI default); its renderers and
    # records load json, hashlib, urllib and a dozen dataclasses, only when a report is printed
    "generator.report.formats",
    "generator.report.model",
    "generator.report.sources",
)

PROBE = r"""
import json, sys
sys.argv = ["fluxforge", *json.loads(sys.argv[1])]
from generator.cli import main  # click's path (tests/test_cli_fast_paths.py probes the front's)
try:
    main()
except SystemExit as done:
    code = done.code
else:
    code = 0
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def _probe(*args: str, env: dict[str, str] | None = None) -> tuple[object, set[str], str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)], capture_output=True, text=True, check=True, env=env
    )
    report = json.loads(result.stderr.strip().splitlines()[-1])
    return report["code"], set(report["modules"]), result.stdout


def _loaded(*args: str) -> tuple[object, set[str]]:
    code, modules, stdout = _probe(*args)
    assert "Usage:" in stdout
    return code, modules


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("render", "--help"),
        ("check", "--help"),
        ("encrypt", "--help"),
        ("hook", "--help"),
        ("hook", "run", "--help"),
        ("upgrade", "--help"),
    ],
)
def test_help_imports_no_heavy_module(args: tuple[str, ...]) -> None:
    code, modules = _loaded(*args)
    assert code == 0
    heavy = sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert heavy == [], f"`fluxforge {' '.join(args)}` imported {heavy}: import them inside the command"
    assert "generator.cli" in modules  # the probe ran the real entry point


@pytest.mark.parametrize("args", [("--help",), ("-h",), ()])
def test_root_help_imports_no_command(args: tuple[str, ...]) -> None:
    """The root help (and the bare command, which prints it) loads fluxforge's entry point and nothing else
    of fluxforge: not the commands, not the key kinds their options list, not the report package."""
    code, modules, _stdout = _probe(*args)
    assert code == (0 if args else 2)  # the bare command prints the help on stderr, a usage error
    ours = sorted(m for m in modules if m == "generator" or m.startswith("generator."))
    assert ours == ["generator", "generator.cli", "generator.errors", "generator.front", "generator.runner"]


@pytest.mark.parametrize("columns", ["40", "60", "80", "200"])
def test_root_help_lists_what_the_commands_say(columns: str) -> None:
    """The lazy listing is the listing click makes from the loaded commands, at any terminal width."""
    env = {**os.environ, "COLUMNS": columns}
    _code, modules, lazy = _probe("--help", env=env)
    assert "generator.cli.commands" not in modules
    probe = "import generator.cli.commands\n" + PROBE  # the same help with every command loaded
    loaded = subprocess.run(
        [sys.executable, "-c", probe, json.dumps(["--help"])], capture_output=True, text=True, check=True, env=env
    ).stdout
    assert lazy == loaded
    assert "Commands:" in lazy and "rotate-key" in lazy


@pytest.mark.parametrize("args", [("hook", "--help"), ("hook", "run", "--help"), ("hook", "encrypt", "--help")])
def test_the_hook_group_apart_is_the_one_in_the_table(args: tuple[str, ...]) -> None:
    """``fluxforge hook ...`` is looked up in generator.cli.hook_commands without the command table; the help
    it prints is the help printed with every command loaded, and the table holds that very group."""
    from generator.cli import main
    from generator.cli.hook_commands import COMMAND

    assert main.commands["hook"] is COMMAND
    _code, modules, apart = _probe(*args)
    assert "generator.cli.commands" not in modules
    probe = "import generator.cli.commands\n" + PROBE
    loaded = subprocess.run([sys.executable, "-c", probe, json.dumps(args)], capture_output=True, text=True, check=True)
    assert apart == loaded.stdout and "Usage: fluxforge hook" in apart


def test_summaries_are_the_commands_first_sentences() -> None:
    """``SUMMARIES`` names every command and gives each the short help its own help makes, at any width
    (click shortens the first sentence to fit), so the list cannot drift from the commands."""
    from generator.cli import SUMMARIES, main

    assert sorted(SUMMARIES) == sorted(main.commands)
    for name, command in main.commands.items():
        stand_in = click.Command(name, help=SUMMARIES[name])
        for limit in range(10, 320, 7):
            assert stand_in.get_short_help_str(limit) == command.get_short_help_str(limit), (name, limit)


def test_commands_load_on_first_use() -> None:
    """``main.commands`` (click's table, read by completion, tests and embedding code) is always complete."""
    code = (
        "import sys, generator.cli as cli; assert 'generator.cli.commands' not in sys.modules; "
        "names = sorted(cli.main.commands); assert 'generator.cli.commands' in sys.modules; "
        "print(names == sorted(cli.SUMMARIES), 'hook' in names)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "True"]


SECRET = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\ntype: Opaque\nstringData:\n  password: pw-{n}\n"


def _run_probe(cwd: Path, *args: str, env: dict[str, str] | None = None) -> tuple[object, set[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)], cwd=cwd, capture_output=True, text=True, env=env, check=True
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report["code"], set(report["modules"])


def _repo_with_a_staged_secret(tmp_path: Path) -> Path:
    """A git repository (one commit: .sops.yaml for an age key of its own, a Deployment) with a plaintext
    Secret staged under secrets/, as a commit about to run the hook finds it."""
    keyfile = tmp_path / "age.txt"
    subprocess.run(["age-keygen", "-o", str(keyfile)], check=True, capture_output=True)
    recipient = re.search(r"age1[0-9a-z]+", keyfile.read_text()).group(0)  # type: ignore[union-attr]
    return staged_repo(tmp_path / "repo", recipient, {"secrets/app.yaml": SECRET.format(n=1)})


def test_the_hook_reaches_git_without_libgit2(tmp_path: Path) -> None:
    """The pre-commit hook encrypts and re-stages through git's command line: pygit2 (libgit2 and its TLS
    stack, slower to load than a whole hook run) stays unloaded."""
    repo = _repo_with_a_staged_secret(tmp_path)
    code, modules = _run_probe(repo, "hook", "run")
    assert code in (0, None)
    assert "ENC[AES256_GCM" in git(repo, "show", ":secrets/app.yaml").stdout
    assert not any(m == "pygit2" or m.startswith("pygit2.") for m in modules)
    # nor the command table (the hook group lives apart), the other stores' readers, or tempfile (with the
    # shutil, bz2, lzma and random it brings): the atomic write of the ciphertext creates its temp file itself
    unwanted = ("generator.cli.commands", "generator.sops.stores.ini", "generator.sops.stores.dotenv", "tempfile")
    assert sorted(m for m in unwanted + ("shutil", "bz2", "lzma", "random") if m in modules) == []
    assert "generator.cli.hook_commands" in modules


def test_the_hook_runs_four_git_processes_for_a_staged_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Find the repository, list the staged changes, store the ciphertext, point the index at it: the staged
    plaintext itself is the working-tree file (it hashes to the staged blob), so no `git cat-file`."""
    from generator import gitrepo
    from generator.commands.hook import run_git_hook

    repo = _repo_with_a_staged_secret(tmp_path)
    ran: list[str] = []
    real = gitrepo._run_git

    def recording(args: list[str], stdin: bytes | None, env: dict[str, str] | None) -> object:
        ran.append(next(a for a in args[1:] if not a.startswith("-") and a != str(repo)))
        return real(args, stdin, env)

    monkeypatch.setattr(gitrepo, "_run_git", recording)
    monkeypatch.delenv("GIT_INDEX_FILE", raising=False)
    assert run_git_hook(repo)[0] == "fluxforge: encrypted secrets/app.yaml and staged the ciphertext"
    assert ran == ["rev-parse", "diff-index", "hash-object", "update-index"]
    assert "ENC[AES256_GCM" in git(repo, "show", ":secrets/app.yaml").stdout


def test_decrypt_of_one_file_loads_no_yaml_library_for_the_config(tmp_path: Path) -> None:
    """``fluxforge decrypt FILE`` below a usual ``.sops.yaml`` (the shape `fluxforge render` writes) reads it
    without ruamel.yaml, and loads none of the editor's modules; the plaintext is what the real sops
    decrypts."""
    keyfile = tmp_path / "age.txt"
    subprocess.run(["age-keygen", "-o", str(keyfile)], check=True, capture_output=True)
    recipient = re.search(r"age1[0-9a-z]+", keyfile.read_text()).group(0)  # type: ignore[union-attr]
    (tmp_path / ".sops.yaml").write_text(
        "# generated\ncreation_rules:\n  - path_regex: ^secrets/\n    encrypted_regex: ^(data|stringData)$\n"
        f"    age: {recipient}\n"
    )
    (tmp_path / "secrets").mkdir()
    secret = tmp_path / "secrets" / "app.yaml"
    secret.write_text(SECRET.format(n=1))
    env = {**os.environ, "SOPS_AGE_KEY_FILE": str(keyfile)}
    subprocess.run(["sops", "encrypt", "--in-place", str(secret)], cwd=tmp_path, env=env, check=True)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(["decrypt", "secrets/app.yaml"])],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    modules = set(json.loads(done.stderr.strip().splitlines()[-1])["modules"])
    peer = subprocess.run(
        ["sops", "-d", "secrets/app.yaml"], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout == peer.stdout
    assert "password: pw-1" in done.stdout
    loaded = sorted(m for m in modules if m.split(".")[0] in ("ruamel", "_ruamel_yaml", "tempfile", "shutil", "shlex"))
    assert loaded == [], f"`fluxforge decrypt FILE` loaded {loaded}"
