"""``fluxforge init``: write a commented starter ``fluxforge.yaml`` that renders as is."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from generator.config.load import CONFIG_NAME, parse_config
from generator.errors import ConfigError, UsageError
from generator.flux.versions import NEWEST
from generator.fsio import write_atomic
from generator.render.templates import render_template

__all__ = ["PLACEHOLDER_GUID", "StarterValues", "render_starter", "write_starter"]

PLACEHOLDER_GUID = "00000000-0000-0000-0000-000000000000"
_FLAGS = {
    "azure.tenantId": "--tenant-id",
    "clusters[0].identity.clientId": "--client-id",
    "clusters[0].name": "--cluster",
    "clusters[0].oidcIssuer": "--oidc-issuer",
    "sops.keyVault[0].vault": "--vault",
    "sops.keyVault[0].key": "--key",
    "git.url": "--repo-url",
}


@dataclass(frozen=True)
class StarterValues:
    """Values for the starter file; every one has a placeholder that validates.

    ``age`` recipients without ``vault``/``key`` make an age-only starter (no Azure Key Vault key);
    with neither, the Key Vault key is the placeholder ``kv-fluxforge``/``sops-flux``.
    """

    tenant_id: str = PLACEHOLDER_GUID
    client_id: str = PLACEHOLDER_GUID
    cluster: str = "dev"
    oidc_issuer: str = f"https://westeurope.oic.prod-aks.azure.com/{PLACEHOLDER_GUID}/{PLACEHOLDER_GUID}/"
    vault: str | None = None
    key: str | None = None
    repo_url: str = "ssh://git@github.com/example/fleet"
    age: tuple[str, ...] = ()

    def context(self) -> dict[str, object]:
        key_vault = not self.age or self.vault is not None or self.key is not None
        return {
            **self.__dict__,
            "key_vault": key_vault,
            "vault": self.vault or "kv-fluxforge",
            "key": self.key or "sops-flux",
        }


def render_starter(values: StarterValues) -> bytes:
    """The starter file's bytes. A flag value the config rejects is a UsageError (exit 2, one line per
    bad flag, named); any other validation failure of the written file stays a ConfigError."""
    text = render_template("starter/fluxforge.yaml.j2", flux_version=str(NEWEST), **values.context())
    try:
        parse_config(text, display=CONFIG_NAME)
    except ConfigError as err:
        flags = [_as_flag_problem(line) for line in err.problems]
        if any(line.startswith("--cluster: ") for line in flags):  # the Kustomization paths repeat the name
            flags = [
                line
                for line in flags
                if not re.match(r"init: [^:]+:\d+: clusters\[0\]\.kustomizations\[\d+\]\.path: ", line)
            ]
        if any(line.startswith("--") for line in flags):
            raise UsageError(flags) from None  # a bad flag value: a usage error (exit 2)
        raise ConfigError(flags) from None
    return text.encode("utf-8")


def _as_flag_problem(line: str) -> str:
    """``fluxforge.yaml:17: azure.tenantId: msg`` -> ``--tenant-id: msg``."""
    parts = line.split(": ", 2)
    if len(parts) == 3 and parts[1] in _FLAGS:
        return f"{_FLAGS[parts[1]]}: {parts[2]}"
    if len(parts) == 3 and re.fullmatch(r"sops\.age\[\d+\]", parts[1]):
        return f"--age: {parts[2]}"
    return f"init: {line}"


def write_starter(directory: str | Path | None, values: StarterValues) -> Path:
    """Create ``DIR/fluxforge.yaml``; refuse (ConfigError, exit 1) when it already exists."""
    folder = Path(directory) if directory is not None else Path()
    target = folder / CONFIG_NAME
    if target.exists():
        raise ConfigError(f"{target}: already exists; fluxforge init never overwrites it (edit it, or move it away)")
    write_atomic(target, render_starter(values))  # a failure is a WriteError: path, OS reason, fix
    return target
