"""Shared helpers of the Azure tests: the standard world, a fake az CLI, running sops/fluxforge."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.emulator import Emulator, Principal, Runner

VAULT = "sopstest"
KEY = "sops-key"
CONTROLLER_NS, CONTROLLER_SA = "flux-system", "kustomize-controller"


@dataclass
class World:
    """The standard setup: a vault key, a developer who may encrypt, Flux's identity that may decrypt."""

    emu: Emulator
    tmp: Path
    version: str
    developer: Principal  # app with a client secret; role SOPS Encrypt Only (keys/read + encrypt)
    controller: Principal  # managed identity federated with flux-system:kustomize-controller; Crypto User

    @property
    def key_url(self) -> str:
        return self.emu.vault().key_url(KEY, self.version)

    @property
    def versionless_url(self) -> str:
        return self.emu.vault().key_url(KEY)

    def dev_env(self) -> dict[str, str]:
        return self.emu.secret_env(self.developer)

    def controller_env(
        self, *, namespace: str = CONTROLLER_NS, service_account: str = CONTROLLER_SA, audience: str | None = None
    ) -> dict[str, str]:
        token = self.tmp / "sa-token"
        kwargs = {"audience": audience} if audience else {}
        return self.emu.workload_env(
            self.controller, token, namespace=namespace, service_account=service_account, **kwargs
        )


def fake_az(world: World, principal: Principal) -> tuple[Path, Path]:
    """An ``az`` on PATH that hands out a real emulator token for ``principal``; returns (bin dir, call log)."""
    bin_dir, calls = world.tmp / "bin", world.tmp / "az-calls.log"
    bin_dir.mkdir(exist_ok=True)
    token, expires = world.emu.entra.mint_access_token(principal, world.emu.vault().challenge_resource)
    answer = {
        "accessToken": token,
        "expiresOn": "2099-01-01 00:00:00.000000",
        "expires_on": expires,
        "tenant": world.emu.tenant_id,
        "tokenType": "Bearer",
    }
    (bin_dir / "answer.json").write_text(json.dumps(answer))
    script = bin_dir / "az"
    script.write_text(
        f"#!{sys.executable}\nimport sys, pathlib\n"
        f"pathlib.Path({str(calls)!r}).open('a').write(' '.join(sys.argv[1:]) + '\\n')\n"
        f"print(pathlib.Path({str(bin_dir / 'answer.json')!r}).read_text())\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return bin_dir, calls


def base_env(world: World) -> dict[str, str]:
    """A clean environment for subprocesses (sops, fluxforge): no AZURE_*/SOPS_* from the caller."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "SOPS_"))}
    return {**keep, "SOPS_DISABLE_VERSION_CHECK": "1", "HOME": str(world.tmp)}


REPO_ROOT_AZ = Path(__file__).resolve().parents[2]


def fluxforge(box: Runner, env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The ``fluxforge`` CLI run inside the sandbox (production host names resolve to the emulator)."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "SOPS_"))}
    return box.run([sys.executable, "-m", "generator", *args], env=env, base_env=keep, cwd=cwd)


ADMIN_SECRET = "platform-admin-secret"


@dataclass
class Mgmt:
    """The real ARM SDK clients, signed in as ``principal`` (client secret) against the emulator."""

    world: World
    principal: Principal
    secret: str

    @property
    def subscription(self) -> str:
        return self.world.emu.arm.subscription

    def credential(self) -> object:
        from azure.identity import ClientSecretCredential

        return ClientSecretCredential(self.world.emu.tenant_id, self.principal.client_id, self.secret)

    def msi(self) -> object:
        from azure.mgmt.msi import ManagedServiceIdentityClient

        return ManagedServiceIdentityClient(self.credential(), self.subscription)

    def authz(self) -> object:
        from azure.mgmt.authorization import AuthorizationManagementClient

        return AuthorizationManagementClient(self.credential(), self.subscription)

    def keyvault(self) -> object:
        from azure.mgmt.keyvault import KeyVaultManagementClient

        return KeyVaultManagementClient(self.credential(), self.subscription)

    def aks(self) -> object:
        from azure.mgmt.containerservice import ContainerServiceClient

        return ContainerServiceClient(self.credential(), self.subscription)


def mgmt_as(
    world: World, name: str, role: str | None = "Owner", scope: str | None = None, secret: str = ADMIN_SECRET
) -> Mgmt:
    """A service principal with ``role`` on ``scope`` (default: the subscription) and its SDK clients."""
    principal = world.emu.add_identity(name, secret=secret)
    if role:
        world.emu.rbac.assign(principal.object_id, role, scope or world.emu.arm.subscription_id)
    return Mgmt(world, principal, secret)


def kubectl(kubeconfig: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The real kubectl against an emulated cluster (nothing from the caller's kube config)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
    return subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
