"""Turn Entra ID / Key Vault refusals into one line naming the gate that failed and the fix.

Pure functions over status codes and message text (no ``azure.*`` import): ``azure_kv`` classifies the
SDK exception and calls these. A gate is one of the four things that must line up for Flux to decrypt:
the identity's credential (workload identity federation or a secret), the token's audience, the role
assignment on the vault, and the key itself.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator.az_hints import (
    WI_AUDIENCE,
    aks_enable_oidc_issuer,
    aks_issuer_url,
    federated_credential_create,
    federated_credential_update_audiences,
)

CRYPTO_USER = "Key Vault Crypto User"
# the key's own state refusing an operation (the inner error code Key Vault sends with the 403)
_KEY_STATE = {
    "KeyDisabled": "the key version is disabled",
    "KeyExpired": "the key version is expired (decrypt still works; encrypt does not)",
    "KeyNotYetValid": "the key version is not valid yet (its not-before date is in the future)",
    "KeyOperationForbidden": "the key's permitted operations (key_ops) exclude it",
}
_KEY_STATE_FIX = {
    "KeyDisabled": "--enabled true",
    "KeyExpired": "--expires <a later date, e.g. 2030-01-01T00:00:00Z>",
    "KeyNotYetValid": "--not-before <now or earlier>",
    "KeyOperationForbidden": "--ops encrypt decrypt",
}


@dataclass(frozen=True)
class Context:
    """What was attempted, and with which identity (from the environment; never secrets)."""

    operation: str  # "encrypt", "decrypt", "read"
    key_url: str
    client_id: str = ""
    tenant_id: str = ""
    assertion: dict[str, Any] = field(default_factory=dict)  # claims of AZURE_FEDERATED_TOKEN_FILE

    @classmethod
    def from_env(cls, operation: str, key_url: str, env: dict[str, str]) -> Context:
        return cls(
            operation,
            key_url,
            env.get("AZURE_CLIENT_ID", ""),
            env.get("AZURE_TENANT_ID", ""),
            _token_claims(env.get("AZURE_FEDERATED_TOKEN_FILE", "")),
        )

    @property
    def head(self) -> str:
        return f"azure_kv {self.operation} with {self.key_url}"

    @property
    def identity(self) -> str:
        return f"identity {self.client_id}" if self.client_id else "the identity"


def _token_claims(path: str) -> dict[str, Any]:
    """Unverified claims of the projected service-account token (issuer/subject/audience for messages)."""
    try:
        payload = Path(path).read_text(encoding="utf-8").strip().split(".")[1] if path else ""
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))) if payload else {}
    except (OSError, ValueError, IndexError):
        return {}
    return data if isinstance(data, dict) else {}


def _quoted(label: str, message: str) -> str:
    match = re.search(rf"{label}:? '([^']*)'", message)
    return match.group(1) if match else ""


def _aud(ctx: Context, message: str) -> str:
    aud = _quoted("Assertion Audience", message) or _quoted("assertion audience", message)
    if aud:
        return aud
    claim = ctx.assertion.get("aud", "")
    return ",".join(claim) if isinstance(claim, list) else str(claim)


def _fic_create(ctx: Context, issuer: str, subject: str) -> str:
    return federated_credential_create(
        name="<name>",
        identity_name=f"<identity of client id {ctx.client_id or '?'}>",
        resource_group="<group>",
        issuer=issuer or "<cluster OIDC issuer URL>",
        subject=subject or "system:serviceaccount:<namespace>:<service account>",
    )


def explain_entra(message: str, ctx: Context) -> str:
    """A token request refused by Entra ID (``AADSTSnnnn`` in the message)."""
    match = re.search(r"AADSTS(\d+)", message)
    code = match.group(1) if match else ""
    iss = (
        _quoted("Assertion Issuer", message)
        or _quoted("assertion issuer", message)
        or str(ctx.assertion.get("iss", ""))
    )
    sub = (
        _quoted("Assertion Subject", message)
        or _quoted("assertion subject", message)
        or str(ctx.assertion.get("sub", ""))
    )
    aud = _aud(ctx, message)
    gate = f"{ctx.head}: Entra ID refused the token request (AADSTS{code})"
    fixes = {
        "70021": f"no federated credential on {ctx.identity} matches issuer {iss!r}, subject {sub!r}, audience "
        f"{aud!r}; add one with {_fic_create(ctx, iss, sub)}",
        "700211": f"no federated credential on {ctx.identity} trusts issuer {iss!r} (the cluster's OIDC issuer "
        "changed, or a trailing '/' differs); set the credential's issuer to the value of "
        f"{aks_issuer_url()}, or add one with {_fic_create(ctx, iss, sub)}",
        "700213": f"no federated credential on {ctx.identity} has subject {sub!r} (it names another namespace or "
        f"service account); add one with {_fic_create(ctx, iss, sub)}, or run as the service account the "
        "credential names",
        "700212": f"the service-account token's audience {aud!r} matches no federated credential on {ctx.identity}; "
        f"project the token with audience {WI_AUDIENCE} (the AKS workload identity webhook does), or add "
        "that audience to the credential with "
        + federated_credential_update_audiences(
            name="<name>", identity_name=f"<identity of client id {ctx.client_id or '?'}>", resource_group="<group>"
        ),
        "700016": f"client ID {ctx.client_id!r} does not exist in tenant {ctx.tenant_id!r}; check AZURE_CLIENT_ID "
        "(the azure.workload.identity/client-id annotation) and AZURE_TENANT_ID",
        "90002": f"tenant {ctx.tenant_id!r} does not exist; check AZURE_TENANT_ID",
        "7000215": "the client secret is wrong or expired; create a new one with az ad app credential reset --id "
        f"{ctx.client_id or '<client id>'} and update AZURE_CLIENT_SECRET",
        "700024": "the service-account token in AZURE_FEDERATED_TOKEN_FILE is expired or not yet valid; use the "
        "projected token the kubelet refreshes, not a copy",
        "700027": f"the service-account token's signature does not verify with issuer {iss!r}'s keys (cluster "
        "recreated or keys rotated); use a token from the cluster the federated credential trusts",
        "90061": f"Entra ID cannot fetch the OIDC discovery document of issuer {iss!r}; enable the cluster's OIDC "
        f"issuer ({aks_enable_oidc_issuer()}) and check the credential's issuer URL",
    }
    fix = fixes.get(code)
    if fix is None:
        first = message.split("Trace ID:")[0].strip().splitlines()
        return f"{gate}: {first[-1] if first else message}"
    return f"{gate}: {fix}"


def explain_forbidden(message: str, ctx: Context, inner: str = "") -> str:
    """A 403 from Key Vault: a missing role assignment, an access policy, or a disabled key."""
    action = _quoted("Action", message)
    oid = re.search(r"oid=([0-9a-fA-F-]+)", message) or re.search(r"object id '?([0-9a-fA-F-]{36})", message)
    principal = oid.group(1) if oid else "<principal object id>"
    if inner == "ForbiddenByRbac" or "ForbiddenByRbac" in message or action:
        return _missing_role(message, ctx, action, principal)
    key_state = _KEY_STATE.get(inner)
    if key_state is not None:
        return (
            f"{ctx.head}: Key Vault refused the operation (403 {inner}): {key_state}; fix: az keyvault key "
            f"set-attributes --id {ctx.key_url} {_KEY_STATE_FIX[inner]}"
        )
    if "access polic" in message.lower() or "does not have keys" in message:
        return (
            f"{ctx.head}: the vault's access policy does not allow {ctx.operation} for principal {principal} "
            f"(403); fix: az keyvault set-policy --name <vault> --object-id {principal} --key-permissions get "
            "encrypt decrypt, or switch the vault to Azure RBAC and grant Key Vault Crypto User"
        )
    return (
        f"{ctx.head}: Key Vault refused the operation (403 {inner or 'Forbidden'}: {message.strip()}); check the "
        f"key is enabled and allows encrypt/decrypt (az keyvault key show --id {ctx.key_url})"
    )


def _missing_role(message: str, ctx: Context, action: str, principal: str) -> str:
    """403 ForbiddenByRbac: which data action the principal lacks on which scope, and the assignment to add."""
    resource = _quoted("Resource", message)
    scope = re.sub(r"/keys/[^/]+$", "", resource) if resource else "<vault resource id>"
    verb = action.rsplit("/", 2)[-2] if action.count("/") >= 2 else ctx.operation
    return (
        f"{ctx.head}: role assignment missing (403 ForbiddenByRbac): principal {principal} may not "
        f"{verb} ({action or 'key data action'}) on {resource or ctx.key_url}; grant {CRYPTO_USER} (or a role "
        f'with that data action) with az role assignment create --role "{CRYPTO_USER}" --assignee-object-id '
        f"{principal} --assignee-principal-type ServicePrincipal --scope {scope} (new assignments can take a "
        "few minutes to apply)"
    )


def explain_vault(status: int, code: str, message: str, ctx: Context, inner: str = "") -> str:
    """Any other Key Vault error response (after the SDK's retries)."""
    if status == 403:
        return explain_forbidden(message, ctx, inner)
    if status == 401:
        if "AKV10022" in message or "audience" in message.lower():
            return (
                f"{ctx.head}: Key Vault rejected the access token's audience (401, {message.strip()}); the "
                "credential must request https://vault.azure.net/.default, and the vault must be in the "
                "token's cloud; check --credential and AZURE_AUTHORITY_HOST"
            )
        return (
            f"{ctx.head}: Key Vault rejected the access token (401, {message.strip()}); AZURE_TENANT_ID must be "
            "the vault's tenant and the token unexpired"
        )
    if status == 404:
        return (
            f"{ctx.head}: the key or key version does not exist (404 {code}); check the URL with az keyvault key "
            "list-versions --vault-name <vault> --name <key>, or re-encrypt the file with a current key"
        )
    if status == 429 or status >= 500:
        return (
            f"{ctx.head}: Key Vault kept answering {status} ({'throttled' if status == 429 else 'unavailable'}) "
            "after retries; nothing was written for this file, run the command again later"
        )
    return f"{ctx.head}: Key Vault answered {status} {code}: {message.strip()}"


def explain_tenant(message: str, ctx: Context) -> str:
    """The vault's challenge names a tenant the credential is not set up for."""
    match = re.search(r"tokens for tenant '?([0-9A-Za-z.-]+)", message)
    vault_tenant = match.group(1).rstrip(".") if match else "<the vault's tenant>"
    return (
        f"{ctx.head}: the vault belongs to tenant {vault_tenant} but the credential is for tenant "
        f"{ctx.tenant_id or '<unset>'}; set AZURE_TENANT_ID={vault_tenant} (the azure.workload.identity/tenant-id "
        "annotation in a cluster), or list it in AZURE_ADDITIONALLY_ALLOWED_TENANTS"
    )


def explain_unavailable(message: str, ctx: Context) -> str:
    summary = " ".join(message.split())[:400]
    return (
        f"{ctx.head}: no Azure credential is available ({summary}); in a pod set AZURE_CLIENT_ID, "
        "AZURE_TENANT_ID and AZURE_FEDERATED_TOKEN_FILE (workload identity webhook: pod label "
        "azure.workload.identity/use=true and service account annotation azure.workload.identity/client-id), in CI "
        "AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET, on a laptop run az login; or pin one with --credential"
    )


def explain_network(message: str, ctx: Context) -> str:
    return (
        f"{ctx.head}: cannot reach Key Vault or Entra ID ({' '.join(message.split())[:300]}); check DNS, proxy "
        "and firewall (a private-endpoint vault needs its private DNS zone)"
    )


# -- which gate an error means (fluxforge doctor) ---------------------------------------------------------------
# Gate ids of ``generator.doctor``: an Entra ID / Key Vault refusal, or a kustomize-controller condition message,
# points at the link of the chain that is broken. First match wins; the patterns are ours (not user input).
_GATES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p, re.IGNORECASE), g)
    for p, g in (
        (r"AADSTS(70021|700211|700212|700213|7002138)\b", "azure.fic"),
        (r"AADSTS700016\b|client ID .* does not exist in tenant", "azure.identity"),
        (r"AADSTS(700027|90061)\b", "cluster.issuer"),
        (r"ForbiddenByRbac|role assignment missing", "azure.role"),
        (r"access polic|does not have keys? \w+ permission", "azure.vault"),
        (
            (
                r"KeyDisabled|key version \S+ is disabled|key is disabled|KeyOperationForbidden|KeyExpired|KeyNotFound"
                r"|key or key version does not exist"
            ),
            "azure.key",
        ),
        (
            (
                r"missing environment variables for workload identity|no Azure credential is available"
                r"|AZURE_FEDERATED_TOKEN_FILE"
            ),
            "cluster.pod",
        ),
        (r"FeatureGateDisabled|ObjectLevelWorkloadIdentity feature gate", "cluster.feature-gate"),
        (
            r"service account annotation azure\.workload\.identity/|serviceaccounts? \"[^\"]+\" not found",
            "cluster.tenant-sa",
        ),
        (r"MAC mismatch", "static.encrypted"),
    )
)


def gate_for(message: str) -> str:
    """The doctor gate an error message means (``azure.fic`` for AADSTS70021), or "" when it names none."""
    return next((gate for pattern, gate in _GATES if pattern.search(message)), "")
