"""Command line: click only. Each command parses its options, calls one core function, and the
single ``_run`` helper maps ``FluxforgeError`` subclasses to exit codes.

This module is the click entry point (``python -m generator``; the ``fluxforge`` script comes here
through ``generator.front.main`` for everything but the root help) and stays small: the root group,
its options and ``_run``. The commands themselves are in ``generator.cli.commands``, imported only when
a command is looked up (running one, its ``--help``, shell completion). ``fluxforge --help`` lists them
from ``SUMMARIES`` (kept in generator.front), each command's first sentence, which
tests/test_cli_startup.py holds equal to the commands' own help."""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from importlib import import_module
from typing import Any, TypeVar

import click

from generator import __version__
from generator.front import DEBUG_HELP, ROOT_EPILOG, ROOT_HELP, SUMMARIES, VERSION_HELP
from generator.runner import call, setup_process

T = TypeVar("T")

COMMANDS_MODULE = "generator.cli.commands"
"""Where the commands are defined; importing it registers them on ``main``."""


def _debug_on(ctx: click.Context) -> bool:
    root = ctx.find_root()
    return bool(root.meta.get("fluxforge.debug") or root.params.get("debug"))


def _set_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.find_root().meta["fluxforge.debug"] = True
    return value


def _debug_option() -> click.Option:
    return click.Option(
        ["--debug"],
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_set_debug,
        help="Show tracebacks for errors (also accepted before the command).",
    )


class _Command(click.Command):
    """A command that also takes ``--debug`` after its name (``fluxforge render --debug``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.append(_debug_option())


class _Group(click.Group):
    """Subcommands are ``_Command``s, subgroups ``_Group``s (``fluxforge hook run --debug``)."""

    command_class = _Command
    group_class = type

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not any(p.name == "debug" for p in self.params):
            self.params.append(_debug_option())


class _LazyGroup(_Group):
    """The root group: its commands are imported on first use (``commands`` loads ``COMMANDS_MODULE``),
    and its own ``--help`` lists them from ``SUMMARIES`` without importing them."""

    def __init__(self, *args: Any, apart: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        self._loaded = False
        self._apart = dict(apart or {})
        super().__init__(*args, **kwargs)

    @property
    def commands(self) -> MutableMapping[str, click.Command]:
        if not self._loaded:
            self._loaded = True
            __import__(COMMANDS_MODULE)  # its decorators add every command to this group
        return self._commands

    @commands.setter
    def commands(self, value: MutableMapping[str, click.Command]) -> None:
        self._commands = value

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """A command defined in a module of its own (``apart``: name -> module, which holds it as ``COMMAND``)
        comes from that module until the whole table is loaded: ``fluxforge hook run`` loads neither the
        table nor the other commands' options."""
        if not self._loaded and cmd_name in self._apart:
            command: click.Command = import_module(self._apart[cmd_name]).COMMAND
            return command
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if self._loaded:
            super().format_commands(ctx, formatter)
            return
        listed = click.Group(commands=[click.Command(name, help=text) for name, text in SUMMARIES.items()])
        listed.format_commands(ctx, formatter)


def _click_echo(line: str, colour: bool) -> None:
    click.echo(line, err=True, color=colour or None)


def _run(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call a core function through ``generator.runner.call`` (the one place that maps ``FluxforgeError``
    subclasses to exit codes), writing its lines with ``click.echo``."""
    ctx = click.get_current_context()
    colour = bool(ctx.find_root().meta.get("fluxforge.color"))
    return call(func, _click_echo, debug=_debug_on(ctx), colour=colour, args=args, kwargs=kwargs)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """``fluxforge --version``: three lines, computed only when asked (no import cost otherwise)."""
    if not value or ctx.resilient_parsing:
        return
    from generator.flux.versions import NEWEST, supported_range
    from generator.sops.api import SOPS_VERSION

    click.echo(
        f"fluxforge {__version__}\n"
        f"sops format {SOPS_VERSION} (written as sops {SOPS_VERSION} writes it; files of sops 3.x are read)\n"
        f"Flux {supported_range()} (newest documented: {NEWEST})"
    )
    ctx.exit()


@click.group(
    cls=_LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    apart={"hook": "generator.cli.hook_commands"},
    help=ROOT_HELP,
    epilog=ROOT_EPILOG,
)
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version, help=VERSION_HELP)
@click.option("--debug", is_flag=True, help=DEBUG_HELP)
def main(debug: bool) -> None:  # noqa: ARG001 - _run reads it from the context
    """The root group; its help and options' words are generator.front's, which prints the same page
    for ``fluxforge --help`` without loading click."""
    setup_process()
