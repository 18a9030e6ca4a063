"""azure_gates: every message names the gate and the fix (pure, from Entra / Key Vault error text)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from generator.sops.keys import azure_gates as gates

ISS = "https://westeurope.oic.prod-aks.azure.com/t/c/"
SUB = "system:serviceaccount:flux-system:kustomize-controller"


def ctx(tmp_path: Path | None = None) -> gates.Context:
    env = {"AZURE_CLIENT_ID": "cid", "AZURE_TENANT_ID": "tid"}
    if tmp_path is not None:
        payload = base64.urlsafe_b64encode(json.dumps({"iss": ISS, "sub": SUB, "aud": ["api://x"]}).encode())
        (tmp_path / "token").write_text(f"e30.{payload.decode().rstrip('=')}.sig")
        env["AZURE_FEDERATED_TOKEN_FILE"] = str(tmp_path / "token")
    return gates.Context.from_env("decrypt", "https://v.vault.azure.net/keys/k/1", env)


@pytest.mark.parametrize(
    ("code", "fragments"),
    [
        ("70021", ["no federated credential on identity cid matches", "az identity federated-credential create"]),
        ("700211", ["trusts issuer", "oidcIssuerProfile.issuerUrl"]),
        ("700213", ["has subject", "run as the service account the credential names"]),
        ("700212", ["audience 'api://x'", "api://AzureADTokenExchange"]),
        ("700016", ["client ID 'cid' does not exist in tenant 'tid'"]),
        ("7000215", ["client secret is wrong or expired", "az ad app credential reset --id cid"]),
        ("700024", ["expired or not yet valid"]),
        ("90061", ["cannot fetch the OIDC discovery document", "--enable-oidc-issuer"]),
    ],
)
def test_entra_codes(tmp_path: Path, code: str, fragments: list[str]) -> None:
    message = gates.explain_entra(
        f"WorkloadIdentityCredential authentication failed: AADSTS{code}: text. Trace ID: x", ctx(tmp_path)
    )
    assert message.startswith(
        f"azure_kv decrypt with https://v.vault.azure.net/keys/k/1: Entra ID refused the token request (AADSTS{code}): "
    )
    for fragment in fragments:
        assert fragment in message
    if code in ("70021", "700213"):
        assert f"--issuer {ISS} --subject {SUB}" in message  # read from the projected token file


def test_unknown_entra_code_keeps_the_first_sentence() -> None:
    message = gates.explain_entra("AADSTS50000: There was an error issuing a token. Trace ID: abc", ctx())
    assert message.endswith("AADSTS50000: There was an error issuing a token.")


def test_forbidden_by_rbac_names_principal_action_and_scope() -> None:
    text = (
        "Caller is not authorized to perform action on resource.\r\nCaller: appid=a;oid=0000-1111;iss=x\r\n"
        "Action: 'Microsoft.KeyVault/vaults/keys/decrypt/action'\r\n"
        "Resource: '/subscriptions/s/resourcegroups/rg/providers/microsoft.keyvault/vaults/v/keys/k'\r\n"
    )
    message = gates.explain_vault(403, "Forbidden", text, ctx(), "ForbiddenByRbac")
    assert "role assignment missing (403 ForbiddenByRbac): principal 0000-1111 may not decrypt" in message
    assert "--scope /subscriptions/s/resourcegroups/rg/providers/microsoft.keyvault/vaults/v " in message


def test_access_policy_vaults_get_a_set_policy_fix() -> None:
    text = "The user, group or application 'appid=a;oid=0000-1111' does not have keys decrypt permission on key vault"
    assert "az keyvault set-policy" in gates.explain_vault(403, "Forbidden", text, ctx(), "AccessDenied")


@pytest.mark.parametrize(
    ("status", "fragment"),
    [
        (404, "does not exist (404"),
        (429, "kept answering 429 (throttled)"),
        (500, "kept answering 500 (unavailable)"),
        (401, "AZURE_TENANT_ID must be the vault's tenant"),
    ],
)
def test_other_statuses(status: int, fragment: str) -> None:
    assert fragment in gates.explain_vault(status, "Code", "msg", ctx())


def test_a_missing_or_garbled_token_file_is_not_an_error(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("not a jwt")
    env = {"AZURE_FEDERATED_TOKEN_FILE": str(tmp_path / "token")}
    assert gates.Context.from_env("decrypt", "u", env).assertion == {}
    assert gates.Context.from_env("decrypt", "u", {"AZURE_FEDERATED_TOKEN_FILE": "/nonexistent"}).assertion == {}
