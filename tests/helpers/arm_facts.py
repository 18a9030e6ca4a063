"""ARM facts (``generator.azure.facts``) for the pure plan tests: what Azure would hold, built by hand."""

from __future__ import annotations

from generator.azure.desired import DesiredCredential, DesiredIdentity, DesiredState
from generator.azure.facts import CredentialFacts, IdentityFacts, VaultFacts


def identity(ident: DesiredIdentity, client_id: str, principal_id: str) -> IdentityFacts:
    """The identity ``ident`` as ARM would show it, with these IDs."""
    return IdentityFacts(ident.name, ident.resource_group, client_id, principal_id, f"/identities/{ident.name}")


def credential(cred: DesiredCredential) -> CredentialFacts:
    """The federated credential exactly as wanted."""
    return CredentialFacts(cred.name, cred.issuer, cred.subject, (cred.audience,))


def credentials_of(state: DesiredState, ident: DesiredIdentity) -> list[CredentialFacts]:
    """Every federated credential the desired state wants on ``ident``, as wanted."""
    return [credential(c) for c in state.credentials if c.identity.key == ident.key]


def vault(name: str, tenant_id: str, *, rbac: bool = True) -> VaultFacts:
    """A vault with purge protection and soft delete on, in RBAC mode unless ``rbac`` is False."""
    return VaultFacts(name, "rg", f"/vaults/{name}", rbac, purge_protection=True, soft_delete=True, tenant_id=tenant_id)
