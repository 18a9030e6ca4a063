"""How a run of ``fluxforge`` ends, in one place, without click: ``call`` runs a core function and maps
``FluxforgeError`` subclasses to exit codes (one line per problem on stderr; exit 1 for user errors, 2 for
usage errors, 130 on Ctrl-C, 3 for a bug), and ``setup_process`` prepares the process (signals, the
``fluxforge`` logger).

Both sides of the command line use it: click's commands through ``generator.cli._run`` (which writes with
``click.echo``), and the command lines ``generator.front`` runs without loading click (which writes with
``echo_err``, the same bytes ``click.echo`` writes). This module imports only ``sys`` at import time.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from generator.errors import FluxforgeError

T = TypeVar("T")

Echo = Callable[[str, bool], None]
"""Writes one line to stderr: ``(line, colour)``; ``colour`` keeps ANSI codes even off a terminal."""


def painted(line: str) -> str:
    """A problem line coloured as a diff line (a run asked for colour)."""
    from generator.report.colour import colour_diff

    return colour_diff(line)


def call(func: Callable[..., T], echo: Echo, *, debug: bool, colour: bool, args: Any = (), kwargs: Any = None) -> T:
    """Call a core function; print user errors one line each and exit 1 (2 for usage errors).

    Ctrl-C exits 130; any other exception is a bug: exit 3 with a short note, the traceback only
    with ``debug`` (``--debug`` before or after the command name).
    """
    try:
        return func(*args, **(kwargs or {}))
    except FluxforgeError as err:
        _traceback(debug)
        for line in err.problems:
            echo(painted(line) if colour else line, colour)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        echo("interrupted", False)
        sys.exit(130)
    except Exception as err:  # noqa: BLE001 - the one place that turns bugs into exit 3
        _traceback(debug)
        echo(f"fluxforge: internal error ({type(err).__name__}); rerun with --debug and report it", False)
        sys.exit(3)


def _traceback(debug: bool) -> None:
    if debug:
        import traceback  # only on this path: it costs --help a tenth of its start-up

        traceback.print_exc()


def echo_err(line: str, colour: bool) -> None:
    """Write ``line`` and a newline to stderr and flush, as ``click.echo(line, err=True, color=colour or None)``
    does outside a click context: ANSI codes are removed when stderr is not a terminal (unless ``colour``),
    by click's own rule, which is loaded only for a line that holds an escape character."""
    stream = sys.stderr
    if not colour and "\x1b" in line and not stream.isatty():
        from click._compat import strip_ansi  # the same rule as click.echo, only when there is something to strip

        line = strip_ansi(line)
    stream.write(line + "\n")
    stream.flush()


def _exit_on_signal(signum: int, frame: Any) -> None:  # noqa: ARG001 - signal handler signature
    """SIGTERM/SIGHUP end the run like Ctrl-C does: through every ``finally``, so temp files holding
    plaintext (an edit in progress, a half-written file) are removed before the process exits."""
    raise SystemExit(128 + signum)


FULL_COLLECTION_EVERY = 100
"""How many collections of the middle generation make one of the whole heap (Python's default: 10)."""


def setup_process() -> None:
    """Signals, notes (such as removed stale temp files) to stderr (``fsio.notes_to_stderr``), and fewer full
    garbage collections: a run builds a large, long-lived tree (a fleet's config, its render) that every full
    collection walks again, a fifth of a big fleet's upgrade at Python's default (bench/upgrade.py)."""
    import gc
    import signal

    from generator.fsio import notes_to_stderr

    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        try:
            signal.signal(signum, _exit_on_signal)
        except ValueError:  # not the main thread (embedded use): leave the process's handlers alone
            break
    notes_to_stderr()


Run = Callable[..., Any]
"""``call`` bound to one side's writer and flags: ``run(func, *args, **kwargs)``."""


