"""Command line: click only. Each command parses its options, calls one core function, and the
single ``_run`` helper maps ``FluxforgeError`` subclasses to exit codes."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

import click

from generator import __version__
from generator.errors import FluxforgeError

T = TypeVar("T")


def _run(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call a core function; print user errors one line each and exit 1 (2 for usage errors).

    Ctrl-C exits 130; any other exception is a bug: exit 3 with a short note, the traceback only
    with ``--debug``.
    """
    debug = bool(click.get_current_context().find_root().params.get("debug"))
    try:
        return func(*args, **kwargs)
    except FluxforgeError as err:
        if debug:
            traceback.print_exc()
        for line in err.problems:
            click.echo(line, err=True)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as err:  # noqa: BLE001 - the one place that turns bugs into exit 3
        if debug:
            traceback.print_exc()
        click.echo(f"fluxforge: internal error ({type(err).__name__}); rerun with --debug and report it", err=True)
        sys.exit(3)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fluxforge")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def main(debug: bool) -> None:
    """Flux on AKS: render the GitOps tree, encrypt secrets with SOPS (Azure Key Vault, age)."""


# --- render / init (issue 2) ---------------------------------------------------------------------

# --- sops: encrypt / decrypt / edit / rotate / updatekeys (issue 3) ------------------------------

# --- check / hook (issue 5) ----------------------------------------------------------------------

# --- upgrade (issue 6) ---------------------------------------------------------------------------
