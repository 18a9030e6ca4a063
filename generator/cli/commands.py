"""The commands of ``fluxforge`` (click only): each parses its options, calls one core function through
``generator.cli._run`` (the one place that maps ``FluxforgeError`` subclasses to exit codes) and prints
what it returns. Imported when a command is looked up, never for ``fluxforge --help``."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from generator.cli import _click_echo, _debug_on, _run, main
from generator.cli.hook_commands import hook_grp
from generator.errors import FluxforgeError
from generator.front import examples as _examples
from generator.runner import decrypt_file, decrypt_in_place, encrypt_files, warner
from generator.runner import write_stdout as _write_stdout
from generator.sops.api import KINDS, STORES, KindOption

if TYPE_CHECKING:
    from generator.commands.render import RenderReport
    from generator.commands.rotate_key import RotateReport
    from generator.commands.upgrade import UpgradeReport

T = TypeVar("T")


# --- output formats and colour (issue 16) ---------------------------------------------------------

_FORMAT_HELP = (
    "Output: text, json (schemas/report.schema.json), github or azure (CI annotations), sarif (code "
    "scanning). Default: github when GITHUB_ACTIONS=true, azure when TF_BUILD=True, else text."
)
_COLOR_HELP = "Colour diffs and marks: auto (a terminal, NO_COLOR unset), always or never."


def _format_option(
    choices: tuple[str, ...] | None = None, help_text: str = _FORMAT_HELP
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    from generator.report import FORMATS

    return click.option("--format", "fmt", type=click.Choice(choices or FORMATS), default=None, help=help_text)


def _color_option() -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    from generator.report.colour import CHOICES

    return click.option(
        "--color", "color", type=click.Choice(CHOICES), default="auto", show_default=True, help=_COLOR_HELP
    )


def _resolve_format(fmt: str | None) -> str:
    import os

    from generator.report import default_format

    return fmt or default_format(os.environ)


def _colour_on(choice: str, err: bool = False) -> bool:
    """Whether this run colours what it prints to stdout (``err``: stderr); also read by ``_run``."""
    import os

    from generator.report.colour import wants_colour

    stream = sys.stderr if err else sys.stdout
    on = wants_colour(choice, stream.isatty(), os.environ)
    click.get_current_context().find_root().meta["fluxforge.color"] = on
    return on


def _echo_diff(text: str, *, colour: bool, err: bool = False) -> None:
    from generator.report.colour import colour_diff

    click.echo(colour_diff(text) if colour else text, nl=False, err=err, color=colour or None)


def _run_report(command: str, fmt: str, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``_run`` for a machine ``--format``: a user error becomes the report in that format on stdout (one
    record per problem line) with the command's exit code; usage errors stay plain lines on stderr."""
    from generator.errors import UsageError
    from generator.report import render
    from generator.report.sources import from_error

    failure: list[FluxforgeError] = []

    def call() -> T | None:
        try:
            return func(*args, **kwargs)
        except UsageError:
            raise
        except FluxforgeError as err:
            if _debug_on(click.get_current_context()):
                import traceback  # only on this path (start-up)

                traceback.print_exc()
            failure.append(err)
            return None

    result = _run(call)
    if failure:
        report = from_error(command, failure[0])
        click.echo(render(report, fmt), nl=False)
        sys.exit(report.exit_code)
    return result  # type: ignore[return-value]


def _emit_report(report: Any, fmt: str) -> None:
    """Print a report in a machine format on stdout and exit with its code."""
    from generator.report import render

    click.echo(render(report, fmt), nl=False)
    sys.exit(report.exit_code)


@main.command(
    epilog=_examples(
        "fluxforge render                 # the nearest fluxforge.yaml, here or in a parent folder",
        "fluxforge render fleet --check   # CI: exit 1 with a diff when the tree is not up to date",
    )
)
@click.argument("config", required=False, type=click.Path(path_type=Path))
@click.option("--check", is_flag=True, help="Write nothing; exit 1 listing stale or missing files with a diff.")
@click.option("--diff", "show_diff", is_flag=True, help="Print a unified diff of what would change; write nothing.")
@click.option(
    "--out-dir",
    "output",
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="Repository root to render into (default: the config's folder).",
)
@click.option(
    "--force", is_flag=True, help="On conflicts with your edits take the render's side (each one is still listed)."
)
@_format_option(help_text="With --check: " + _FORMAT_HELP)
@_color_option()
def render(
    config: Path | None, check: bool, show_diff: bool, output: Path | None, force: bool, fmt: str | None, color: str
) -> None:
    """Render the GitOps tree from CONFIG (default: fluxforge.yaml in this folder or the nearest parent
    folder that has one; a folder means FOLDER/fluxforge.yaml).

    Your edits to generated files are kept: a three-way merge against fluxforge.lock (as in
    `fluxforge upgrade`); conflicts are listed and nothing is written (unless --force)."""
    from generator.commands.render import run_render

    mode = _render_mode(check, show_diff, fmt)
    if check and _resolve_format(fmt) != "text":
        from generator.report.sources import from_render

        _emit_report(
            from_render(
                _run_report("render", _resolve_format(fmt), run_render, config, output=output, mode=mode, force=force)
            ),
            _resolve_format(fmt),
        )
    colour = _colour_on(color, err=check)
    report = _run(run_render, config, output=output, mode=mode, force=force)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    for line in report.forced:
        click.echo(f"forced: {line}", err=True)
    if mode == "diff":
        _echo_render_diff(report, colour)
    elif mode == "check":
        click.echo(f"{report.total} generated files are up to date")
    else:
        _echo_render_written(report)
    for note in report.notes:
        click.echo(f"note: {note}", err=True)


