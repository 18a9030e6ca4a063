"""A fleet repository against the emulator (``tests/azure``): its ``fluxforge.yaml`` (one resource group, one
SOPS vault, the clusters the test writes), the platform admin who runs ``fluxforge azure plan/apply``, and a
Kubernetes ServiceAccount token exchanged at the emulated Entra ID with the real Azure SDK credential."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.emulator import DEFAULT_RESOURCE_GROUP

RG = DEFAULT_RESOURCE_GROUP


def fleet_yaml(w: Any, vault: str, clusters: str) -> str:
    """``fluxforge.yaml`` for the emulated subscription: ``clusters`` is the ``clusters:`` block, as YAML."""
    return f"""\
flux:
  version: "2.9.4"
git:
  url: ssh://git@github.com/contoso/fleet
azure:
  tenantId: {w.emu.tenant_id}
  subscriptionId: {w.emu.arm.subscription}
  location: westeurope
  resourceGroup: {RG}
sops:
  keyVault:
    - vault: {vault}
      key: sops-flux
{clusters}"""


@dataclass
class Fleet:
    """The emulated world, its ``staging`` cluster, the platform admin and the repository (``repo``)."""

    w: Any  # azworld.World
    cluster: Any
    admin: Any  # azworld.Mgmt
    repo: Path

    def admin_env(self) -> dict[str, str]:
        return dict(self.w.emu.secret_env(self.admin.principal))

    def azure(self, run_cli: Any, *args: str) -> Any:
        """``fluxforge azure ARGS REPO`` as the platform admin."""
        return run_cli("azure", *args, str(self.repo), env=self.admin_env())


def new_fleet(w: Any, admin: Any, tmp_path: Path, config: Callable[[str], str]) -> Fleet:
    """Add the ``staging`` cluster, write ``config(its issuer URL)`` into ``tmp_path/fleet/fluxforge.yaml``."""
    cluster = w.emu.add_cluster("staging")
    repo = tmp_path / "fleet"
    repo.mkdir()
    (repo / "fluxforge.yaml").write_text(config(cluster.issuer.url))
    return Fleet(w, cluster, admin, repo)


def exchange(tenant_id: str, client_id: str, token_file: Path, **options: Any) -> Any:
    """What a pod's Azure SDK does: exchange the ServiceAccount token in ``token_file`` for ``client_id``."""
    from azure.identity import WorkloadIdentityCredential

    return WorkloadIdentityCredential(
        tenant_id=tenant_id, client_id=client_id, token_file_path=str(token_file), **options
    )
