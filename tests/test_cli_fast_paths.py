"""`fluxforge hook run`, `hook encrypt FILE...`, `decrypt FILE`, `encrypt -i PATH...` and `decrypt -i PATH...`
without click: generator.front runs these exact command lines itself (the same command bodies,
generator.runner, with the arguments click passes when no other option is given) and leaves every other
command line to click.

Proven here against click's own path (``generator.cli.main`` called directly, the "forced click path"):
(1) the front's decision over a corpus of command lines, against what click would run; (2) the arguments
the core receives, against what click parses; (3) whole processes, each scenario run twice in fresh copies
(front, click): the same exit status, stdout and stderr bytes, and the same files on disk and in git;
(4) the fast paths load no click. No timing here: bench/hook.py, bench/encrypt.py and bench/decrypt.py
measure."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pytest
from click.core import ParameterSource
from click.testing import CliRunner

from generator import front, runner
from generator.cli import main
from tests.helpers.hooks import staged_repo

CLICK_PATH = "import sys; sys.argv[0] = 'fluxforge'; from generator.cli import main; main()"

SECRET = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\ntype: Opaque\nstringData:\n  password: pw-{n}\n"
PLAIN = {
    "s.yaml": SECRET.format(n=1).encode(),
    "s.json": b'{"kind": "Secret", "stringData": {"password": "pw-2"}}\n',
    "s.env": b"PASSWORD=pw-3\nUSER=app\n",
    "s.ini": b"[db]\npassword = pw-4\n",
    "s.bin": b"\x00\x01binary pw-5\xff\n",
}


def _script() -> str:
    found = shutil.which("fluxforge")
    assert found is not None, "the fluxforge console script is not on PATH (activate the venv)"
    return found


def _argvs(args: list[str]) -> dict[str, list[str]]:
    """The console script (the front), the click path forced, and for ``hook run`` what the installed git
    hook runs (``python -m generator hook run``, through the front too)."""
    argvs = {"front": [_script(), *args], "click": [sys.executable, "-c", CLICK_PATH, *args]}
    if args == ["hook", "run"]:
        argvs["module"] = [sys.executable, "-m", "generator", *args]
    return argvs


def _age_key(path: Path) -> str:
    subprocess.run(["age-keygen", "-o", str(path)], check=True, capture_output=True)
    return re.search(r"age1[0-9a-z]+", path.read_text()).group(0)  # type: ignore[union-attr]


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --- (1) the decision ------------------------------------------------------------------------------


def _click_runs_it_plainly(args: list[str]) -> bool:
    """Whether click runs ``args`` as ``hook run``, as ``hook encrypt`` of files, as ``decrypt`` of one file or
    as ``encrypt -i``/``decrypt -i`` of paths, with every other option at its default (no usage error): the
    only command lines the front may take."""
    if args == ["hook", "run"]:
        return True
    if args[:2] == ["hook", "encrypt"]:
        ctx = _parsed(main.commands["hook"].commands["encrypt"], args[2:])  # type: ignore[attr-defined]
        return ctx is not None and _given(ctx) == ["files"] and not ctx.meta.get("fluxforge.debug")
    if len(args) < 2 or args[0] not in ("decrypt", "encrypt"):
        return False
    ctx = _parsed(main.commands[args[0]], args[1:])
    if ctx is None or ctx.meta.get("fluxforge.debug"):
        return False
    paths = ctx.params["paths"]
    if sorted(_given(ctx)) == ["in_place", "paths"]:  # encrypt -i, decrypt -i: files and folders
        return True
    return args[0] == "decrypt" and _given(ctx) == ["paths"] and len(paths) == 1 and not paths[0].is_dir()


def _parsed(command: click.Command, args: list[str]) -> click.Context | None:
    try:
        return command.make_context(command.name, list(args))
    except (click.ClickException, click.exceptions.Exit):
        return None


def _given(ctx: click.Context) -> list[str]:
    """The parameters the command line set (every other one is at its default)."""
    return [name for name in ctx.params if ctx.get_parameter_source(name) != ParameterSource.DEFAULT]


@pytest.fixture
def plain_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process as the console script sees its runs: a script named fluxforge, not ``python -m``."""
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    monkeypatch.setattr(sys, "argv", ["/usr/local/bin/fluxforge"])


