"""The rehearsal of sample-repo is the world `doctor` and `azure plan` start from: everything the config
implies is readable through ARM (real SDKs) and each cluster's API server (real kubectl)."""

from __future__ import annotations

from pathlib import Path

import pytest
from azure.identity import ClientSecretCredential
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.msi import ManagedServiceIdentityClient
from azworld import kubectl

from generator.config.load import load_config
from tests.emulator.rehearsal import rehearse

pytestmark = pytest.mark.interop
SAMPLE = Path(__file__).resolve().parents[2] / "sample-repo" / "fluxforge.yaml"


def test_sample_repo_rehearsal_through_arm_and_kubectl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(SAMPLE)
    play = rehearse(SAMPLE, tmp_path / "emu")
    emu = play.emu.start()
    try:
        admin = emu.add_identity("auditor", secret="auditor-secret", roles=["Reader"], scope=emu.arm.subscription_id)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(emu.pki.ca_pem))
        with emu.patch_resolver():
            credential = ClientSecretCredential(emu.tenant_id, admin.client_id, "auditor-secret")
            msi = ManagedServiceIdentityClient(credential, emu.arm.subscription)
            aks = ContainerServiceClient(credential, emu.arm.subscription)
            identities = {i.client_id: i for i in msi.user_assigned_identities.list_by_subscription()}
            for cluster in config.clusters:
                assert (
                    aks.managed_clusters.get("rg-fluxforge", cluster.name).oidc_issuer_profile.issuer_url
                    == cluster.oidc_issuer
                )
                ident = identities[cluster.identity.client_id]
                fics = list(msi.federated_identity_credentials.list("rg-fluxforge", ident.name))
                assert any(
                    f.issuer == cluster.oidc_issuer and f.subject.endswith(":kustomize-controller") for f in fics
                )
        for cluster in config.clusters:
            config_file = emu.kubeconfig(emu.clusters[cluster.name], tmp_path / f"{cluster.name}.kubeconfig")
            raw = kubectl(config_file, "get", "--raw", "/.well-known/openid-configuration")
            assert raw.returncode == 0 and f'"issuer": "{cluster.oidc_issuer}"' in raw.stdout
    finally:
        emu.stop()
