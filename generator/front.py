"""The ``fluxforge`` console script, and the root help's words.

``fluxforge --help`` (or ``-h``) and nothing else prints the root help without loading click: click alone
costs more start-up than the rest of the process. The page is built here by click's own layout rules
(``click.formatting`` and ``Group.format_commands`` of the click version pyproject.toml requires) from the
same words the click group is made of (``ROOT_HELP``, ``VERSION_HELP``, ``DEBUG_HELP``, ``ROOT_EPILOG``,
``SUMMARIES``), and tests/test_cli_front.py holds its bytes equal to click's at every terminal width.
Five more command lines run without click, exactly as written and with no other option: ``fluxforge
hook run`` (what git's pre-commit hook runs before every commit), ``fluxforge hook encrypt FILE...`` (the
pre-commit framework's hook), ``fluxforge decrypt FILE`` (one file to stdout, the way scripts call it);
each FILE not an option, not a folder (which ``decrypt`` refuses), and missing or readable, as click's
``Path`` checks it; and ``fluxforge encrypt -i PATH...`` and ``fluxforge decrypt -i PATH...`` (files and
folders, the batches of scripts and CI) when stderr is not a terminal, where click would draw no
progress bar. They run the same command bodies the click commands call
(``generator.runner``), with the arguments click passes when no option is given, through the one place that
maps errors to exit codes (``runner.call``); tests/test_cli_fast_paths.py holds the decision, the
arguments, and whole runs (stdout, stderr, exit status, files, the git index) equal to click's.

Every other command line, and any case this module cannot be sure of (shell completion requested, a
``python -m`` run, an unusual program name, no stdout or stderr, a stderr click would rewrap), goes to
click (``generator.cli.main``).

This module imports nothing beyond ``os``, ``stat`` and ``sys`` at import time (all loaded by the
interpreter already; ``textwrap`` only to print the page).
"""

from __future__ import annotations

import os
import stat
import sys

ROOT_HELP = "Flux on AKS: render the GitOps tree, encrypt secrets with SOPS (Azure Key Vault, age)."
"""The root group's help text (its docstring)."""

VERSION_HELP = "Show fluxforge's version, the sops format it writes and the Flux versions it supports."
DEBUG_HELP = "Show tracebacks for errors (also accepted after the command)."
HELP_HELP = "Show this message and exit."
"""click's own words for the help option."""

USAGE_ARGS = "[OPTIONS] COMMAND [ARGS]..."
"""What click's usage line puts after the program name for a group with options."""

SUMMARIES = {
    "azure": "The Azure half of the trust chain from the same config: managed identities, federated credentials, "
    "the Key Vault key and the role assignments (Bicep, or plan/apply through ARM).",
    "check": "Keyless check: files the .sops.yaml rules cover are encrypted, and correctly; no plaintext Kubernetes "
    "Secret anywhere.",
    "decrypt": "Decrypt one file (MAC verified) to stdout, in place, or to --output; with -i, many files.",
    "diff": "Compare two files (or PATH across revisions) by plaintext: a sops file shows every key, with each "
    "encrypted value as a marker that changes when the value changes (<masked:1f2e3d4c>), unless --show-values.",
    "doctor": "Walk every gate of the trust chain in chain order (the repository, Azure, the cluster, what Flux "
    "reports, and with --probe the whole exchange) and name the first broken one with its fix.",
    "edit": "Edit the plaintext in $EDITOR; re-encrypt with the same data key (untouched if unchanged).",
    "encrypt": "Encrypt files (or every file a creation rule matches below a directory) as sops does.",
    "git": "Git integration for reviewers: a diff driver that shows sops files decrypted, values masked.",
    "hook": "Git pre-commit integration: encrypt staged secrets before they reach a commit.",
    "init": "Write a commented starter fluxforge.yaml into DIRECTORY (default: here); never overwrites.",
    "lint": "Upgrade lint of ROOT: removed API versions, index-based JSON patches, ${var} without default; with a "
    "fluxforge.yaml, tenant isolation (an identity that can decrypt a key used outside its folders).",
    "render": "Render the GitOps tree from CONFIG (default: fluxforge.yaml in this folder or the nearest parent "
    "folder that has one; a folder means FOLDER/fluxforge.yaml).",
    "rotate": "Re-encrypt encrypted files with a new data key for the same recipients (a file that cannot be read "
    "is an error, never skipped).",
    "rotate-key": "Move CONFIG's repository (default: the nearest fluxforge.yaml) to a new version of its Key Vault "
    "key: pin it in fluxforge.yaml (comments kept), re-render .sops.yaml, re-wrap every encrypted file wrapped for "
    "another version (one transaction per file; the config is written only when all succeeded, and a rerun "
    "continues), then say when the old version can be disabled.",
    "updatekeys": "Re-wrap the data key of encrypted files for the recipients .sops.yaml now names.",
    "upgrade": "Move CONFIG to a new Flux version, re-render, and merge three ways into the files on disk: your "
    "edits survive; conflicts are listed and nothing is written (unless --force).",
}
"""Each command's first sentence, as ``fluxforge --help`` lists it (click shortens it to the terminal)."""