def plain_run(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``call`` as a run without ``--debug`` or colour writes through ``echo_err`` (``generator.front``)."""
    return call(func, echo_err, debug=False, colour=False, args=args, kwargs=kwargs)


def warner(echo: Echo) -> Callable[[str], None]:
    """A warning line (``warning: ...`` on stderr) written by ``echo``."""

    def warn(line: str) -> None:
        echo(f"warning: {line}", False)

    return warn


def write_stdout(data: bytes) -> None:
    """Bytes to stdout, flushed (the plaintext of ``fluxforge decrypt FILE``, a diff driver's text)."""
    stream = sys.stdout.buffer  # click 8.5 deprecates click.get_binary_stream; CliRunner's stdout has .buffer too
    stream.write(data)
    stream.flush()


def hook_run(run: Run, echo: Echo) -> None:
    """``fluxforge hook run``: the git pre-commit hook in the current directory, its lines on stderr."""
    from pathlib import Path

    from generator.commands.hook import run_git_hook

    for line in run(run_git_hook, Path.cwd()):
        echo(line, False)


def hook_encrypt(run: Run, echo: Echo, files: Sequence[str]) -> None:
    """``fluxforge hook encrypt FILES`` (the pre-commit framework's hook): its lines on stderr."""
    from pathlib import Path

    from generator.commands.hook import run_framework_encrypt

    for line in run(run_framework_encrypt, [Path(f) for f in files]):
        echo(line, False)


def decrypt_file(run: Run, echo: Echo, path: Any, options: Any, **flags: Any) -> None:
    """``fluxforge decrypt FILE`` (one file): the plaintext to stdout, or written in place or to
    ``output`` (``flags``: ``in_place``, ``output``, ``follow_outside``, ``extract``, ``ignore_mac``)."""
    from generator.sops import api

    plain = run(api.decrypt_path, path, options=options, on_warning=warner(echo), **flags)
    if not flags["in_place"] and flags["output"] is None:
        write_stdout(plain)


def encrypt_files(
    run: Run,
    echo: Echo,
    paths: Sequence[Any],
    *,
    in_place: bool,
    options: Any,
    config: Any,
    progress: Any,
    follow_outside: bool,
    flags: dict[str, Any],
) -> None:
    """``fluxforge encrypt``: each output to stdout (without ``in_place``), each file's changes and, in place,
    the count on stderr. ``flags``: the arguments of ``api.encrypt_flags`` (sops's flags), turned into
    ``EncryptFlags`` inside ``run`` so that a bad flag is a user error like any other."""
    from generator.sops import api

    def encrypt() -> Any:
        return api.encrypt_paths(
            list(paths),
            in_place=in_place,
            options=options,
            config=config,
            progress=progress,
            follow_outside=follow_outside,
            flags=api.encrypt_flags(**flags),
        )

    report = run(encrypt)
    for data in report.outputs.values():
        write_stdout(data)
    for path, lines in report.changes.items():
        for line in lines:
            echo(f"{path}: {line}", False)
    if in_place:
        echo(f"encrypted {len(report.changed)} file(s), {len(report.unchanged)} already encrypted", False)


def decrypt_in_place(
    run: Run, echo: Echo, paths: Sequence[Any], options: Any, *, progress: Any, follow_outside: bool, ignore_mac: bool
) -> None:
    """``fluxforge decrypt -i PATH...``: several files, or a folder (every encrypted file below it), each
    replaced by its plaintext and counted on stderr; one file as ``decrypt_file`` does it in place."""
    from generator.sops import api

    if len(paths) > 1 or _is_folder(paths[0]):
        report = run(
            api.decrypt_paths,
            list(paths),
            options=options,
            progress=progress,
            follow_outside=follow_outside,
            ignore_mac=ignore_mac,
            on_warning=warner(echo),
        )
        echo(f"decrypted {len(report.changed)} file(s)", False)
        return
    decrypt_file(
        run,
        echo,
        paths[0],
        options,
        in_place=True,
        output=None,
        follow_outside=follow_outside,
        extract=None,
        ignore_mac=ignore_mac,
    )


def _is_folder(path: Any) -> bool:
    """``Path.is_dir``, False where the path cannot even be looked at (a name too long, a folder on the way that
    cannot be searched): the one-file decrypt then reports it as the file it cannot read."""
    try:
        return bool(path.is_dir())
    except OSError:
        return False
