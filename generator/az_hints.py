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
    "aks_issuer_url",
    "federated_credential_create",
    "federated_credential_update_audiences",
]

WI_AUDIENCE: Final = "api://AzureADTokenExchange"
"""The audience of the service-account tokens Entra ID exchanges (AKS workload identity, Flux)."""


def federated_credential_create(*, name: str, identity_name: str, resource_group: str, issuer: str,
                                subject: str) -> str:
    """``az identity federated-credential create`` for one issuer + subject on a managed identity."""
    return (f"az identity federated-credential create --name {name} --identity-name {identity_name} "
            f"--resource-group {resource_group} --issuer {issuer} --subject {subject} --audiences {WI_AUDIENCE}")


def federated_credential_update_audiences(*, name: str, identity_name: str, resource_group: str) -> str:
    """``az identity federated-credential update`` setting the audience to :data:`WI_AUDIENCE`."""
    return (f"az identity federated-credential update --name {name} --identity-name {identity_name} "
            f"--resource-group {resource_group} --audiences {WI_AUDIENCE}")


def aks_issuer_url(resource_group: str = "<resource group>", cluster: str = "<cluster>") -> str:
    """The cluster's OIDC issuer URL, exactly as a federated credential must name it."""
    return f"az aks show -g {resource_group} -n {cluster} --query oidcIssuerProfile.issuerUrl -o tsv"


def aks_enable_oidc_issuer(resource_group: str = "<resource group>", cluster: str = "<cluster>") -> str:
    return f"az aks update -g {resource_group} -n {cluster} --enable-oidc-issuer"