def examples(*lines: str) -> str:
    """A help epilog: ``Examples:`` and the command lines, kept as written (click's \\b marker)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


ROOT_EPILOG = examples(
    "fluxforge init fleet --cluster staging && fluxforge render fleet",
    "fluxforge COMMAND --help         # each command's options and examples",
)


def main() -> None:
    """The ``fluxforge`` console script."""
    args = sys.argv[1:]
    prog = _fast_help_prog(args)
    if prog is not None:
        _print_root_help(root_help(prog, help_width()))
        return
    if fast_command(args) is not None:
        _end(run_fast(args))
        return
    from generator.cli import main as click_main

    try:
        click_main()  # click's standalone mode ends every run with SystemExit
    except SystemExit as done:
        _end(done.code)


def _fast_help_prog(args: list[str]) -> str | None:
    """The program name when this run is the root help and nothing else, as click would name it; None
    (click decides) for anything else or anything unsure."""
    if args not in (["--help"], ["-h"]) or sys.stdout is None or _click_only():
        return None
    return _prog()


def _prog() -> str | None:
    """The program name as click names it, when it is a plain one."""
    prog = os.path.basename(sys.argv[0])  # noqa: PTH119 - click's own call; pathlib would cost start-up
    return prog if prog and prog.isascii() and prog.isprintable() and " " not in prog else None


def fast_command(args: list[str]) -> str | None:
    """The command line this module runs without click (``"hook run"``, ``"decrypt"``, ``"hook encrypt"``, the
    pre-commit framework's call, each FILE as ``decrypt`` takes its FILE, ``"encrypt -i"`` or ``"decrypt -i"``),
    or None: click runs it. Only these exact shapes, with no other option, with stdout there, no shell
    completion, a stderr click would write to as it is (present, not ASCII-only: click rewraps such a stream)
    and a plain program name.
    ``python -m generator hook run`` (what ``fluxforge hook install`` writes into the git hook) is taken too:
    nothing the hook prints names the program; every other ``python -m`` run goes to click."""
    if sys.stdout is None or _completion() or _prog() is None or not _stderr_as_is():
        return None
    if args == ["hook", "run"]:
        return "hook run"
    return None if _module_run() else _file_command(args)


def _file_command(args: list[str]) -> str | None:
    """``decrypt FILE`` or ``hook encrypt FILE...``, each FILE as click's ``Path`` takes it as it is; or
    ``encrypt -i PATH...`` or ``decrypt -i PATH...`` (files and folders) when stderr is not a terminal (on a
    terminal click draws a progress bar)."""
    if len(args) == 2 and args[0] == "decrypt" and _one_file(args[1]):
        return "decrypt"
    if len(args) > 2 and args[:2] == ["hook", "encrypt"] and all(map(_one_file, args[2:])):
        return "hook encrypt"
    if len(args) > 2 and args[0] in _IN_PLACE and args[1] in ("-i", "--in-place") and all(map(_one_path, args[2:])):
        return None if _stderr_terminal() else _IN_PLACE[args[0]]
    return None


_IN_PLACE = {"encrypt": "encrypt -i", "decrypt": "decrypt -i"}


def _stderr_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream: click decides
        return True


def _stderr_as_is() -> bool:
    import codecs  # loaded by the interpreter at start-up already

    stream = sys.stderr
    try:
        return stream is not None and codecs.lookup(getattr(stream, "encoding", None) or "ascii").name != "ascii"
    except LookupError:
        return False


def _one_file(arg: str) -> bool:
    """An argument click's ``Path()`` takes as it is and that is not a folder: not an option, not empty,
    and missing (the core reports it) or readable (click refuses an unreadable path with a usage error)."""
    return _one_path(arg, folder=False)


def _one_path(arg: str, *, folder: bool = True) -> bool:
    """An argument click's ``Path()`` takes as it is: not an option, not empty, and missing or readable (a
    folder too, unless not ``folder``)."""
    if not arg or arg.startswith("-"):
        return False
    try:
        st = os.stat(arg)  # noqa: PTH116 - click.Path's own call; pathlib would cost start-up
    except OSError:
        return True
    return (folder or not stat.S_ISDIR(st.st_mode)) and os.access(arg, os.R_OK)


def run_fast(args: list[str]) -> str | int | None:
    """Run ``fluxforge hook run``, ``fluxforge hook encrypt FILE...``, ``fluxforge decrypt FILE`` or
    ``fluxforge encrypt|decrypt -i PATH...`` as the click commands do (the same bodies in
    ``generator.runner``, with the arguments click passes when no option is given) and return the exit
    status (``SystemExit``'s code); a closed stdout ends the run with exit status 1 and nothing on stderr,
    as click's standalone mode does."""
    from generator import runner

    runner.setup_process()
    try:
        if args == ["hook", "run"]:
            runner.hook_run(runner.plain_run, runner.echo_err)
        elif args[0] == "hook":
            runner.hook_encrypt(runner.plain_run, runner.echo_err, args[2:])
        elif len(args) > 2:
            _in_place(args)
        else:
            from pathlib import Path

            from generator.sops.api import KeyOptions

            runner.decrypt_file(
                runner.plain_run,
                runner.echo_err,
                Path(args[1]),
                KeyOptions({}),
                in_place=False,
                output=None,
                follow_outside=False,
                extract=None,
                ignore_mac=False,
            )
    except BrokenPipeError:
        _quiet_exit_1()
    except SystemExit as done:
        return done.code
    return 0


def _in_place(args: list[str]) -> None:
    """``encrypt -i PATH...`` or ``decrypt -i PATH...`` with what click passes when no other option is given
    (no progress bar: stderr is not a terminal)."""
    from pathlib import Path

    from generator import runner
    from generator.sops.api import SELECTORS, KeyOptions

    paths = [Path(arg) for arg in args[2:]]
    run, echo = runner.plain_run, runner.echo_err
    if args[0] == "decrypt":
        runner.decrypt_in_place(run, echo, paths, KeyOptions({}), progress=None, follow_outside=False, ignore_mac=False)
        return
    flags = {
        "selectors": dict.fromkeys(SELECTORS),  # the selector flags, none given
        "mac_only_encrypted": False,
        "age": None,
        "azure_kv": None,
        "input_type": None,
        "output_type": None,
        "indent": None,
    }
    runner.encrypt_files(
        run,
        echo,
        paths,
        in_place=True,
        options=KeyOptions({}),
        config=None,
        progress=None,
        follow_outside=False,
        flags=flags,
    )


def _end(code: str | int | None) -> None:
    """End a run (``run_fast``'s or click's): its streams flushed, then out without the interpreter's teardown
    (freeing every module and object one by one: tens of milliseconds after a hook run, about 40 after a
    200-cluster render) when that teardown has nothing else to do: no exit handler registered (``logging``
    registers one, for a note; so does a ``weakref.finalize``), no other thread, no profiler or tracer
    (``python -m cProfile``, ``trace``, coverage: they report after the program), both streams there (a
    closed one is None). Files are written and closed, temp files removed and git finished before this point."""
    if not isinstance(code, int) or sys.stdout is None or sys.stderr is None or not _nothing_left():
        sys.exit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        _quiet_exit_1()
    os._exit(code)


def _nothing_left() -> bool:
    import atexit

    if sys.getprofile() is not None or sys.gettrace() is not None:
        return False
    handlers = getattr(atexit, "_ncallbacks", None)  # CPython's count; unknown elsewhere: the usual exit
    if handlers is None or handlers() != 0:
        return False
    threading = sys.modules.get("threading")
    return threading is None or threading.active_count() == 1


def _click_only() -> bool:
    """``python -m ...`` (click names the program after the module) or shell completion requested."""
    return _module_run() or _completion()


def _module_run() -> bool:
    return getattr(sys.modules["__main__"], "__package__", None) not in (None, "")


def _completion() -> bool:
    """Shell completion requested (click's ``_<PROG>_COMPLETE``)."""
    return any(name.startswith("_") and name.endswith("_COMPLETE") for name in os.environ)


def _print_root_help(text: str) -> None:
    """Write the page as ``click.echo`` does (text, newline, flush); a closed pipe ends the run with exit
    status 1 and nothing on stderr, as click's standalone mode does."""
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_exit_1()


def _quiet_exit_1() -> None:
    """Exit status 1 and nothing more on a closed pipe, as click's standalone mode ends such a run."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # the interpreter's final flush then has somewhere to go
    os.close(devnull)
    sys.exit(1)


def help_width() -> int:
    """The width click lays its help out in: the terminal's columns (``COLUMNS`` when it holds a positive
    number, else the size of the terminal on stdout, else 80, as ``shutil.get_terminal_size`` finds them),
    at most 80, minus 2, and at least 50."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        stdout = sys.__stdout__
        try:
            columns = os.get_terminal_size(stdout.fileno() if stdout is not None else -1).columns or 80
        except (ValueError, OSError):  # no stdout, a closed one, or not a terminal
            columns = 80
    return max(min(columns, 80) - 2, 50)


