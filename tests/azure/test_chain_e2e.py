"""The whole workload-identity chain built only through the public surfaces, as fluxforge's `azure apply`
and `doctor --probe` will drive it: ARM SDK clients create the vault, key, identity, federated credential
and the role assignment at the key scope; the real kubectl creates the ServiceAccount and requests its
token; Entra exchanges it; the real sops (and azure-keyvault-keys) decrypt — and are refused as soon as
the credential or the role is removed through ARM."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.identity import WorkloadIdentityCredential
from azure.keyvault.keys.crypto import CryptographyClient, EncryptionAlgorithm
from azure.mgmt.authorization.models import RoleAssignmentCreateParameters
from azure.mgmt.msi.models import FederatedIdentityCredential, Identity
from azworld import Mgmt, World, base_env, kubectl, mgmt_as

from tests.emulator import AUTHORITY, DEFAULT_RESOURCE_GROUP, WI_AUDIENCE, Runner

pytestmark = pytest.mark.interop
RG = DEFAULT_RESOURCE_GROUP
PLAIN = "apiVersion: v1\nkind: Secret\nmetadata:\n    name: db\nstringData:\n    password: chain-hunter2\n"
SA = """\
apiVersion: v1
kind: Namespace
metadata:
  name: flux-system
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: kustomize-controller
  namespace: flux-system
  annotations:
    azure.workload.identity/client-id: "{client_id}"