def _render_mode(check: bool, show_diff: bool, fmt: str | None) -> str:
    """``check``, ``diff`` or ``write``; refuses the flag combinations that make no sense."""
    if check and show_diff:
        raise click.UsageError("--check and --diff are exclusive: --check already prints the diff")
    if fmt not in (None, "text") and not check:
        raise click.UsageError("--format applies to --check (the other modes print what they do)")
    return "check" if check else "diff" if show_diff else "write"


def _echo_render_diff(report: RenderReport, colour: bool) -> None:
    from generator.merge.lock import LOCK_NAME

    for change in report.changes:
        _echo_diff(change.diff, colour=colour)
    lock = f" (and {LOCK_NAME})" if report.lock_changed else ""
    click.echo(f"{len(report.changes)} of {report.total} generated files would change{lock}", err=True)


def _echo_render_written(report: RenderReport) -> None:
    """One line per file written or removed, then the count: one ``click.echo`` (a call per line cost a
    5,400-file render about 40 ms; the bytes are the same)."""
    merged = set(report.merged)
    lines = [f"wrote {path}" + (" (merged: your edits kept)" if path in merged else "") for path in report.written]
    lines += [f"removed {path} (no longer in the config)" for path in report.removed]
    removed = f", {len(report.removed)} removed" if report.removed else ""
    lines.append(
        f"{len(report.written)} written, {report.total - len(report.written)} unchanged{removed} ({report.root})"
    )
    click.echo("\n".join(lines))


@main.command(
    epilog=_examples(
        "fluxforge init fleet --cluster staging --age age1...   # age only: no Azure account needed",
        "fluxforge init fleet --tenant-id GUID --client-id GUID --vault kv-fleet --key sops-flux",
    )
)
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--tenant-id", help="Microsoft Entra tenant ID (GUID).")
@click.option("--client-id", help="Client ID of the kustomize-controller managed identity (GUID).")
@click.option("--cluster", help="Name of the first cluster (DNS-1123 label).")
@click.option("--oidc-issuer", help="The cluster's OIDC issuer URL (https://).")
@click.option("--vault", help="Key Vault name or URL holding the SOPS key.")
@click.option("--key", help="Key Vault key name.")
@click.option("--repo-url", help="Git repository URL (ssh:// or https://).")
@click.option(
    "--age",
    "age",
    metavar="RECIPIENT",
    multiple=True,
    help="An age recipient (age1..., `age-keygen -y KEYFILE`); repeatable. Without --vault/--key: age only.",
)
def init(directory: Path | None, age: tuple[str, ...], **flags: str | None) -> None:
    """Write a commented starter fluxforge.yaml into DIRECTORY (default: here); never overwrites.
    Every value has a placeholder that renders; replace the placeholders before bootstrapping."""
    from generator.commands.init import StarterValues, write_starter

    values = StarterValues(age=age, **{name: value for name, value in flags.items() if value is not None})
    target = _run(write_starter, directory, values)
    click.echo(f"wrote {target}; next: fluxforge render {target.parent}")


# --- sops: encrypt / decrypt / edit / rotate / updatekeys ---------------------------------------

_SOPS_CONFIG_HELP = (
    "The .sops.yaml to use (default: SOPS_CONFIG, else searched from the current directory upwards, as sops does)."
)
_FOLLOW_HELP = "Write through a symlink whose target is outside the repository (refused otherwise)."


def _follow_option() -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("--follow-outside", is_flag=True, help=_FOLLOW_HELP)


def _kind_flag(option: KindOption, dest: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    choice = click.Choice(option.choices, case_sensitive=False) if option.choices else None
    return click.option(option.flag, dest, type=choice, default=None, help=option.help)


def _credential_option() -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--credential`` of the Key Vault key source, for the commands that call Azure themselves."""
    kind = next(k for k in KINDS if k.name == "azure_kv")
    return _kind_flag(next(o for o in kind.options if o.name == "credential"), "credential")


def _key_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The run-wide flags of every key kind (``--credential`` for Key Vault keys, …), shared by the sops
    commands; the command receives them as one ``options`` (a ``KeyOptions``)."""
    flags = [(kind, option, f"{kind.name}_{option.name}") for kind in KINDS for option in kind.options]

    @functools.wraps(func)
    def command(**kwargs: Any) -> Any:
        from generator.sops.api import KeyOptions

        by_kind: dict[str, dict[str, str]] = {}
        for kind, option, dest in flags:
            value = kwargs.pop(dest)
            if value is not None:
                by_kind.setdefault(kind.name, {})[option.name] = value
        return func(options=KeyOptions(by_kind), **kwargs)

    decorated: Callable[..., Any] = command
    for _kind, option, dest in reversed(flags):
        decorated = _kind_flag(option, dest)(decorated)
    return decorated


def _sops_config_option() -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--sops-config",
        "config",
        metavar="FILE",
        type=click.Path(path_type=Path, dir_okay=False),
        help=_SOPS_CONFIG_HELP,
    )


