"""Which ``fluxforge.yaml`` a command means: the argument, or the nearest one here or in a parent folder.

Light on purpose (no YAML, no JSON Schema): an unchanged render finds its config here and answers from
its index (:mod:`generator.render.index`) before any of that is imported.
"""

from __future__ import annotations

from pathlib import Path

from generator.errors import ConfigError

__all__ = ["CONFIG_NAME", "config_path_for"]

CONFIG_NAME = "fluxforge.yaml"


def config_path_for(arg: str | Path | None) -> Path:
    """CLI argument -> config file; a folder means ``DIR/fluxforge.yaml``. Without an argument: the
    ``fluxforge.yaml`` of the current folder or of the nearest parent folder that has one (as git finds
    its repository), relative to the current folder; none at all is a ConfigError that names a
    ``fluxforge.yaml`` in a subfolder, if there is one."""
    if arg is None:
        return _find_upwards()
    path = Path(arg)
    return path / CONFIG_NAME if path.is_dir() else path


def _find_upwards() -> Path:
    here = Path.cwd()
    for level, folder in enumerate([here, *here.parents]):
        if (folder / CONFIG_NAME).is_file():
            return Path(*[".."] * level, CONFIG_NAME)
    below = sorted(p.relative_to(here) for p in here.glob(f"*/{CONFIG_NAME}"))
    if below:
        hint = f"{below[0]} is in a subfolder: name its folder as the argument ({below[0].parent})"
        raise ConfigError(f"{CONFIG_NAME}: not found here or in a parent folder; {hint}")
    raise ConfigError(f"{CONFIG_NAME}: not found here or in a parent folder; create one with `fluxforge init`")