"""


def _role(admin: Mgmt, scope: str, role: str, principal_id: str) -> str:
    definition = next(iter(admin.authz().role_definitions.list(scope, filter=f"roleName eq '{role}'")))
    name = str(uuid.uuid4())
    admin.authz().role_assignments.create(
        scope,
        name,
        RoleAssignmentCreateParameters(
            role_definition_id=definition.id, principal_id=principal_id, principal_type="ServicePrincipal"
        ),
    )
    return name


def _fic(admin: Mgmt, issuer: str) -> Any:
    return admin.msi().federated_identity_credentials.create_or_update(
        RG,
        "id-flux-staging",
        "staging-kustomize-controller",
        FederatedIdentityCredential(
            issuer=issuer, subject="system:serviceaccount:flux-system:kustomize-controller", audiences=[WI_AUDIENCE]
        ),
    )


def _sops(box: Runner, world: World, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    done = box.run(["sops", *args], env=env, base_env=base_env(world), cwd=world.tmp)
    return done.returncode, done.stdout, done.stderr


def test_arm_kubectl_entra_key_vault_chain(in_process: World, sandbox: Runner, production_names: None) -> None:
    w = in_process
    admin = mgmt_as(w, "platform-admin")
    w.emu.add_cluster("staging")
    # the Azure half, through ARM
    issuer = admin.aks().managed_clusters.get(RG, "staging").oidc_issuer_profile.issuer_url
    vault = (
        admin.keyvault()
        .vaults.begin_create_or_update(
            RG,
            "kv-chain",
            {
                "location": "westeurope",
                "properties": {
                    "tenantId": w.emu.tenant_id,
                    "enablePurgeProtection": True,
                    "sku": {"family": "A", "name": "standard"},
                },
            },
        )
        .result()
    )
    key = admin.keyvault().keys.create_if_not_exist(RG, "kv-chain", "sops", {"properties": {"kty": "RSA"}})
    key_scope, key_url = f"{vault.id}/keys/sops", key.properties.key_uri_with_version
    ident = admin.msi().user_assigned_identities.create_or_update(
        RG, "id-flux-staging", Identity(location="westeurope")
    )
    _fic(admin, issuer)
    assignment = _role(admin, key_scope, "Key Vault Crypto User", ident.principal_id)
    developer = w.emu.add_identity("chain-developer", secret="chain-dev-secret")
    _role(admin, key_scope, "SOPS Encrypt Only", developer.object_id)
    # the cluster half, through kubectl
    kubeconfig = w.emu.kubeconfig(w.emu.clusters["staging"], w.tmp / "kubeconfig")
    applied = kubectl(kubeconfig, "apply", "-f", "-", stdin=SA.format(client_id=ident.client_id))
    assert applied.returncode == 0, applied.stderr
    token = kubectl(
        kubeconfig, "create", "token", "kustomize-controller", "-n", "flux-system", "--audience", WI_AUDIENCE
    )
    assert token.returncode == 0, token.stderr
    token_file = w.tmp / "azure-identity-token"
    token_file.write_text(token.stdout.strip())
    flux_env = {
        "AZURE_CLIENT_ID": ident.client_id,
        "AZURE_TENANT_ID": w.emu.tenant_id,
        "AZURE_FEDERATED_TOKEN_FILE": str(token_file),
        "AZURE_AUTHORITY_HOST": AUTHORITY,
        **w.emu.tls_env(),
    }
    # a developer encrypts with the real sops; kustomize-controller's identity decrypts (sops and the SDK)
    (w.tmp / "db.yaml").write_text(PLAIN)
    code, encrypted, err = _sops(sandbox, w, w.emu.secret_env(developer), "encrypt", "--azure-kv", key_url, "db.yaml")
    assert code == 0, err
    (w.tmp / "db.enc.yaml").write_text(encrypted)
    code, out, err = _sops(sandbox, w, flux_env, "decrypt", "db.enc.yaml")
    assert code == 0 and out == PLAIN, err
    credential = WorkloadIdentityCredential(
        tenant_id=w.emu.tenant_id, client_id=ident.client_id, token_file_path=str(token_file)
    )
    crypto = CryptographyClient(key_url, credential)
    blob = crypto.encrypt(EncryptionAlgorithm.rsa_oaep_256, b"data key").ciphertext
    assert crypto.decrypt(EncryptionAlgorithm.rsa_oaep_256, blob).plaintext == b"data key"
    # remove the federated credential through ARM: Entra refuses the exchange
    admin.msi().federated_identity_credentials.delete(RG, "id-flux-staging", "staging-kustomize-controller")
    code, out, err = _sops(sandbox, w, flux_env, "decrypt", "db.enc.yaml")
    assert code != 0 and "AADSTS70021" in err and "chain-hunter2" not in out + err
    with pytest.raises(ClientAuthenticationError, match="AADSTS70021"):
        WorkloadIdentityCredential(
            tenant_id=w.emu.tenant_id, client_id=ident.client_id, token_file_path=str(token_file)
        ).get_token("https://vault.azure.net/.default")
    # put it back, remove the role assignment instead: Key Vault refuses the decrypt
    _fic(admin, issuer)
    admin.authz().role_assignments.delete(key_scope, assignment)
    code, out, err = _sops(sandbox, w, flux_env, "decrypt", "db.enc.yaml")
    assert code != 0 and "ForbiddenByRbac" in err and "chain-hunter2" not in out + err
    with pytest.raises(HttpResponseError, match="ForbiddenByRbac"):
        CryptographyClient(
            key_url,
            WorkloadIdentityCredential(
                tenant_id=w.emu.tenant_id, client_id=ident.client_id, token_file_path=str(token_file)
            ),
        ).decrypt(EncryptionAlgorithm.rsa_oaep_256, blob)
    # and a role at a parent scope (the vault) restores it
    _role(admin, vault.id, "Key Vault Crypto User", ident.principal_id)
    code, out, err = _sops(sandbox, w, flux_env, "decrypt", "db.enc.yaml")
    assert code == 0 and out == PLAIN, err
    arm_calls = {(e.method, e.path.rsplit("/", 2)[-2]) for e in w.emu.log.entries("arm") if e.status < 300}
    assert ("DELETE", "federatedIdentityCredentials") in arm_calls and ("DELETE", "roleAssignments") in arm_calls


def test_a_token_from_another_cluster_is_not_exchanged(in_process: World, tmp_path: Path) -> None:
    """Two clusters, two issuers: the FIC names one issuer; a token kubectl got from the other cluster fails."""
    w = in_process
    admin = mgmt_as(w, "platform-admin")
    staging, prod = w.emu.add_cluster("staging"), w.emu.add_cluster("prod")
    ident = admin.msi().user_assigned_identities.create_or_update(
        RG, "id-flux-staging", Identity(location="westeurope")
    )
    _fic(admin, staging.issuer.url)
    tokens = {}
    for cluster in (staging, prod):
        config = w.emu.kubeconfig(cluster, tmp_path / f"{cluster.name}.kubeconfig")
        assert kubectl(config, "apply", "-f", "-", stdin=SA.format(client_id=ident.client_id)).returncode == 0
        done = kubectl(
            config, "create", "token", "kustomize-controller", "-n", "flux-system", "--audience", WI_AUDIENCE
        )
        tokens[cluster.name] = tmp_path / f"{cluster.name}.token"
        tokens[cluster.name].write_text(done.stdout.strip())
    good = WorkloadIdentityCredential(
        tenant_id=w.emu.tenant_id, client_id=ident.client_id, token_file_path=str(tokens["staging"])
    )
    assert good.get_token("https://vault.azure.net/.default").token
    other = WorkloadIdentityCredential(
        tenant_id=w.emu.tenant_id, client_id=ident.client_id, token_file_path=str(tokens["prod"])
    )
    with pytest.raises(ClientAuthenticationError, match=f"AADSTS700211: .*'{prod.issuer.url}'"):
        other.get_token("https://vault.azure.net/.default")