def root_help(prog: str, width: int) -> str:
    """The root help page, laid out for ``width`` columns the way click lays it out."""
    options = [("--version", VERSION_HELP), ("--debug", DEBUG_HELP), ("-h, --help", HELP_HELP)]
    limit = width - 6 - max(len(name) for name in SUMMARIES)
    commands = [(name, short_help(SUMMARIES[name], limit)) for name in sorted(SUMMARIES)]
    parts = [
        _usage(prog, width),
        "\n",
        _text(ROOT_HELP, width, "  "),
        "\nOptions:\n",
        _definitions(options, width),
        "\nCommands:\n",
        _definitions(commands, width),
        "\n",
        _text(ROOT_EPILOG, width, "  "),
    ]
    return "".join(parts).rstrip("\n")


def _wrap(text: str, width: int, first: str, rest: str) -> str:
    import textwrap

    wrapper = textwrap.TextWrapper(width, initial_indent=first, subsequent_indent=rest, replace_whitespace=False)
    return wrapper.fill(text.expandtabs())


def _usage(prog: str, width: int) -> str:
    """click's ``HelpFormatter.write_usage`` at indent 0."""
    prefix = f"Usage: {prog} "
    if width >= len(prefix) + 20:
        return _wrap(USAGE_ARGS, width, prefix, " " * len(prefix)) + "\n"
    indent = " " * (len("Usage: ") + 4)
    return prefix + "\n" + _wrap(USAGE_ARGS, width, indent, indent) + "\n"


