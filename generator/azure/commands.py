"""The I/O edge of ``fluxforge azure``: load the config, build the desired state, then write Bicep
(``bicep``) or read and write ARM (``plan``/``apply``, see ``generator.azure.apply``).

Bicep files follow the render's writer rules: a file whose bytes are already right is not written; a
file is replaced only when fluxforge wrote it and nobody edited it since (its marker line carries a digest
of the rest); anything else in the way is refused, one line per file, nothing written, unless ``force``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from generator.azure.bicep import BICEP_MARKER, digest_ok, render_bicep
from generator.azure.desired import DesiredState, DesiredStateError, desired_state
from generator.commands.render import unified_diff
from generator.config.load import config_path_for, load_config
from generator.config.model import Config
from generator.config.problems import format_problems
from generator.errors import CheckFailed, ConfigError, RenderError
from generator.fsio import read_optional, write_atomic, write_error
from generator.yamlio import load_rt

__all__ = ["DEFAULT_OUT", "BicepReport", "load_desired", "run_bicep"]

DEFAULT_OUT = Path("infra/azure")


@dataclass(frozen=True)
class BicepReport:
    out: Path
    written: tuple[str, ...]
    unchanged: tuple[str, ...]
    removed: tuple[str, ...]
    forced: tuple[str, ...]
    deploy_group: str


def load_desired(config_arg: str | Path | None, *, need_subscription: bool) -> tuple[Path, Config, DesiredState]:
    """The config file, its model and its desired Azure state; a ConfigError with ``FILE:LINE: key: message``
    lines when the config lacks what the Azure side needs."""
    file = config_path_for(config_arg)
    config = load_config(file)
    try:
        state = desired_state(config, display=str(file), need_subscription=need_subscription)
    except DesiredStateError as err:
        try:
            root = load_rt(file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise err from None
        raise ConfigError(format_problems(err.found, root, str(file))) from None
    return file, config, state


def _read(path: Path) -> bytes | None:
    return read_optional(
        path, writer="fluxforge azure bicep writes", below="fluxforge azure bicep writes files below it"
    )


def _refusal(path: Path, data: bytes) -> str:
    if data.startswith(BICEP_MARKER.encode()):
        return (
            f"{path}: edited since fluxforge wrote it (its digest no longer matches); move your changes into "
            "fluxforge.yaml or a separate .bicep file, or rerun with --force to replace it"
        )
    return f"{path}: exists and was not written by fluxforge; move it away, or rerun with --force to replace it"


def _orphans(out: Path, files: dict[str, bytes]) -> list[Path]:
    if not out.is_dir():
        return []
    return [
        p
        for p in sorted(out.glob("*.bicep"))
        if p.name not in files and p.is_file() and (p.read_bytes()[: len(BICEP_MARKER)] == BICEP_MARKER.encode())
    ]


def run_bicep(
    config_arg: str | Path | None, *, out: Path | None = None, force: bool = False, check: bool = False
) -> BicepReport:
    """``fluxforge azure bicep``: write ``main.bicep`` and its modules into ``out`` (default
    ``infra/azure`` next to the config). ``check``: write nothing, CheckFailed with a diff when stale."""
    file, _config, state = load_desired(config_arg, need_subscription=False)
    files = render_bicep(state, config_name=file.name)
    target = out if out is not None else file.parent / DEFAULT_OUT
    disk = {name: _read(target / name) for name in files}
    changed = [name for name, data in files.items() if disk[name] != data]
    orphans = _orphans(target, files)
    if check:
        _check_current(target, files, disk, (changed, orphans))
        return BicepReport(target, (), tuple(files), (), (), state.deploy_group)
    refused = _edited(target, disk, changed, orphans)
    if refused and not force:
        raise RenderError([*refused, "nothing was written"])
    return _write(target, files, changed, orphans, tuple(refused), state.deploy_group)


def _edited(target: Path, disk: Mapping[str, bytes | None], changed: list[str], orphans: list[Path]) -> list[str]:
    """Why each file to replace or remove is not fluxforge's to overwrite (edited, or someone else's)."""
    refused = [
        _refusal(target / name, disk[name] or b"")
        for name in changed
        if disk[name] is not None and not digest_ok(disk[name] or b"")
    ]
    return refused + [_refusal(p, p.read_bytes()) for p in orphans if not digest_ok(p.read_bytes())]


def _check_current(
    target: Path, files: Mapping[str, bytes], disk: Mapping[str, bytes | None], stale: tuple[list[str], list[Path]]
) -> None:
    """``--check``: ``CheckFailed`` naming each missing, stale or no longer generated file, with a diff."""
    changed, orphans = stale
    if not (changed or orphans):
        return
    lines = [
        f"{target / n}: {'missing' if disk[n] is None else 'stale'} (run `fluxforge azure bicep`)" for n in changed
    ] + [f"{p}: no longer generated (run `fluxforge azure bicep`)" for p in orphans]
    diffs = [unified_diff(n, disk[n], files[n]) for n in changed]
    raise CheckFailed(lines + "".join(diffs).rstrip("\n").split("\n"))


def _write(
    target: Path, files: dict[str, bytes], changed: list[str], orphans: list[Path], forced: tuple[str, ...], group: str
) -> BicepReport:
    written: list[str] = []
    for name in changed:
        try:
            write_atomic(target / name, files[name])
        except OSError as err:
            raise RenderError(
                [
                    write_error(target / name, err).problems[0],
                    f"written before the failure: {', '.join(written) or 'none'}",
                ]
            ) from None
        written.append(name)
    for path in orphans:
        path.unlink(missing_ok=True)
    unchanged = tuple(n for n in files if n not in changed)
    return BicepReport(target, tuple(written), unchanged, tuple(p.name for p in orphans), forced, group)
