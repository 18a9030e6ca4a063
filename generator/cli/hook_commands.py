"""``fluxforge hook``: the git pre-commit commands (click only), apart from the command table so that the
hook git runs before every commit (``fluxforge hook run``) loads this module and not every command's
options: ``generator.cli.main`` looks ``hook`` up here until the whole table is loaded
(``generator.cli.commands`` adds the same group to it)."""

from __future__ import annotations

from pathlib import Path

import click

from generator.cli import _click_echo, _Group, _run
from generator.front import examples as _examples
from generator.runner import hook_encrypt, hook_run


@click.group(
    "hook",
    cls=_Group,
    epilog=_examples(
        "fluxforge hook install      # in the repository that holds .sops.yaml", "fluxforge hook uninstall"
    ),
)
def hook_grp() -> None:
    """Git pre-commit integration: encrypt staged secrets before they reach a commit."""


@hook_grp.command(
    "install",
    epilog=_examples(
        "cd fleet && fluxforge hook install --diff",
        "fluxforge hook install --force   # replace a hook fluxforge did not write",
    ),
)
@click.option("--force", is_flag=True, help="Replace a pre-commit hook fluxforge did not write.")
@click.option(
    "--diff",
    "diff_driver",
    is_flag=True,
    help="Also set up decrypted, masked git diffs of sops files (as `fluxforge git setup`).",
)
def hook_install_cmd(force: bool, diff_driver: bool) -> None:
    """Install a plain git pre-commit hook that encrypts and re-stages (no pre-commit framework)."""
    from generator.commands.hook import install

    click.echo(f"installed {_run(install, Path.cwd(), force=force)}")
    if diff_driver:
        from generator.cli.commands import _git_setup

        _git_setup()


@hook_grp.command("uninstall", epilog=_examples("fluxforge hook uninstall"))
def hook_uninstall_cmd() -> None:
    """Remove the pre-commit hook written by `fluxforge hook install`."""
    from generator.commands.hook import uninstall

    click.echo(f"removed {_run(uninstall, Path.cwd())}")


@hook_grp.command(
    "run", epilog=_examples("fluxforge hook run   # what .git/hooks/pre-commit runs; try it before a commit")
)
def hook_run_cmd() -> None:
    """What the installed git hook runs: encrypt staged files the rules cover, re-stage the
    ciphertext, then check every staged file (exit 1 blocks the commit)."""
    hook_run(_run, _click_echo)


@hook_grp.command(
    "encrypt",
    epilog=_examples("fluxforge hook encrypt apps/staging/db-secret.yaml   # as the pre-commit framework calls it"),
)
@click.argument("files", nargs=-1, type=click.Path())
def hook_encrypt_cmd(files: tuple[str, ...]) -> None:
    """The pre-commit framework hook `fluxforge-encrypt`: encrypt FILES in place when the rules say
    so; exit 1 when a file was changed (re-add it), as framework fixers do."""
    hook_encrypt(_run, _click_echo, files)


COMMAND = hook_grp
"""What ``generator.cli.main`` runs for ``fluxforge hook``."""
