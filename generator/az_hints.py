"""The ``az`` commands fluxforge prints as fixes (error messages) and as comments (rendered files).

Built in one place so their argument names stay right: ``tests/test_az_hints.py`` checks every ``az``
command the code and templates can emit against a table of Azure CLI commands and the arguments each
one accepts (for example ``az identity federated-credential create`` takes ``--audiences``, plural).
Pure string building, no I/O.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "WI_AUDIENCE",
    "aks_enable_oidc_issuer",
    "aks_enable_workload_identity",
    "aks_issuer_url",
    "federated_credential_create",
    "federated_credential_update",
    "federated_credential_update_audiences",
    "identity_create",
    "keyvault_enable_rbac",
    "keyvault_key_create",
    "keyvault_key_list_versions",
    "keyvault_key_rotate",
    "keyvault_key_set_attributes",
    "keyvault_set_policy_decrypt",
    "role_assignment_create",
]

WI_AUDIENCE: Final = "api://AzureADTokenExchange"
"""The audience of the service-account tokens Entra ID exchanges (AKS workload identity, Flux)."""


def federated_credential_create(
    *, name: str, identity_name: str, resource_group: str, issuer: str, subject: str
) -> str:
    """``az identity federated-credential create`` for one issuer + subject on a managed identity."""
    return (
        f"az identity federated-credential create --name {name} --identity-name {identity_name} "
        f"--resource-group {resource_group} --issuer {issuer} --subject {subject} --audiences {WI_AUDIENCE}"
    )


def federated_credential_update_audiences(*, name: str, identity_name: str, resource_group: str) -> str:
    """``az identity federated-credential update`` setting the audience to :data:`WI_AUDIENCE`."""
    return (
        f"az identity federated-credential update --name {name} --identity-name {identity_name} "
        f"--resource-group {resource_group} --audiences {WI_AUDIENCE}"
    )


def aks_issuer_url(resource_group: str = "<resource group>", cluster: str = "<cluster>") -> str:
    """The cluster's OIDC issuer URL, exactly as a federated credential must name it."""
    return f"az aks show -g {resource_group} -n {cluster} --query oidcIssuerProfile.issuerUrl -o tsv"


def aks_enable_oidc_issuer(resource_group: str = "<resource group>", cluster: str = "<cluster>") -> str:
    return f"az aks update -g {resource_group} -n {cluster} --enable-oidc-issuer"


def aks_enable_workload_identity(resource_group: str = "<resource group>", cluster: str = "<cluster>") -> str:
    """Installs the AKS workload identity webhook (and needs the OIDC issuer, enabled with it here)."""
    return f"az aks update -g {resource_group} -n {cluster} --enable-oidc-issuer --enable-workload-identity"


def federated_credential_update(
    *, name: str, identity_name: str, resource_group: str, issuer: str, subject: str
) -> str:
    """``az identity federated-credential update`` setting issuer, subject and audience exactly."""
    return (
        f"az identity federated-credential update --name {name} --identity-name {identity_name} "
        f"--resource-group {resource_group} --issuer {issuer} --subject {subject} --audiences {WI_AUDIENCE}"
    )


def identity_create(*, name: str, resource_group: str) -> str:
    return f"az identity create --name {name} --resource-group {resource_group}"


def role_assignment_create(role: str, principal_id: str, scope: str) -> str:
    """A role for a managed identity's service principal at ``scope`` (a key, a vault, ...)."""
    return (
        f'az role assignment create --role "{role}" --assignee-object-id {principal_id} '
        f"--assignee-principal-type ServicePrincipal --scope {scope}"
    )


def keyvault_set_policy_decrypt(vault: str, object_id: str) -> str:
    return f"az keyvault set-policy --name {vault} --object-id {object_id} --key-permissions decrypt"


def keyvault_enable_rbac(vault: str) -> str:
    return f"az keyvault update --name {vault} --enable-rbac-authorization true"


def keyvault_key_set_attributes(vault: str, key: str, version: str, change: str) -> str:
    """``change`` is the attribute flag and value, e.g. ``--enabled true``."""
    which = f" --version {version}" if version else ""
    return f"az keyvault key set-attributes --vault-name {vault} --name {key}{which} {change}"


def keyvault_key_create(vault: str, key: str) -> str:
    """An RSA key sops can use (RSA-OAEP-256), with the two operations it needs."""
    return f"az keyvault key create --vault-name {vault} --name {key} --kty RSA --size 4096 --ops encrypt decrypt"


def keyvault_key_list_versions(vault: str, key: str) -> str:
    return f"az keyvault key list-versions --vault-name {vault} --name {key}"


def keyvault_key_rotate(vault: str, key: str) -> str:
    """A new current version of the key (what a rotation policy's ``rotate`` action does)."""
    return f"az keyvault key rotate --vault-name {vault} --name {key}"