_SELECTOR_HELP = {
    "encrypted-regex": "Encrypt only values under a key matching REGEX (RE2, searched).",
    "unencrypted-regex": "Leave values under a key matching REGEX in clear text.",
    "encrypted-suffix": "Encrypt only values under a key ending in SUFFIX.",
    "unencrypted-suffix": "Leave values under a key ending in SUFFIX in clear text (sops's default: _unencrypted).",
    "encrypted-comment-regex": "Encrypt only what follows a comment matching REGEX.",
    "unencrypted-comment-regex": "Leave what follows a comment matching REGEX in clear text.",
}


def _selector_options() -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def apply(func: Callable[..., Any]) -> Callable[..., Any]:
        for flag, text in reversed(_SELECTOR_HELP.items()):
            func = click.option(
                f"--{flag}",
                flag.replace("-", "_"),
                metavar="SUFFIX" if "suffix" in flag else "REGEX",
                help=text + " Replaces the same setting of the rule.",
            )(func)
        return func

    return apply


def _ignore_mac_option() -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--ignore-mac",
        is_flag=True,
        help="Decrypt even when the MAC does not match (recovery only; a warning is printed).",
    )


_warning = warner(_click_echo)
"""A ``warning: ...`` line on stderr."""


def _warn_ignore_mac(ignore_mac: bool) -> None:
    if ignore_mac:
        _warning(
            "--ignore-mac: the MAC is not enforced, so changes made without the key go unnoticed; use it only "
            "to recover a file"
        )


