"""A healthy emulated world for sample-repo, the one `fluxforge doctor` starts from in the drill.

Azure: ``rehearse()`` (tenant, the key version the sample Secrets are encrypted for, both cluster issuers,
the identities with Key Vault roles and every federated credential the config implies), plus an auditor
with Reader on the subscription (the user's credential doctor reads ARM with). The staging cluster:
``kubectl kustomize clusters/staging/flux-system`` (the rendered patches over a gotk-components stand-in)
and ``clusters/staging/*.yaml`` applied with the real kubectl, as ``flux bootstrap`` and the sync
Kustomization would, the apps Kustomization's build (the podinfo workload), then every Kustomization marked
Ready as kustomize-controller would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator.doctor import DoctorOptions, Report, run_doctor
from generator.doctor.kubectl import Kubectl
from generator.doctor.probe import KeyVaultProbe
from generator.doctor.readers import AzureReader, KubeReader
from tests.emulator import Emulator, Principal
from tests.emulator.kube import KubeCluster
from tests.emulator.rehearsal import Rehearsal, rehearse
from tests.helpers import FIXTURES, SAMPLE_REPO

SAMPLE = SAMPLE_REPO
GOTK = FIXTURES / "gotk-components.yaml"
AUDITOR_SECRET = "doctor-auditor-secret"


def kubectl(kubeconfig: Path, *args: str, stdin: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
    done = subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done.stdout


class RecordingKubectl(Kubectl):
    """The real kubectl reader, remembering the tokens it was handed (to prove none is printed)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tokens: list[str] = []

    def create_token(self, namespace: str, service_account: str, audience: str) -> str:
        token = super().create_token(namespace, service_account, audience)
        self.tokens.append(token)
        return token


@dataclass
class DoctorWorld:
    repo: Path
    play: Rehearsal
    kubeconfig: Path
    auditor: Principal
    kube_reader: RecordingKubectl = field(init=False)

    def __post_init__(self) -> None:
        self.kube_reader = RecordingKubectl(kubeconfig=self.kubeconfig)

    @property
    def emu(self) -> Emulator:
        return self.play.emu

    @property
    def staging(self) -> KubeCluster:
        return self.emu.clusters["staging"].kube

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        return kubectl(self.kubeconfig, *args, stdin=stdin)

    def azure_reader(self, principal: Principal | None = None, secret: str = AUDITOR_SECRET) -> AzureReader:
        from azure.identity import ClientSecretCredential

        from generator.azure.arm import Arm
        from generator.doctor.azure_reader import ArmReader

        who = principal or self.auditor
        credential = ClientSecretCredential(self.emu.tenant_id, who.client_id, secret)
        return ArmReader(Arm(self.emu.arm.subscription, credential=credential))

    def options(self, **overrides: Any) -> DoctorOptions:
        base: dict[str, Any] = {
            "config": self.repo / "fluxforge.yaml",
            "cluster": "staging",
            "probe": True,
            "subscription": self.emu.arm.subscription,
            "kubeconfig": self.kubeconfig,
        }
        return DoctorOptions(**{**base, **overrides})

    def doctor(self, *, azure: AzureReader | None = None, kube: KubeReader | None = None, **overrides: Any) -> Report:
        """The whole walk, reading ARM as the auditor (or ``azure``), the cluster with the real kubectl."""
        options = self.options(**overrides)
        return run_doctor(
            options,
            azure=azure or self.azure_reader(),
            kube=kube or self.kube_reader,
            prober=KeyVaultProbe() if options.probe else None,
        )


def apply_app(kubeconfig: Path, folder: Path, namespace: str) -> None:
    """What the apps Kustomization applies: the folder's kustomize build (the podinfo workload with its rendered
    ServiceAccount, SecretProviderClass and pod patch), less the SOPS-encrypted Secret kustomize-controller would
    decrypt first."""
    from generator.yamlio import load_all_plain

    docs = [d for d in load_all_plain(kubectl(kubeconfig, "kustomize", str(folder))) if d and d.get("kind") != "Secret"]
    space = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
    kubectl(kubeconfig, "apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": [space]}))
    kubectl(kubeconfig, "apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}))


def build_world(tmp: Path, key_material: Any) -> DoctorWorld:
    repo = tmp / "fleet"
    shutil.copytree(SAMPLE, repo)
    shutil.copy(GOTK, repo / "clusters" / "staging" / "flux-system" / "gotk-components.yaml")
    play = rehearse(repo / "fluxforge.yaml", tmp / "emulator", key_material)
    emu = play.emu.start()
    auditor = emu.add_identity("doctor-auditor", secret=AUDITOR_SECRET, roles=["Reader"], scope=emu.arm.subscription_id)
    kubeconfig = emu.kubeconfig(emu.clusters["staging"], tmp / "staging.kubeconfig")
    built = kubectl(kubeconfig, "kustomize", str(repo / "clusters" / "staging" / "flux-system"))
    kubectl(kubeconfig, "apply", "-f", "-", stdin=built)
    for name in ("infrastructure.yaml", "apps.yaml", "team-a.yaml"):
        kubectl(kubeconfig, "apply", "-f", str(repo / "clusters" / "staging" / name))
    apply_app(kubeconfig, repo / "apps" / "staging", "podinfo")
    kube = emu.clusters["staging"].kube
    for ns, name in (
        ("flux-system", "flux-system"),
        ("flux-system", "infrastructure"),
        ("flux-system", "apps"),
        ("team-a", "team-a"),
    ):
        kube.set_condition("Kustomization", ns, name, message=f"Applied revision: main@sha1:{'0' * 40}")
    return DoctorWorld(repo, play, kubeconfig, auditor)