@pytest.mark.usefixtures("plain_run")
def test_the_front_takes_only_what_click_runs_plainly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("f.yaml").write_text("a: 1\n")
    Path("folder").mkdir()
    Path("to-folder").symlink_to("folder")
    Path("to-file").symlink_to("f.yaml")
    corpus = [
        ["hook", "run"], ["hook", "run", "--debug"], ["hook", "--debug", "run"], ["--debug", "hook", "run"],
        ["hook", "run", "x"], ["hook"], ["hook", "install"], ["hook", "run", "--help"], ["run", "hook"],
        ["decrypt", "f.yaml"], ["decrypt", "missing.yaml"], ["decrypt", "to-file"], ["decrypt", "/dev/null"],
        ["decrypt", "sub dir/with space.yaml"], ["decrypt", "\x1b[31mred.yaml"], ["decrypt", "folder"],
        ["decrypt", "to-folder"], ["decrypt", "."], ["decrypt", ""], ["decrypt", "-"], ["decrypt", "--"],
        ["decrypt", "-i", "f.yaml"], ["decrypt", "f.yaml", "-i"], ["decrypt", "--debug", "f.yaml"],
        ["decrypt", "f.yaml", "--output", "x"], ["decrypt", "--extract", '["a"]', "f.yaml"],
        ["decrypt", "--", "f.yaml"], ["decrypt", "f.yaml", "g.yaml"], ["decrypt"], ["decrypt", "--help"],
        ["decrypt", "--ignore-mac", "f.yaml"], ["decrypt", "--credential", "cli", "f.yaml"],
        ["decrypt", "--follow-outside", "f.yaml"], ["decrypt", "-h"], ["Decrypt", "f.yaml"], ["decrypt=f.yaml"],
        ["--help"], ["-h"], [], ["render"], ["encrypt", "f.yaml"], ["check", "f.yaml"],
        ["hook", "encrypt", "f.yaml"], ["hook", "encrypt", "f.yaml", "missing.yaml", "to-file"],
        ["hook", "encrypt"], ["hook", "encrypt", "-x"], ["hook", "encrypt", "f.yaml", "--debug"],
        ["hook", "encrypt", "folder"], ["hook", "encrypt", "f.yaml", "folder"], ["hook", "encrypt", "--", "f.yaml"],
        ["hook", "encrypt", "f.yaml", ""], ["hook", "encrypt", "--help"], ["hook", "Encrypt", "f.yaml"],
        ["encrypt", "-i", "f.yaml"], ["encrypt", "--in-place", "folder", "to-file", "missing.yaml"],
        ["encrypt", "-i", "."], ["decrypt", "-i", "folder", "f.yaml"], ["decrypt", "--in-place", "to-folder"],
        ["encrypt", "-i"], ["encrypt", "f.yaml", "-i"], ["encrypt", "-i", "--age", "age1x", "f.yaml"],
        ["encrypt", "-i", "f.yaml", "--indent", "2"], ["encrypt", "-i", "--", "f.yaml"], ["encrypt", "-i", "-"],
        ["encrypt", "-i", ""], ["encrypt", "-i", "f.yaml", "--debug"], ["encrypt", "-ii", "f.yaml"],
        ["encrypt", "-I", "f.yaml"], ["Encrypt", "-i", "f.yaml"], ["encrypt", "-i", "--help"],
        ["decrypt", "-i", "--ignore-mac", "folder"], ["decrypt", "-i", "folder", "--output", "x"],
        ["decrypt", "-i", "--extract", '["a"]', "f.yaml"], ["decrypt", "-i", "-x"], ["render", "-i", "f.yaml"],
    ]  # fmt: skip
    taken = []
    for args in corpus:
        fast = front.fast_command(args)
        if fast is not None:
            assert _click_runs_it_plainly(args), args
            taken.append(args)
    assert taken == [
        ["hook", "run"],
        ["decrypt", "f.yaml"],
        ["decrypt", "missing.yaml"],
        ["decrypt", "to-file"],
        ["decrypt", "/dev/null"],
        ["decrypt", "sub dir/with space.yaml"],
        ["decrypt", "\x1b[31mred.yaml"],
        ["decrypt", "-i", "f.yaml"],
        ["hook", "encrypt", "f.yaml"],
        ["hook", "encrypt", "f.yaml", "missing.yaml", "to-file"],
        ["encrypt", "-i", "f.yaml"],
        ["encrypt", "--in-place", "folder", "to-file", "missing.yaml"],
        ["encrypt", "-i", "."],
        ["decrypt", "-i", "folder", "f.yaml"],
        ["decrypt", "--in-place", "to-folder"],
    ]