class _SopsProgress:
    """A progress bar on stderr, only when stderr is a terminal and there is more than one file."""

    def __init__(self) -> None:
        self.bar: Any = None

    def __call__(self, done: int, total: int, path: Path) -> None:  # noqa: ARG002 - Progress signature
        if total < 2 or sys.stderr is None or not sys.stderr.isatty():  # None: stderr closed (2>&-)
            return
        if self.bar is None:
            self.bar = click.progressbar(length=total, label="sops", file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(1)
        if done == total:
            self.bar.__exit__(None, None, None)


@main.command(
    "encrypt",
    epilog=_examples(
        "fluxforge encrypt -i apps/staging/db-secret.yaml   # also: new plaintext values in an encrypted file",
        "fluxforge encrypt -i apps/                         # every file below apps/ a creation rule covers",
    ),
)
@click.option("-i", "--in-place", is_flag=True, help="Encrypt the files in place (needed for several files).")
@_sops_config_option()
@_key_options
@_follow_option()
@_selector_options()
@click.option("--mac-only-encrypted", is_flag=True, help="Compute the MAC over encrypted values only (sops -e).")
@click.option("--age", metavar="RECIPIENTS", help="Comma separated age recipients: replace the rule's keys.")
@click.option("--azure-kv", metavar="URLS", help="Comma separated Key Vault key URLs: replace the rule's keys.")
@click.option("--input-type", type=click.Choice(STORES), help="Read as this store (default: from the file name).")
@click.option("--output-type", type=click.Choice(STORES), help="Write as this store (default: from the file name).")
@click.option("--indent", type=click.IntRange(min=0), help="YAML/JSON indentation of the output (sops's --indent).")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def encrypt_cmd(
    in_place: bool,
    config: Path | None,
    options: Any,
    follow_outside: bool,
    paths: tuple[Path, ...],
    mac_only_encrypted: bool,
    age: str | None,
    azure_kv: str | None,
    input_type: str | None,
    output_type: str | None,
    indent: int | None,
    **selectors: str | None,
) -> None:
    """Encrypt files (or every file a creation rule matches below a directory) as sops does.

    A file that is already encrypted but holds plaintext values its rule requires encrypted (added by
    hand) gets those values encrypted and a new MAC; this needs the key, and the MAC must still hold
    for everything else. sops's flags work as in `sops -e`: a selector flag replaces the same selector of
    the .sops.yaml rule (another selector there is a conflict), --age/--azure-kv replace its keys."""
    encrypt_files(
        _run,
        _click_echo,
        paths,
        in_place=in_place,
        options=options,
        config=config,
        progress=_SopsProgress(),
        follow_outside=follow_outside,
        flags={
            "selectors": selectors,
            "mac_only_encrypted": mac_only_encrypted,
            "age": age,
            "azure_kv": azure_kv,
            "input_type": input_type,
            "output_type": output_type,
            "indent": indent,
        },
    )


@main.command(
    "decrypt",
    epilog=_examples(
        "fluxforge decrypt apps/staging/db-secret.yaml              # plaintext to stdout",
        "fluxforge decrypt -i apps/staging                          # every encrypted file below it",
    ),
)
@click.option(
    "-i",
    "--in-place",
    is_flag=True,
    help="Replace the file with its plaintext; with -i several files and folders may be given "
    "(every encrypted file below a folder).",
)
@click.option("--extract", metavar="PATH", help='Print one value, by sops\'s path syntax: \'["data"]["password"]\'.')
@_ignore_mac_option()
@click.option(
    "--output",
    metavar="FILE",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the plaintext to FILE instead of stdout: a new or regular file is replaced "
    "atomically (mode 0600); a device, FIFO or /dev/stdout is written to.",
)
@_key_options
@_follow_option()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def decrypt_cmd(
    in_place: bool,
    output: Path | None,
    options: Any,
    follow_outside: bool,
    paths: tuple[Path, ...],
    extract: str | None,
    ignore_mac: bool,
) -> None:
    """Decrypt one file (MAC verified) to stdout, in place, or to --output; with -i, many files."""
    _warn_ignore_mac(ignore_mac)
    if in_place and output is None and extract is None:
        decrypt_in_place(
            _run,
            _click_echo,
            paths,
            options,
            progress=_SopsProgress(),
            follow_outside=follow_outside,
            ignore_mac=ignore_mac,
        )
        return
    if len(paths) > 1:
        raise click.UsageError("give one file, or use -i to decrypt several files or folders in place")
    path = paths[0]
    if path.is_dir():
        raise click.UsageError(f"{path}: is a folder; use -i to decrypt every encrypted file below it in place")
    decrypt_file(
        _run,
        _click_echo,
        path,
        options,
        in_place=in_place,
        output=output,
        follow_outside=follow_outside,
        extract=extract,
        ignore_mac=ignore_mac,
    )


@main.command(
    "edit",
    epilog=_examples(
        "fluxforge edit apps/staging/db-secret.yaml",
        "EDITOR='code --wait' fluxforge edit apps/staging/new-secret.yaml   # a new file: keys from .sops.yaml",
    ),
)
@_sops_config_option()
@_key_options
@_follow_option()
@_ignore_mac_option()
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
def edit_cmd(config: Path | None, options: Any, follow_outside: bool, ignore_mac: bool, path: Path) -> None:
    """Edit the plaintext in $EDITOR; re-encrypt with the same data key (untouched if unchanged)."""
    from generator.sops import api

    _warn_ignore_mac(ignore_mac)
    changed = _run(
        api.edit_path,
        path,
        options=options,
        config=config,
        retry=_edit_again,
        follow_outside=follow_outside,
        ignore_mac=ignore_mac,
        on_warning=_warning,
    )
    click.echo(f"{path}: {'saved' if changed else 'unchanged'}", err=True)


def _edit_again(err: Exception) -> bool:
    """On a terminal, show why the edit cannot be saved and offer the editor again (as sops does)."""
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return False
    for line in getattr(err, "problems", [str(err)]):
        click.echo(line, err=True)
    return click.confirm("Return to the editor to fix it?", default=True, err=True)


@main.command(
    "rotate",
    epilog=_examples(
        "fluxforge rotate apps/staging/db-secret.yaml",
        "fluxforge rotate apps/                  # every encrypted file below apps/",
    ),
)
@_key_options
@_follow_option()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def rotate_cmd(options: Any, follow_outside: bool, paths: tuple[Path, ...]) -> None:
    """Re-encrypt encrypted files with a new data key for the same recipients (a file that cannot be
    read is an error, never skipped)."""
    from generator.sops import api

    report = _run(
        api.rotate_paths, list(paths), options=options, progress=_SopsProgress(), follow_outside=follow_outside
    )
    click.echo(f"rotated {len(report.changed)} file(s)", err=True)


@main.command(
    "updatekeys",
    epilog=_examples(
        "fluxforge updatekeys --dry-run apps/   # which recipients would be added or removed",
        "fluxforge updatekeys apps/",
    ),
)
@click.option("--dry-run", is_flag=True, help="Only show which recipients would be added or removed.")
@_sops_config_option()
@_key_options
@_follow_option()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def updatekeys_cmd(
    dry_run: bool, config: Path | None, options: Any, follow_outside: bool, paths: tuple[Path, ...]
) -> None:
    """Re-wrap the data key of encrypted files for the recipients .sops.yaml now names."""
    from generator.sops import api

    report = _run(
        api.updatekeys_paths,
        list(paths),
        dry_run=dry_run,
        options=options,
        config=config,
        progress=_SopsProgress(),
        follow_outside=follow_outside,
    )
    for path, lines in report.changes.items():
        click.echo(f"{path}:")
        for line in lines:
            click.echo(f"  {line}")
    verb = "would update" if dry_run else "updated"
    click.echo(f"{verb} {len(report.changes)} file(s), {len(report.unchanged)} already up to date", err=True)


@main.command(
    "rotate-key",
    epilog=_examples(
        "fluxforge rotate-key --dry-run             # the new version, and what would change",
        "fluxforge rotate-key --key kv-fleet/sops-flux --rotate-data-keys   # current version, new data keys",
    ),
)
@click.argument("config", required=False, type=click.Path(path_type=Path))
@click.option(
    "--key",
    "key",
    metavar="NAME",
    help="Only this Key Vault key of the config: NAME, VAULT/NAME or its URL (default: every one).",
)
@click.option(
    "--to-version",
    metavar="V|latest",
    help="The version to move to (default: latest, the key's current version in Key Vault).",
)
@click.option(
    "--rotate-data-keys",
    is_flag=True,
    help="Also give each re-wrapped file a new data key (every value "
    "re-encrypted), as after a suspected key compromise.",
)
@click.option("--dry-run", is_flag=True, help="Resolve the version and show what would change; write nothing.")
@_key_options
def rotate_key_cmd(
    config: Path | None, key: str | None, to_version: str | None, rotate_data_keys: bool, dry_run: bool, options: Any
) -> None:
    """Move CONFIG's repository (default: the nearest fluxforge.yaml) to a new version of its Key Vault
    key: pin it in fluxforge.yaml (comments kept), re-render .sops.yaml, re-wrap every encrypted file
    wrapped for another version (one transaction per file; the config is written only when all
    succeeded, and a rerun continues), then say when the old version can be disabled. Needs keys/read
    on the key and a way to decrypt each file (Key Vault Crypto User, or an age key)."""
    from generator.commands.rotate_key import run_rotate_key

    report = _run(
        run_rotate_key,
        config,
        key=key,
        to_version=to_version,
        dry_run=dry_run,
        rotate_data_keys=rotate_data_keys,
        options=options,
        progress=_SopsProgress(),
    )
    _echo_rotation(report, dry_run)


def _echo_rotation(report: RotateReport, dry_run: bool) -> None:
    _echo_rotated_config(report, dry_run)
    for path, lines in report.rewrapped.items():
        click.echo(f"{'would re-wrap' if dry_run else 're-wrapped'} {path}: {'; '.join(lines)}")
    click.echo(
        f"{len(report.rewrapped)} file(s) {'would be ' if dry_run else ''}re-wrapped, {len(report.current)} "
        "already on the new version" + ("; nothing written (--dry-run)" if dry_run else ""),
        err=True,
    )
    for line in report.still_old:
        click.echo(f"still old: {line}", err=True)
    for line in report.versions:
        click.echo(f"note: {line}", err=True)


# --- check / hook -------------------------------------------------------------------------------


@main.command(
    "check",
    epilog=_examples(
        "fluxforge check                  # every file git tracks (every file below here outside git)",
        "fluxforge check apps/ clusters/  # only these folders",
    ),
)
@click.argument("paths", nargs=-1, type=click.Path())
@_sops_config_option()
@click.option(
    "--allow-missing-rules",
    is_flag=True,
    help="Pass without a .sops.yaml (or one with no creation_rules); only plaintext Secrets are looked for.",
)
@click.option(
    "--no-cache",
    is_flag=True,
    help="Check every file in full: neither read nor write .git/fluxforge/check-cache (FLUXFORGE_CHECK_CACHE=off).",
)
@_format_option()
def check_cmd(
    paths: tuple[str, ...], config: Path | None, allow_missing_rules: bool, no_cache: bool, fmt: str | None
) -> None:
    """Keyless check: files the .sops.yaml rules cover are encrypted, and correctly; no plaintext
    Kubernetes Secret anywhere. Every tracked file when no PATH is given. Fails when no
    .sops.yaml rules are found (unless --allow-missing-rules): then nothing says what to encrypt."""
    from generator.check.scan import check_report, run_check

    if _resolve_format(fmt) != "text":
        from generator.report.sources import from_check

        _emit_report(
            from_check(
                _run_report(
                    "check",
                    _resolve_format(fmt),
                    check_report,
                    [Path(p) for p in paths],
                    sops_config=config,
                    allow_missing_rules=allow_missing_rules,
                    use_cache=not no_cache,
                )
            ),
            _resolve_format(fmt),
        )
    report = _run(
        run_check,
        [Path(p) for p in paths],
        sops_config=config,
        allow_missing_rules=allow_missing_rules,
        use_cache=not no_cache,
    )
    click.echo(report.summary(), err=True)


main.add_command(hook_grp)  # defined apart: `fluxforge hook run` loads that module, not this table


# --- upgrade ------------------------------------------------------------------------------------


@main.command(
    "lint",
    epilog=_examples(
        "fluxforge lint                   # the repository of the nearest fluxforge.yaml (else this folder)",
        "fluxforge lint fleet --to 2.9 --strict",
    ),
)
@click.argument("root", required=False, type=click.Path(file_okay=False))
@click.option("--to", "to", metavar="VERSION", help="Target Flux version (default: the newest documented).")
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
@_format_option()
def lint_cmd(root: str | None, to: str | None, strict: bool, fmt: str | None) -> None:
    """Upgrade lint of ROOT: removed API versions, index-based JSON patches, ${var} without default; with a
    fluxforge.yaml, tenant isolation (an identity that can decrypt a key used outside its folders)."""
    from generator.flux.lint import run_lint

    if _resolve_format(fmt) != "text":
        from generator.report.sources import from_lint

        found = _run_report("lint", _resolve_format(fmt), run_lint, Path(root) if root is not None else None, to)
        _emit_report(from_lint(found, found.root, strict=strict), _resolve_format(fmt))
    report = _run(run_lint, Path(root) if root is not None else None, to)
    for finding in report.findings:
        click.echo(str(finding))
    click.echo(report.summary(), err=True)
    if report.failed(strict=strict):
        sys.exit(1)


@main.command(
    "doctor",
    epilog=_examples(
        "fluxforge doctor --static --format json        # CI: the repository only (schemas/doctor.schema.json)",
        "fluxforge doctor --cluster staging --context aks-staging --probe",
    ),
)
@click.argument("config", required=False, type=click.Path(path_type=Path))
@click.option("--static", "static_only", is_flag=True, help="Only the static gates (repository; no Azure, no cluster).")
@click.option(
    "--probe",
    is_flag=True,
    help="Also run the end-to-end probe: a ServiceAccount token exchanged at Entra ID decrypts a real "
    "file's data key in Key Vault, as Flux does.",
)
@click.option(
    "--cluster",
    metavar="NAME",
    help="The config cluster to check live (default: the one the context's OIDC issuer names).",
)
@click.option("--context", metavar="CONTEXT", help="kubectl context of that cluster (default: the current one).")
@click.option(
    "--kubeconfig",
    metavar="FILE",
    type=click.Path(path_type=Path, dir_okay=False),
    help="kubeconfig file for kubectl (default: kubectl's own).",
)
@click.option("--subscription", metavar="ID", help="Azure subscription to read (default: azure.subscriptionId).")
@_credential_option()
@_format_option(
    help_text="Output: text (lines in chain order), json (schemas/doctor.schema.json), github or "
    "azure (CI annotations of the broken gates), sarif. Default: github when "
    "GITHUB_ACTIONS=true, azure when TF_BUILD=True, else text."
)
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
@_color_option()
def doctor_cmd(
    config: Path | None,
    static_only: bool,
    probe: bool,
    cluster: str | None,
    context: str | None,
    kubeconfig: Path | None,
    subscription: str | None,
    credential: str | None,
    fmt: str | None,
    strict: bool,
    color: str,
) -> None:
    """Walk every gate of the trust chain in chain order (the repository, Azure, the cluster, what Flux
    reports, and with --probe the whole exchange) and name the first broken one with its fix. Reads
    only; never prints a secret or a token. Exit 0 when every checked gate holds, 1 otherwise."""
    from generator.doctor import DoctorOptions, format_report, run_doctor

    if static_only and probe:
        raise click.UsageError("--static and --probe are exclusive: the probe talks to the cluster and Azure")
    options = DoctorOptions(config, cluster, static_only, probe, strict, subscription, credential, context, kubeconfig)
    fmt = _resolve_format(fmt)
    report = _run(run_doctor, options)
    if fmt in ("github", "azure", "sarif"):
        from generator.report.sources import from_doctor

        _emit_report(
            from_doctor(report, config.parent if config is not None and config.is_file() else config or Path()), fmt
        )
    text = format_report(report, str(config or "fluxforge.yaml"), fmt)
    if fmt == "text" and _colour_on(color):
        from generator.report.colour import colour_marks

        click.echo(colour_marks(text), nl=False, color=True)
    else:
        click.echo(text, nl=False)
    sys.exit(report.exit_code)


@main.command(
    "upgrade",
    epilog=_examples(
        "fluxforge upgrade --to 2.9.4 --dry-run   # the diff only",
        "fluxforge upgrade fleet --to 2.9",
    ),
)
@click.argument("config", required=False, type=click.Path(path_type=Path))
@click.option(
    "--to", "to", metavar="VERSION", help="Target Flux version, e.g. 2.9.4 or 2.9 (default: the newest documented)."
)
@click.option("--cluster", metavar="NAME", help="Only merge this cluster's files (flux.version is global).")
@click.option("--dry-run", is_flag=True, help="Print the diff of what would change; write nothing.")
@click.option("--force", is_flag=True, help="On conflicts take the upgrade's side (each one is still listed).")
@click.option(
    "--allow-skip",
    is_flag=True,
    help="Upgrade even when a cluster's Flux stores API versions the target drops (one `flux migrate` "
    "cannot prepare it); only when its CRDs no longer store them.",
)
@_format_option(help_text="With --dry-run: " + _FORMAT_HELP)
@_color_option()
def upgrade_cmd(
    config: Path | None,
    to: str | None,
    cluster: str | None,
    dry_run: bool,
    force: bool,
    allow_skip: bool,
    fmt: str | None,
    color: str,
) -> None:
    """Move CONFIG to a new Flux version, re-render, and merge three ways into the files on disk:
    your edits survive; conflicts are listed and nothing is written (unless --force). CONFIG as in
    `fluxforge render` (default: the nearest fluxforge.yaml). Says when the clusters need `flux migrate`,
    and refuses jumps one `flux migrate` cannot prepare (--allow-skip)."""
    from generator.commands.upgrade import run_upgrade

    if fmt not in (None, "text") and not dry_run:
        raise click.UsageError("--format applies to --dry-run (an upgrade that writes prints what it wrote)")
    if dry_run and _resolve_format(fmt) != "text":
        from generator.report.sources import from_upgrade

        _emit_report(
            from_upgrade(
                _run_report(
                    "upgrade",
                    _resolve_format(fmt),
                    run_upgrade,
                    config,
                    to=to,
                    cluster=cluster,
                    dry_run=dry_run,
                    force=force,
                    allow_skip=allow_skip,
                )
            ),
            _resolve_format(fmt),
        )
    colour = _colour_on(color)
    report = _run(run_upgrade, config, to=to, cluster=cluster, dry_run=dry_run, force=force, allow_skip=allow_skip)
    _echo_upgrade(report, colour)


def _echo_rotated_config(report: RotateReport, dry_run: bool) -> None:
    """The version each key moves to and what that changes in fluxforge.yaml and .sops.yaml."""
    for move in report.moves:
        was = ", ".join(sorted({v or "unpinned" for v in move.before}))
        click.echo(f"key {move.label}: version {move.target.version} ({move.requested}; the config had {was})")
    would = "would " if dry_run else ""
    for line in report.config_changes:
        click.echo(f"{would}set {line}")
    if report.sops_diff:
        click.echo(report.sops_diff, nl=False) if dry_run else click.echo(f"wrote {report.root / '.sops.yaml'}")


def _echo_upgrade(report: UpgradeReport, colour: bool) -> None:
    for name, version in report.current.items():
        click.echo(f"{name}: Flux {version} -> {report.target}", err=True)
    for line in report.forced:
        click.echo(f"forced: {line}", err=True)
    if report.dry_run:
        for diff in report.diffs:
            _echo_diff(diff, colour=colour)
    _echo_upgraded_files(report)
    for note in report.notes:
        click.echo(note, err=True)


def _echo_upgraded_files(report: UpgradeReport) -> None:
    verb = "would write" if report.dry_run else "wrote"
    lines = [f"{verb} {path}" for path in report.changed]
    lines += [f"{'would remove' if report.dry_run else 'removed'} {path}" for path in report.removed]
    if lines:  # one click.echo, as render's list
        click.echo("\n".join(lines))
    click.echo(
        f"{len(report.changed)} file(s) {'would change' if report.dry_run else 'written'}"
        + (f", {len(report.removed)} removed" if report.removed else ""),
        err=True,
    )


# --- azure -------------------------------------------------------------------------------------


@main.group(
    "azure",
    epilog=_examples(
        "fluxforge azure bicep            # infra/azure/main.bicep and its modules",
        "fluxforge azure plan && fluxforge azure apply",
    ),
)
def azure_grp() -> None:
    """The Azure half of the trust chain from the same config: managed identities, federated
    credentials, the Key Vault key and the role assignments (Bicep, or plan/apply through ARM)."""


@azure_grp.command(
    "bicep",
    epilog=_examples(
        "fluxforge azure bicep                       # writes infra/azure/ next to fluxforge.yaml",
        "fluxforge azure bicep --check               # CI: exit 1 with a diff when the files are stale",
    ),
)
@click.argument("config", required=False, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out",
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for main.bicep and its modules (default: infra/azure next to the config).",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 listing stale or missing files with a diff.")
@click.option(
    "--force", is_flag=True, help="Replace files fluxforge did not write or that were edited (each is listed)."
)
def azure_bicep_cmd(config: Path | None, out: Path | None, check: bool, force: bool) -> None:
    """Write the Bicep for CONFIG's Azure side (default: the nearest fluxforge.yaml): each managed
    identity, one federated credential per identity, issuer and ServiceAccount, the Key Vault in RBAC
    mode with purge protection and its RSA key, and the role assignments scoped to the key. Deploy with
    `az deployment group create -g RG -f infra/azure/main.bicep`."""
    from generator.azure.commands import run_bicep

    report = _run(run_bicep, config, out=out, force=force, check=check)
    for line in report.forced:
        click.echo(f"forced: {line}", err=True)
    if check:
        click.echo(f"{len(report.unchanged)} Bicep files are up to date ({report.out})")
        return
    for name in report.written:
        click.echo(f"wrote {report.out / name}")
    for name in report.removed:
        click.echo(f"removed {report.out / name} (no longer generated)")
    click.echo(
        f"{len(report.written)} written, {len(report.unchanged)} unchanged ({report.out}); deploy: "
        f"az deployment group create -g {report.deploy_group} -f {report.out / 'main.bicep'}",
        err=True,
    )


@azure_grp.command(
    "plan",
    epilog=_examples(
        "fluxforge azure plan                        # + to add, ~ to change, = as wanted, ! to fix by hand",
        "fluxforge azure plan fleet --credential cli",
    ),
)
@click.argument("config", required=False, type=click.Path(path_type=Path))
@_credential_option()
def azure_plan_cmd(config: Path | None, credential: str | None) -> None:
    """Compare CONFIG's Azure side with what Azure Resource Manager holds; write nothing. Exit 0 when
    nothing is to do, 2 when apply has changes to make, 1 on problems apply cannot fix (as
    `terraform plan -detailed-exitcode`)."""
    from generator.azure.apply import run_plan

    plan = _run(run_plan, config, credential=credential)
    for line in plan.lines():
        click.echo(line)
    sys.exit(plan.exit_code)


@azure_grp.command(
    "apply",
    epilog=_examples(
        "fluxforge azure apply && fluxforge render",
        "fluxforge azure apply fleet --credential cli",
    ),
)
@click.argument("config", required=False, type=click.Path(path_type=Path))
@_credential_option()
def azure_apply_cmd(config: Path | None, credential: str | None) -> None:
    """Create or update what `fluxforge azure plan` shows (never deletes), then write the client IDs of
    the identities into CONFIG, keeping its comments and layout. Refuses, sending nothing, when the plan
    has problems; a failure half-way lists what was done (a rerun continues)."""
    from generator.azure.apply import run_apply

    report = _run(run_apply, config, credential=credential, progress=click.echo)
    for where, client_id in report.client_ids.items():
        click.echo(f"wrote {where}: {client_id}", err=True)
    for wait in report.plan.waiting:
        click.echo(f"? {wait}", err=True)
    click.echo(
        f"{len(report.done)} change(s) applied"
        + ("; next: fluxforge render (the ServiceAccounts carry the client IDs)" if report.config_written else ""),
        err=True,
    )


# --- diffs for reviewers (issue 16) --------------------------------------------------------------


@main.command(
    "diff",
    epilog=_examples(
        "fluxforge diff --rev main apps/staging/db-secret.yaml   # what this branch changed in it",
        "fluxforge diff old/db-secret.yaml apps/staging/db-secret.yaml --show-values",
    ),
)
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--rev", metavar="REV", help="Compare PATH at git revision REV (branch, tag, commit) with the work tree.")
@click.option("--show-values", is_flag=True, help="Print the decrypted values instead of markers (your terminal only).")
@click.option("--exit-code", is_flag=True, help="Exit 1 when there are differences (as `git diff --exit-code`).")
@_color_option()
def diff_cmd(paths: tuple[Path, ...], rev: str | None, show_values: bool, exit_code: bool, color: str) -> None:
    """Compare two files (or PATH across revisions) by plaintext: a sops file shows every key, with each
    encrypted value as a marker that changes when the value changes (<masked:1f2e3d4c>), unless
    --show-values. Without a key that decrypts it, keys added or removed are still shown."""
    from generator.commands.diff import run_diff

    colour = _colour_on(color)
    report = _run(run_diff, paths, rev=rev, show_values=show_values)
    for line in report.warnings:
        _warning(line)
    _echo_diff(report.diff, colour=colour)
    if exit_code and not report.same:
        sys.exit(1)


@main.group("git", epilog=_examples("fluxforge git setup   # then git diff, git log -p, git show: masked changes"))
def git_grp() -> None:
    """Git integration for reviewers: a diff driver that shows sops files decrypted, values masked."""


def _git_setup() -> None:
    from generator.commands.gitsetup import setup_diff_driver

    report = _run(setup_diff_driver, Path.cwd())
    state = "wrote" if report.wrote_attributes else "unchanged"
    click.echo(
        f"{state} {report.attributes} ({', '.join(report.patterns)} diff=fluxforge); set diff.fluxforge.textconv "
        "in .git/config: git diff shows sops files decrypted with values masked (ciphertext without a key)"
    )


@git_grp.command("setup", epilog=_examples("cd fleet && fluxforge git setup"))
def git_setup_cmd() -> None:
    """Write .gitattributes for the .sops.yaml rule paths (next to .sops.yaml; commit it) and this clone's
    diff driver (.git/config: diff.fluxforge.textconv, fluxforge.diffkey). Idempotent."""
    _git_setup()


@git_grp.command(
    "textconv", epilog=_examples("fluxforge git textconv apps/staging/db-secret.yaml   # what git diff reads")
)
@click.argument("file", type=click.Path(path_type=Path))
def git_textconv_cmd(file: Path) -> None:
    """What git runs for each side of a diff: a sops file decrypted with values masked when a key
    decrypts it, the file unchanged otherwise. Never fails."""
    from generator.commands.diff import textconv
    from generator.commands.gitsetup import diff_key

    try:
        key = diff_key(Path.cwd())
    except Exception:  # noqa: BLE001 - the driver never fails a diff
        key = None
    _write_stdout(textconv(file, key))
