"""Command line: click only. Each command parses its options, calls one core function, and the
single ``_run`` helper maps ``FluxforgeError`` subclasses to exit codes."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from pathlib import Path
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


@main.command()
@click.argument("config", required=False, type=click.Path(path_type=Path))
@click.option("--check", is_flag=True, help="Write nothing; exit 1 listing stale or missing files with a diff.")
@click.option("--diff", "show_diff", is_flag=True, help="Print a unified diff of what would change; write nothing.")
@click.option("--output", "-o", type=click.Path(file_okay=False, path_type=Path),
              help="Repository root to render into (default: the config's folder).")
def render(config: Path | None, check: bool, show_diff: bool, output: Path | None) -> None:
    """Render the GitOps tree from CONFIG (default ./fluxforge.yaml; a folder means FOLDER/fluxforge.yaml)."""
    from generator.tree import run_render

    if check and show_diff:
        raise click.UsageError("--check and --diff are exclusive: --check already prints the diff")
    mode = "check" if check else "diff" if show_diff else "write"
    report = _run(run_render, config, output=output, mode=mode)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    if mode == "diff":
        for change in report.changes:
            click.echo(change.diff, nl=False)
        click.echo(f"{len(report.changes)} of {report.total} generated files would change", err=True)
    elif mode == "check":
        click.echo(f"{report.total} generated files are up to date")
    else:
        for path in report.written:
            click.echo(f"wrote {path}")
        click.echo(f"{len(report.written)} written, {report.total - len(report.written)} unchanged ({report.root})")


@main.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--tenant-id", help="Microsoft Entra tenant ID (GUID).")
@click.option("--client-id", help="Client ID of the kustomize-controller managed identity (GUID).")
@click.option("--cluster", help="Name of the first cluster (DNS-1123 label).")
@click.option("--oidc-issuer", help="The cluster's OIDC issuer URL (https://).")
@click.option("--vault", help="Key Vault name or URL holding the SOPS key.")
@click.option("--key", help="Key Vault key name.")
@click.option("--repo-url", help="Git repository URL (ssh:// or https://).")
def init(directory: Path | None, **flags: str | None) -> None:
    """Write a commented starter fluxforge.yaml into DIRECTORY (default: here); never overwrites."""
    from generator.starter import StarterValues, write_starter

    values = StarterValues(**{name: value for name, value in flags.items() if value is not None})
    target = _run(write_starter, directory, values)
    click.echo(f"wrote {target}; next: fluxforge render {target.parent}")

# --- sops: encrypt / decrypt / edit / rotate / updatekeys (issue 3) ------------------------------

# --- check / hook (issue 5) ----------------------------------------------------------------------


@main.command("check")
@click.argument("paths", nargs=-1, type=click.Path())
def check_cmd(paths: tuple[str, ...]) -> None:
    """Keyless check: files the .sops.yaml rules cover are encrypted, and correctly; no plaintext
    Kubernetes Secret anywhere. Every tracked file when no PATH is given."""
    from pathlib import Path

    from generator.check import run_check

    _run(run_check, [Path(p) for p in paths])


@main.group("hook")
def hook_grp() -> None:
    """Git pre-commit integration: encrypt staged secrets before they reach a commit."""


@hook_grp.command("install")
@click.option("--force", is_flag=True, help="Replace a pre-commit hook fluxforge did not write.")
def hook_install_cmd(force: bool) -> None:
    """Install a plain git pre-commit hook that encrypts and re-stages (no pre-commit framework)."""
    from pathlib import Path

    from generator.hook import install

    click.echo(f"installed {_run(install, Path.cwd(), force=force)}")


@hook_grp.command("uninstall")
def hook_uninstall_cmd() -> None:
    """Remove the pre-commit hook written by `fluxforge hook install`."""
    from pathlib import Path

    from generator.hook import uninstall

    click.echo(f"removed {_run(uninstall, Path.cwd())}")


@hook_grp.command("run")
def hook_run_cmd() -> None:
    """What the installed git hook runs: encrypt staged files the rules cover, re-stage the
    ciphertext, then check every staged file (exit 1 blocks the commit)."""
    from pathlib import Path

    from generator.hook import run_git_hook

    for line in _run(run_git_hook, Path.cwd()):
        click.echo(line, err=True)


@hook_grp.command("encrypt")
@click.argument("files", nargs=-1, type=click.Path())
def hook_encrypt_cmd(files: tuple[str, ...]) -> None:
    """The pre-commit framework hook `fluxforge-encrypt`: encrypt FILES in place when the rules say
    so; exit 1 when a file was changed (re-add it), as framework fixers do."""
    from pathlib import Path

    from generator.hook import run_framework_encrypt

    for line in _run(run_framework_encrypt, [Path(f) for f in files]):
        click.echo(line, err=True)

# --- upgrade (issue 6) ---------------------------------------------------------------------------


@main.command("lint")
@click.argument("root", default=".", type=click.Path(file_okay=False))
@click.option("--to", "to", metavar="VERSION", help="Target Flux version (default: the newest documented).")
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
def lint_cmd(root: str, to: str | None, strict: bool) -> None:
    """Upgrade lint: removed API versions, index-based JSON patches, ${var} without default."""
    from pathlib import Path

    from generator.lint import run_lint

    report = _run(run_lint, Path(root), to)
    for finding in report.findings:
        click.echo(str(finding))
    click.echo(report.summary(), err=True)
    if report.failed(strict=strict):
        sys.exit(1)