@pytest.mark.usefixtures("plain_run")
def test_unsure_runs_stay_with_click(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shell completion, an odd program name, no stdout or stderr, an ASCII-only stderr (click rewraps it)."""
    assert front.fast_command(["hook", "run"]) == "hook run"
    monkeypatch.setenv("_FLUXFORGE_COMPLETE", "bash_source")
    assert front.fast_command(["hook", "run"]) is None
    monkeypatch.delenv("_FLUXFORGE_COMPLETE")
    for prog in ("", "flux forge", "fluxförge"):
        monkeypatch.setattr(sys, "argv", [prog, "hook", "run"])
        assert front.fast_command(["hook", "run"]) is None, prog
    monkeypatch.setattr(sys, "argv", ["fluxforge", "hook", "run"])
    for name in ("stdout", "stderr"):
        with monkeypatch.context() as patched:
            patched.setattr(sys, name, None)
            assert front.fast_command(["hook", "run"]) is None, name

    class Ascii:
        encoding = "ascii"

    monkeypatch.setattr(sys, "stderr", Ascii())
    assert front.fast_command(["hook", "run"]) is None


@pytest.mark.usefixtures("plain_run")
def test_a_batch_on_a_terminal_stays_with_click(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``encrypt -i`` and ``decrypt -i`` draw click's progress bar on a terminal: there click runs them."""
    monkeypatch.chdir(tmp_path)

    class Terminal:
        encoding = "utf-8"

        def __init__(self, tty: bool) -> None:
            self.tty = tty

        def isatty(self) -> bool:
            return self.tty

    for tty, taken in ((False, "encrypt -i"), (True, None)):
        monkeypatch.setattr(sys, "stderr", Terminal(tty))
        assert front.fast_command(["encrypt", "-i", "f.yaml"]) == taken
        assert front.fast_command(["decrypt", "-i", "f.yaml"]) == (taken and "decrypt -i")
        assert front.fast_command(["decrypt", "f.yaml"]) == "decrypt"  # one file to stdout: no bar either way


@pytest.mark.usefixtures("plain_run")
def test_python_m_generator_takes_only_the_hook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``python -m generator hook run`` is what `fluxforge hook install` writes; any other ``python -m`` run
    (whose usage lines name the program after the module) stays with click."""
    monkeypatch.chdir(tmp_path)
    Path("f.yaml").write_text("a: 1\n")
    module = types.ModuleType("__main__")
    module.__package__ = "generator"
    monkeypatch.setitem(sys.modules, "__main__", module)
    monkeypatch.setattr(sys, "argv", [str(Path(front.__file__).with_name("__main__.py"))])
    assert front.fast_command(["hook", "run"]) == "hook run"
    assert front.fast_command(["decrypt", "f.yaml"]) is None
    assert front.fast_command(["hook", "encrypt", "f.yaml"]) is None
    assert front.fast_command(["encrypt", "-i", "f.yaml"]) is None
    assert front._fast_help_prog(["--help"]) is None


# --- (2) the arguments -----------------------------------------------------------------------------


def _recorded(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str, result: Any) -> list[tuple[Any, ...]]:
    calls: list[tuple[Any, ...]] = []

    def record(*args: Any, **kwargs: Any) -> Any:
        warn = kwargs.pop("on_warning", None)
        if warn is not None:
            warn("a note")  # what the warning callback writes is compared too
        calls.append((args, kwargs))
        return result

    monkeypatch.setattr(owner, name, record)
    return calls


def _both_in_process(args: list[str], capsys: pytest.CaptureFixture[str]) -> list[str]:
    outputs = []
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    outputs.append(result.stdout + "|" + result.stderr)
    assert front.run_fast(args) == 0
    out = capsys.readouterr()
    outputs.append(out.out + "|" + out.err)
    return outputs


def test_decrypt_passes_what_click_parses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from generator.sops import api

    monkeypatch.chdir(tmp_path)
    Path("f.yaml").write_text("a: 1\n")
    calls = _recorded(monkeypatch, api, "decrypt_path", b"plain\n")
    clicks, ours = _both_in_process(["decrypt", "f.yaml"], capsys)
    assert len(calls) == 2 and calls[0] == calls[1]
    assert calls[1] == ((Path("f.yaml"),), {**_defaults("decrypt"), "options": api.KeyOptions({})})
    assert clicks == ours == "plain\n|warning: a note\n"


def _defaults(command: str) -> dict[str, Any]:
    """What click parses for ``command FILE``: each option's value (the key flags become ``options``)."""
    ctx = main.commands[command].make_context(command, ["f.yaml"])
    return {k: ctx.params[k] for k in ("in_place", "output", "follow_outside", "extract", "ignore_mac")}


def test_hook_run_passes_what_click_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from generator.commands import hook

    monkeypatch.chdir(tmp_path)
    calls = _recorded(monkeypatch, hook, "run_git_hook", ["line one", "line two"])
    clicks, ours = _both_in_process(["hook", "run"], capsys)
    assert calls == [((tmp_path,), {}), ((tmp_path,), {})]
    assert clicks == ours == "|line one\nline two\n"


def test_hook_encrypt_passes_what_click_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from generator.commands import hook

    monkeypatch.chdir(tmp_path)
    calls = _recorded(monkeypatch, hook, "run_framework_encrypt", ["changed"])
    clicks, ours = _both_in_process(["hook", "encrypt", "a.yaml", "b/c.yaml"], capsys)
    assert calls == [(([Path("a.yaml"), Path("b/c.yaml")],), {})] * 2
    assert clicks == ours == "|changed\n"


def _without_progress(calls: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The calls with ``progress`` taken out: click passes its bar (which draws nothing off a terminal), the
    front None."""
    for _args, kwargs in calls:
        progress = kwargs.pop("progress")
        assert progress is None or type(progress).__name__ == "_SopsProgress"
    return calls


def test_encrypt_in_place_passes_what_click_parses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from generator.sops import api

    monkeypatch.chdir(tmp_path)
    report = api.Report()
    report.changed.append(Path("a.yaml"))
    report.changes[Path("a.yaml")] = ["a change"]
    flags = _recorded(monkeypatch, api, "encrypt_flags", "the flags")
    calls = _recorded(monkeypatch, api, "encrypt_paths", report)
    clicks, ours = _both_in_process(["encrypt", "-i", "a.yaml", "b"], capsys)
    assert len(flags) == 2 and flags[0] == flags[1]
    ctx = main.commands["encrypt"].make_context("encrypt", ["-i", "a.yaml"])
    selectors = {k: v for k, v in ctx.params.items() if k.endswith(("_regex", "_suffix"))}
    assert len(selectors) == 6 and set(selectors.values()) == {None}
    assert flags[1][1] == {
        "selectors": selectors,
        **{k: ctx.params[k] for k in ("mac_only_encrypted", "age", "azure_kv", "input_type", "output_type", "indent")},
    }
    assert len(calls) == 2 and _without_progress(calls)[0] == calls[1]
    assert calls[1] == (
        ([Path("a.yaml"), Path("b")],),
        {
            "in_place": True,
            "options": api.KeyOptions({}),
            "config": ctx.params["config"],
            "follow_outside": ctx.params["follow_outside"],
            "flags": "the flags",
        },
    )
    assert clicks == ours == "|a.yaml: a change\nencrypted 1 file(s), 0 already encrypted\n"


def test_decrypt_in_place_passes_what_click_parses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from generator.sops import api

    monkeypatch.chdir(tmp_path)
    Path("folder").mkdir()
    Path("f.yaml").write_text("a: 1\n")
    report = api.Report()
    report.changed.extend([Path("f.yaml"), Path("folder/g.yaml")])
    calls = _recorded(monkeypatch, api, "decrypt_paths", report)
    clicks, ours = _both_in_process(["decrypt", "-i", "folder", "f.yaml"], capsys)
    assert len(calls) == 2 and _without_progress(calls)[0] == calls[1]
    ctx = main.commands["decrypt"].make_context("decrypt", ["-i", "folder"])
    assert calls[1] == (
        ([Path("folder"), Path("f.yaml")],),
        {"options": api.KeyOptions({}), "follow_outside": ctx.params["follow_outside"], "ignore_mac": False},
    )
    assert clicks == ours == "|warning: a note\ndecrypted 2 file(s)\n"
    one = _recorded(monkeypatch, api, "decrypt_path", b"plain\n")  # one file: decrypt_path, in place
    clicks, ours = _both_in_process(["decrypt", "-i", "f.yaml"], capsys)
    assert len(one) == 2 and one[0] == one[1]
    assert one[1] == ((Path("f.yaml"),), {**_defaults("decrypt"), "in_place": True, "options": api.KeyOptions({})})
    assert clicks == ours == "|warning: a note\n"


# --- (3) whole processes ---------------------------------------------------------------------------


def _run_both(
    make: Callable[[Path], Path], args: list[str], env: dict[str, str], tmp_path: Path, **popen: Any
) -> dict[str, tuple[int, bytes, bytes, dict[str, bytes]]]:
    """Each side in a fresh copy made by ``make`` (which returns the folder to run in)."""
    results = {}
    for side, argv in _argvs(args).items():
        cwd = make(tmp_path / side)
        done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, check=False, **popen)
        results[side] = (done.returncode, done.stdout, done.stderr, _tree(cwd))
    return results


@pytest.fixture
def keyed(tmp_path: Path) -> tuple[dict[str, str], str]:
    key = tmp_path / "key.txt"
    recipient = _age_key(key)
    env = {**os.environ, "SOPS_AGE_KEY_FILE": str(key)}
    env = {k: v for k, v in env.items() if k not in ("COLUMNS", "FLUXFORGE_DEBUG") and not k.endswith("_COMPLETE")}
    return env, recipient


def _encrypted_tree(source: Path, recipient: str, env: dict[str, str], *, rules: bool) -> None:
    source.mkdir()
    if rules:
        (source / ".sops.yaml").write_text(f"creation_rules:\n  - age: {recipient}\n")
    for name, data in PLAIN.items():
        (source / name).write_bytes(data)
        flags = [] if rules else ["--age", recipient]
        subprocess.run(["sops", "encrypt", "-i", *flags, name], cwd=source, env=env, check=True)
    (source / "plain.yaml").write_text("a: 1\n")
    (source / "tampered.yaml").write_text("note_unencrypted: kept\npassword: pw-6\n")  # clear, but under the MAC
    flags = [] if rules else ["--age", recipient]
    subprocess.run(["sops", "encrypt", "-i", *flags, "tampered.yaml"], cwd=source, env=env, check=True)
    text = (source / "tampered.yaml").read_text()
    (source / "tampered.yaml").write_text(text.replace("note_unencrypted: kept", "note_unencrypted: changed"))


@pytest.mark.parametrize("rules", [True, False], ids=["with-sops-yaml", "without"])
def test_decrypt_front_and_click_agree(keyed: tuple[dict[str, str], str], tmp_path: Path, rules: bool) -> None:
    env, recipient = keyed
    source = tmp_path / "source"
    _encrypted_tree(source, recipient, env, rules=rules)
    wrong = tmp_path / "wrong.txt"
    _age_key(wrong)
    wrong_key = {**env, "SOPS_AGE_KEY_FILE": str(wrong)}

    def copy(dest: Path) -> Path:
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(source, dest)
        return dest

    keyless = {k: v for k, v in env.items() if k != "SOPS_AGE_KEY_FILE"}
    names = [*PLAIN, "plain.yaml", "tampered.yaml", "missing.yaml", "\x1b[31mred\x1b[0m.yaml", "."]
    runs = [(name, env) for name in names] + [(n, e) for n in ("s.yaml", "s.bin") for e in (keyless, wrong_key)]
    for name, run_env in runs:
        results = _run_both(copy, ["decrypt", name], run_env, tmp_path)
        assert results["front"] == results["click"], (name, run_env.get("SOPS_AGE_KEY_FILE"))
    code, out, _err, _files = _run_both(copy, ["decrypt", "s.yaml"], env, tmp_path)["front"]
    assert code == 0 and b"password: pw-1" in out
    ansi = _run_both(copy, ["decrypt", "\x1b[31mred\x1b[0m.yaml"], env, tmp_path)["front"]
    assert ansi[0] == 1 and b"red.yaml" in ansi[2] and b"\x1b" not in ansi[2]  # click.echo's stripping


def _plaintexts(tree: dict[str, bytes], cwd: Path, env: dict[str, str]) -> dict[str, bytes]:
    """``tree`` with each encrypted file as the real sops decrypts it (a fresh data key each run)."""
    return {
        rel: subprocess.run(["sops", "-d", rel], cwd=cwd, env=env, capture_output=True, check=True).stdout
        if b"ENC[AES256_GCM" in data
        else data
        for rel, data in tree.items()
    }


def _batch_tree(dest: Path, recipient: str) -> Path:
    """Secrets of every store in folders, a file the rules miss, a plaintext holding a ``sops`` key (refused),
    an encrypted file holding a value added by hand (encrypted, but under a MAC that needs the key)."""
    shutil.rmtree(dest, ignore_errors=True)
    for folder in ("secrets/a", "secrets/b", "other"):
        (dest / folder).mkdir(parents=True)
    (dest / ".sops.yaml").write_text(f"creation_rules:\n  - path_regex: ^secrets/\n    age: {recipient}\n")
    for name, data in PLAIN.items():
        (dest / "secrets/a" / name).write_bytes(data)
    for n in range(70):  # more than a batch keeps in this process: forked ones share the work
        (dest / "secrets/b" / f"s{n:02d}.yaml").write_text(SECRET.format(n=n))
    (dest / "other/s.yaml").write_text(SECRET.format(n=99))
    (dest / "secrets/refused.yaml").write_text("sops: {mac: x}\npassword: pw\n")
    return dest


@pytest.mark.parametrize(
    "args",
    [
        ["encrypt", "-i", "secrets"],
        ["encrypt", "-i", "secrets/a", "secrets/b/s01.yaml"],
        ["encrypt", "--in-place", "secrets/b", "other/s.yaml", "missing.yaml"],
        ["encrypt", "-i", "secrets/refused.yaml", "secrets/a/s.yaml"],
    ],
)
def test_encrypt_in_place_front_and_click_agree(
    keyed: tuple[dict[str, str], str], tmp_path: Path, args: list[str]
) -> None:
    """The same status, lines and files (each encrypted one decrypting, with the real sops, to the same
    plaintext); then encrypting again changes nothing on either side."""
    env, recipient = keyed
    seen = {}
    for side, (code, out, err, tree) in _run_both(_batch_maker(recipient), args, env, tmp_path).items():
        seen[side] = (code, out, err, _plaintexts(tree, tmp_path / side, env))
    assert seen["front"] == seen["click"]
    code, err = seen["front"][0], seen["front"][2]
    assert code == (0 if args == ["encrypt", "-i", "secrets/a", "secrets/b/s01.yaml"] else 1), err
    for side, argv in _argvs(args).items():
        before = _tree(tmp_path / side)
        again = subprocess.run(argv, cwd=tmp_path / side, env=env, capture_output=True, check=False)
        assert _tree(tmp_path / side) == before, side
        seen[side] = (again.returncode, again.stdout, again.stderr)
    assert seen["front"] == seen["click"]


def test_a_batch_with_stderr_closed_does_every_file(keyed: tuple[dict[str, str], str], tmp_path: Path) -> None:
    """``encrypt -i FOLDER 2>&-``: no stderr, so click runs it (and would draw no progress bar): every file is
    encrypted and the run succeeds, as with stderr there."""
    env, recipient = keyed
    root = _batch_tree(tmp_path / "t", recipient)
    (root / "secrets/refused.yaml").unlink()
    done = subprocess.run(
        ["sh", "-c", 'exec "$@" 2>&-', "sh", _script(), "encrypt", "-i", "secrets"], cwd=root, env=env, check=False
    )
    assert done.returncode == 0
    tree = _tree(root / "secrets")
    assert len(tree) == 75 and all(b"ENC[AES256_GCM" in data for data in tree.values())


def _batch_maker(recipient: str) -> Callable[[Path], Path]:
    def make(dest: Path) -> Path:
        return _batch_tree(dest, recipient)

    return make


@pytest.mark.parametrize(
    ("args", "status"),
    [
        (["decrypt", "-i", "t"], 1),  # its tampered file fails alone
        (["decrypt", "-i", "t/s.yaml", "t/s.bin", "t/plain.yaml"], 1),  # plain.yaml named: not encrypted
        (["decrypt", "-i", "t/s.yaml", "t/s.bin", "t/copy-07.yaml"], 0),
        (["decrypt", "--in-place", "t/s.json"], 0),
        (["decrypt", "-i", "t/tampered.yaml"], 1),
        (["decrypt", "-i", "t/missing.yaml"], 1),
        (["decrypt", "-i", "elsewhere", "t/s.yaml"], 0),
        (["decrypt", "-i", "a" * 300], 1),  # a name too long to look at: the file it cannot read
    ],
)
def test_decrypt_in_place_front_and_click_agree(
    keyed: tuple[dict[str, str], str], tmp_path: Path, args: list[str], status: int
) -> None:
    env, recipient = keyed
    source = tmp_path / "source"
    source.mkdir()
    _encrypted_tree(source / "t", recipient, env, rules=True)
    for n in range(70):  # more than a batch keeps in this process
        shutil.copy(source / "t" / "s.yaml", source / "t" / f"copy-{n:02d}.yaml")
    (source / "elsewhere").mkdir()

    def copy(dest: Path) -> Path:
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(source, dest)
        return dest

    results = _run_both(copy, args, env, tmp_path)
    assert results["front"] == results["click"]
    code, _out, err, tree = results["front"]
    assert code == status, err
    assert b"Traceback" not in err
    if "t" in args or "t/s.yaml" in args:
        assert b"password: pw-1" in tree["t/s.yaml"]  # decrypted (a tampered file fails alone)


def test_decrypt_agrees_with_sops(keyed: tuple[dict[str, str], str], tmp_path: Path) -> None:
    env, recipient = keyed
    _encrypted_tree(tmp_path / "t", recipient, env, rules=True)
    for name in PLAIN:
        ours = subprocess.run(
            [_script(), "decrypt", name], cwd=tmp_path / "t", env=env, capture_output=True, check=False
        )
        peer = subprocess.run(["sops", "-d", name], cwd=tmp_path / "t", env=env, capture_output=True, check=True)
        assert (ours.returncode, ours.stdout) == (0, peer.stdout), name


def test_a_large_plaintext_reaches_the_pipe_whole(keyed: tuple[dict[str, str], str], tmp_path: Path) -> None:
    """The fast path ends without the interpreter's teardown: every byte is out before it does."""
    env, recipient = keyed
    big = tmp_path / "big.yaml"
    big.write_text("".join(f"key{n}: {'v' * 1000}-{n}\n" for n in range(3000)))
    subprocess.run(["sops", "encrypt", "-i", "--age", recipient, str(big)], env=env, check=True)
    peer = subprocess.run(["sops", "-d", str(big)], env=env, capture_output=True, check=True).stdout
    for argv in _argvs(["decrypt", str(big)]).values():
        done = subprocess.run(argv, env=env, capture_output=True, check=True)
        assert done.stdout == peer and len(peer) > 3_000_000


def test_exit_handlers_still_run(keyed: tuple[dict[str, str], str], tmp_path: Path) -> None:
    """An exit handler registered in the process (embedding code, a library) runs: the teardown is skipped
    only when it has nothing to do."""
    env, recipient = keyed
    _encrypted_tree(tmp_path / "t", recipient, env, rules=True)
    code = (
        "import atexit, sys; atexit.register(lambda: print('handler ran', file=sys.stderr)); "
        "sys.argv = ['fluxforge', 'decrypt', 's.yaml']; from generator.front import main; main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path / "t", env=env, capture_output=True, text=True, check=False
    )
    assert (done.returncode, done.stderr) == (0, "handler ran\n") and "pw-1" in done.stdout


def test_decrypt_on_a_closed_pipe(keyed: tuple[dict[str, str], str], tmp_path: Path) -> None:
    env, recipient = keyed
    _encrypted_tree(tmp_path / "t", recipient, env, rules=True)
    results = []
    for argv in _argvs(["decrypt", "s.yaml"]).values():
        reader, writer = os.pipe()
        os.close(reader)
        done = subprocess.run(argv, cwd=tmp_path / "t", env=env, stdout=writer, stderr=subprocess.PIPE, check=False)
        os.close(writer)
        results.append((done.returncode, done.stderr))
    assert results[0] == results[1] == (1, b"")


def _git(cwd: Path, *args: str) -> bytes:
    return subprocess.run(["git", "-c", "commit.gpgsign=false", *args], cwd=cwd, check=True, capture_output=True).stdout


STALE = "secrets/.db.yaml.fluxforge-999999999-0.tmp"
"""A temp file of ours whose process is gone: the write beside it removes it and notes that on stderr."""


def _repo(dest: Path, recipient: str, staged: dict[str, str], *, stale: bool = False) -> Path:
    shutil.rmtree(dest, ignore_errors=True)
    staged_repo(dest, recipient, staged)
    if stale:
        (dest / STALE).write_text("half a write\n")
    return dest


HOOK_CASES = {
    "nothing staged": {},
    "a plaintext Secret": {"secrets/db.yaml": SECRET.format(n=7)},
    "a Secret the rules miss": {"apps/db.yaml": SECRET.format(n=8)},
    "a broken file and a Secret": {"secrets/bad.yaml": "sops: {mac: x}\n", "secrets/db.yaml": SECRET.format(n=9)},
    "a Secret beside a stale temp file": {"secrets/db.yaml": SECRET.format(n=10)},
}


@pytest.mark.parametrize("case", list(HOOK_CASES))
def test_hook_run_front_and_click_agree(keyed: tuple[dict[str, str], str], tmp_path: Path, case: str) -> None:
    env, recipient = keyed
    stale = "stale" in case

    def make(dest: Path) -> Path:
        return _repo(dest, recipient, HOOK_CASES[case], stale=stale)

    results = _run_both(make, ["hook", "run"], env, tmp_path)
    seen = {}
    for side, (code, out, err, files) in results.items():
        repo = tmp_path / side
        staged = _git(repo, "ls-files", "-s").decode()
        blobs = {}
        for line in staged.splitlines():
            rel = line.split("\t", 1)[1]
            blob = _git(repo, "show", f":{rel}")
            if b"ENC[AES256_GCM" in blob:  # fresh data key and IVs each run: compare the plaintext
                assert blob == files[rel]  # the working tree holds the staged ciphertext
                blob = subprocess.run(["sops", "-d", rel], cwd=repo, env=env, capture_output=True, check=True).stdout
            blobs[rel] = blob
        modes = re.sub(r" [0-9a-f]{40} ", " ", staged)
        objects = sum(1 for name in files if name.startswith(".git/objects/"))  # ciphertext: other ids
        names = sorted(name for name in files if not name.startswith(".git/objects/"))
        err = err.replace(str(repo).encode(), b"REPO")  # a note names the stale file by its absolute path
        seen[side] = (code, out, err, modes, blobs, names, objects)
    assert seen["front"] == seen["click"] == seen["module"]
    assert seen["front"][0] == (1 if "miss" in case or "broken" in case else 0)
    assert (f"fluxforge: REPO/{STALE}: removed a stale temp file".encode() in seen["front"][2]) == stale


FRAMEWORK_FILES = {
    "secrets/db.yaml": SECRET.format(n=11),  # covered, plaintext: encrypted in place, exit 1 (re-add it)
    "secrets/list.yaml": "- a\n- b\n",  # covered, cannot be encrypted (a list): a problem, nothing written
    "apps/db.yaml": SECRET.format(n=12),  # outside every rule: left alone (the check reports it)
    "app.yaml": "kind: ConfigMap\n",
}


@pytest.mark.parametrize(
    "files",
    [
        ["secrets/db.yaml", "app.yaml", "apps/db.yaml", "gone.yaml"],
        ["secrets/list.yaml", "secrets/db.yaml"],
        ["app.yaml"],
    ],
)
def test_hook_encrypt_front_and_click_agree(
    keyed: tuple[dict[str, str], str], tmp_path: Path, files: list[str]
) -> None:
    """The pre-commit framework's call (``fluxforge hook encrypt FILE...``): the same status, lines and files."""
    env, recipient = keyed

    def make(dest: Path) -> Path:
        shutil.rmtree(dest, ignore_errors=True)
        (dest / "secrets").mkdir(parents=True)
        (dest / "apps").mkdir()
        (dest / ".sops.yaml").write_text(f"creation_rules:\n  - path_regex: secrets/.*\\.yaml$\n    age: {recipient}\n")
        for rel, text in FRAMEWORK_FILES.items():
            (dest / rel).write_text(text)
        return dest

    seen = {}
    for side, (code, out, err, tree) in _run_both(make, ["hook", "encrypt", *files], env, tmp_path).items():
        for rel, data in tree.items():
            if b"ENC[AES256_GCM" in data:  # a fresh data key each run: compare what it decrypts to
                tree[rel] = subprocess.run(
                    ["sops", "-d", rel], cwd=tmp_path / side, env=env, capture_output=True, check=True
                ).stdout
        seen[side] = (code, out, err, tree)
    assert seen["front"] == seen["click"]
    assert seen["front"][0] == (0 if files == ["app.yaml"] else 1)


def test_hook_run_outside_a_repository(keyed: tuple[dict[str, str], str], tmp_path: Path) -> None:
    env, _recipient = keyed

    def bare(_dest: Path) -> Path:  # one folder for both sides: the error names it
        (tmp_path / "outside").mkdir(exist_ok=True)
        return tmp_path / "outside"

    env = {**env, "GIT_CEILING_DIRECTORIES": str(tmp_path)}
    results = _run_both(bare, ["hook", "run"], env, tmp_path)
    assert results["front"] == results["click"] == results["module"]
    assert results["front"][0] == 1 and results["front"][2]


# --- (4) no click on the fast paths ----------------------------------------------------------------

PROBE = r"""
import atexit, json, runpy, sys
atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr))  # the run's last line
args = json.loads(sys.argv[1])
sys.argv = ["fluxforge", *args[1:]]
if args[0] == "module":  # as python -m generator runs it
    runpy.run_module("generator", run_name="__main__", alter_sys=True)
else:
    from generator.front import main
    main()
"""


@pytest.mark.parametrize(
    "args",
    [
        ["script", "hook", "run"],
        ["module", "hook", "run"],
        ["script", "decrypt", "s.yaml"],
        ["script", "decrypt", "x"],
        ["script", "hook", "encrypt", "app.yaml", "secrets/db.yaml"],
        ["script", "encrypt", "-i", "secrets"],
        ["script", "decrypt", "-i", "t"],
    ],
)
def test_the_fast_paths_load_no_click(keyed: tuple[dict[str, str], str], tmp_path: Path, args: list[str]) -> None:
    env, recipient = keyed
    repo = _repo(tmp_path / "repo", recipient, {"secrets/db.yaml": SECRET.format(n=1)})
    _encrypted_tree(repo / "t", recipient, env, rules=True)
    shutil.copy(repo / "t" / "s.yaml", repo / "s.yaml")
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)], cwd=repo, env=env, capture_output=True, text=True, check=False
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    modules = set(report)
    assert done.returncode == (1 if args[-1] in ("x", "secrets/db.yaml", "t") else 0)  # t: its tampered file
    assert sorted(m for m in modules if m.split(".")[0] == "click" or m.startswith("generator.cli")) == []
    assert "generator.runner" in modules  # the front ran the command itself
    assert "logging" not in modules  # loaded for a note only (test_a_note_loads_logging)
    with pytest.raises(AssertionError):  # the probe sees click when click runs: the same probe on a deferred line
        _probe_click_free(repo, env, [*args[:2], "--debug", *args[2:]])