def _text(text: str, width: int, indent: str) -> str:
    """click's ``HelpFormatter.write_text`` (``wrap_text`` with ``preserve_paragraphs``): paragraphs are
    split at empty lines and rewrapped; one opened by a ``\\b`` line is kept as written, only indented."""
    paragraphs: list[tuple[str, list[str]]] = []
    for line in text.expandtabs().splitlines():
        if not line:
            paragraphs.append(("", []))
        elif not paragraphs or not paragraphs[-1][1]:
            paragraphs.append((" " * (len(line) - len(line.lstrip())), [line.lstrip()]))
        else:
            paragraphs[-1][1].append(line)
    out = []
    for extra, lines in paragraphs:
        if not lines:
            continue
        if lines[0].strip() == "\b":
            out.append("\n".join(f"{indent}{extra}{line}" for line in lines[1:]))
        else:
            out.append(_wrap(" ".join(lines), width, indent + extra, indent + extra))
    return "\n\n".join(out) + "\n"


def _definitions(rows: list[tuple[str, str]], width: int) -> str:
    """click's ``HelpFormatter.write_dl`` at indent 2 (first column at most 30 wide, 2 spaces apart)."""
    first_col = min(max(len(term) for term, _ in rows), 30) + 2
    hang = " " * (first_col + 2)
    out = []
    for term, text in rows:
        if not text:
            out.append(f"  {term}\n")
            continue
        out.append(f"  {term}" + (" " * (first_col - len(term)) if len(term) <= first_col - 2 else "\n" + hang))
        lines = _text(text, max(width - first_col - 2, 10), "").splitlines() or [""]
        out.append("".join(f"{hang if i else ''}{line}\n" for i, line in enumerate(lines)))
    return "".join(out)


def short_help(text: str, limit: int) -> str:
    """click's shortening of a command's help to ``limit`` characters for its group's list: the first
    sentence (a period not followed by a lowercase word), then cut at a word with ``...``."""
    words = text.partition("\n\n")[0].split()
    if words and words[0] == "\b":
        words = words[1:]
    for i, word in enumerate(words):
        if word.endswith(".") and (i == len(words) - 1 or not words[i + 1][0].islower()):
            words = words[: i + 1]
            break
    sentence = " ".join(words)
    if len(sentence) <= limit:
        return sentence
    if limit < len("..."):
        return "..."
    import textwrap

    return textwrap.shorten(sentence, limit, placeholder="...", break_on_hyphens=False)