def test_a_note_loads_logging(keyed: tuple[dict[str, str], str], tmp_path: Path) -> None:
    env, recipient = keyed
    repo = _repo(tmp_path / "repo", recipient, {"secrets/db.yaml": SECRET.format(n=1)}, stale=True)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(["script", "hook", "run"])],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"fluxforge: {repo / STALE}: removed a stale temp file" in done.stderr
    assert "logging" in json.loads(done.stderr.strip().splitlines()[-1])


def _probe_click_free(repo: Path, env: dict[str, str], args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)], cwd=repo, env=env, capture_output=True, text=True, check=False
    )
    modules = set(json.loads(done.stderr.strip().splitlines()[-1]))
    assert "click" not in modules


def test_runner_echo_is_click_echo(capfd: pytest.CaptureFixture[str]) -> None:
    """Lines with and without ANSI codes, coloured or not, to a stderr that is not a terminal."""
    lines = ["plain", "a \x1b[31mred\x1b[0m word", "\x1b[1;32mbold\x1b[m", "esc \x1b alone", "é ünï"]
    for line in lines:
        for colour in (False, True):
            runner.echo_err(line, colour)
            ours = capfd.readouterr().err
            click.echo(line, err=True, color=colour or None)
            assert ours == capfd.readouterr().err, (line, colour)
