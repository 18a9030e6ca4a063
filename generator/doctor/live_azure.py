"""Live Azure gates, read-only through ARM with the user's credential: the identity, its federated
credentials, the vault's permission model, the role assignment that grants decrypt on the key, the key.

Each check takes the facts an :class:`~generator.doctor.readers.AzureReader` returns; the fixes are
``az`` commands built in :mod:`generator.az_hints`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from generator import az_hints
from generator.azure.facts import CredentialFacts, IdentityFacts, VaultFacts
from generator.config.model import Cluster, Config, Identity, KeyVaultKey
from generator.doctor.context import Context
from generator.doctor.declared import (
    DeclaredCredential,
    client_id_of,
    declared_credentials,
    decrypting_identities,
)
from generator.doctor.model import BROKEN, OK, SKIPPED, Finding, Gate, Skip, cluster_finding
from generator.doctor.readers import AzureReader, KeyFacts
from generator.doctor.static import applying, cluster_files

__all__ = ["AZURE_GATES", "DECRYPT_ACTION", "allows", "covers"]

DECRYPT_ACTION = "Microsoft.KeyVault/vaults/keys/decrypt/action"
CRYPTO_USER = "Key Vault Crypto User"


def _finding(
    gate: str, cluster: Cluster, subject: str, status: str, reason: str, fix: str = "", **detail: object
) -> Finding:
    return cluster_finding(gate, cluster.name, subject, status, reason, fix, **detail)


def _reader(ctx: Context) -> AzureReader:
    if ctx.azure is None:
        raise Skip(ctx.azure_skip or "no Azure reader")
    return ctx.azure


def _identities(ctx: Context) -> list[IdentityFacts]:
    reader = _reader(ctx)
    return ctx.read("identities", reader.identities)


def identity_facts(ctx: Context, ident: Identity) -> IdentityFacts | None:
    wanted = client_id_of(ident).lower()
    return next((i for i in _identities(ctx) if wanted and i.client_id.lower() == wanted), None)


def _need_identity(ctx: Context, ident: Identity) -> IdentityFacts:
    facts = identity_facts(ctx, ident)
    if facts is None:
        raise Skip(f"identity {ident.name or ident.client_id} not found (gate azure.identity)")
    return facts


def _identity_path(config: Config, cluster: Cluster, ident: Identity) -> str:
    index = config.clusters.index(cluster)
    if ident == cluster.identity:
        return f"clusters[{index}].identity.clientId"
    for j, ks in enumerate(cluster.kustomizations):
        if ks.tenant is not None and ks.tenant.identity == ident:
            return f"clusters[{index}].kustomizations[{j}].tenant.identity.clientId"
    return "clientId"


# -- azure.identity ----------------------------------------------------------------------------------------
def check_identity(ctx: Context) -> Iterator[Finding]:
    config = ctx.cfg()
    for cluster in ctx.clusters():
        if not cluster.sops.key_vault:
            yield _finding("azure.identity", cluster, "identities", SKIPPED, "age only: no Key Vault key")
            continue
        for purpose, ident in decrypting_identities(cluster):
            yield _identity_finding(ctx, config, cluster, purpose, ident)


def _identity_finding(ctx: Context, config: Config, cluster: Cluster, purpose: str, ident: Identity) -> Finding:
    label = f"{ident.name or ident.client_id} ({purpose})"
    reader = _reader(ctx)
    found = identity_facts(ctx, ident)
    if found is not None:
        note = f"; the config names it {ident.name}" if ident.name and ident.name.lower() != found.name.lower() else ""
        return _finding(
            "azure.identity",
            cluster,
            label,
            OK,
            f"{found.resource_group}/{found.name} has client ID {found.client_id}{note}",
            principal_id=found.principal_id,
            client_id=found.client_id,
        )
    path = _identity_path(config, cluster, ident)
    named = _named_identity(ctx, ident)
    if named is not None:
        return _wrong_client_id(cluster, label, ident, named, path)
    group = ident.resource_group or config.azure.resource_group or "<resource group>"
    missing = f"client ID {ident.client_id}" if ident.client_id else f"name {ident.name}"
    return _finding(
        "azure.identity",
        cluster,
        label,
        BROKEN,
        f"no managed identity with {missing} in subscription {reader.subscription_id}",
        f"{az_hints.identity_create(name=ident.name or '<name>', resource_group=group)}, then set {path} "
        "to its clientId in fluxforge.yaml and run fluxforge render",
    )


def _named_identity(ctx: Context, ident: Identity) -> IdentityFacts | None:
    """The subscription's identity with the config's name for ``ident`` (None: unnamed, or none has it)."""
    wanted = (ident.name or "").lower()
    return next((i for i in _identities(ctx) if wanted and i.name.lower() == wanted), None)


def _wrong_client_id(cluster: Cluster, label: str, ident: Identity, named: IdentityFacts, path: str) -> Finding:
    """The identity exists by name, but the config has no client ID for it, or another one."""
    if not ident.client_id:
        return _finding(
            "azure.identity",
            cluster,
            label,
            BROKEN,
            f"fluxforge.yaml has no clientId for it ({path}); identity {named.resource_group}/{named.name} "
            f"has client ID {named.client_id}",
            f"fluxforge azure apply (writes it into fluxforge.yaml), or set {path}: {named.client_id}; then "
            "fluxforge render",
            expected=named.client_id,
        )
    return _finding(
        "azure.identity",
        cluster,
        label,
        BROKEN,
        f"no identity has client ID {ident.client_id} (fluxforge.yaml {path}); identity "
        f"{named.resource_group}/{named.name} has client ID {named.client_id}",
        f"set {path}: {named.client_id} in fluxforge.yaml, then fluxforge render, commit and push "
        "(kustomize-controller then restarts with the new annotation)",
        expected=named.client_id,
    )


# -- azure.fic -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Miss:
    credential: CredentialFacts
    fields: tuple[str, ...]


def _differences(want: DeclaredCredential, have: CredentialFacts) -> tuple[str, ...]:
    found = []
    if have.issuer != want.issuer:
        slash = have.issuer.rstrip("/") == want.issuer.rstrip("/")
        found.append(
            f"issuer {have.issuer!r}" + (" (the trailing '/' differs)" if slash else "") + f", needs {want.issuer!r}"
        )
    if have.subject != want.subject:
        found.append(f"subject {have.subject!r}, needs {want.subject!r}")
    if tuple(have.audiences) != (az_hints.WI_AUDIENCE,):
        found.append(f"audiences {list(have.audiences)!r}, needs [{az_hints.WI_AUDIENCE!r}]")
    return tuple(found)


def _nearest(want: DeclaredCredential, creds: list[CredentialFacts]) -> _Miss | None:
    if not creds:
        return None

    def score(c: CredentialFacts) -> tuple[int, int, int]:
        return (c.subject == want.subject, c.issuer.rstrip("/") == want.issuer.rstrip("/"), c.name == want.name)

    best = max(creds, key=score)
    return _Miss(best, _differences(want, best))


def check_fic(ctx: Context) -> Iterator[Finding]:
    config = ctx.cfg()
    reader = _reader(ctx)
    for cluster in ctx.clusters():
        if not cluster.sops.key_vault:
            continue
        wanted = declared_credentials(config, cluster)
        for want in wanted:
            subject = f"{want.identity.name or want.identity.client_id} trusts {want.namespace}/{want.service_account}"
            facts = identity_facts(ctx, want.identity)
            if facts is None:
                yield _finding(
                    "azure.fic",
                    cluster,
                    subject,
                    SKIPPED,
                    f"identity {want.identity.name or want.identity.client_id} not found (gate azure.identity)",
                )
                continue
            creds = ctx.read(("fics", facts.id), lambda f=facts: reader.federated_credentials(f))  # type: ignore[misc]
            yield _fic_finding(cluster, subject, want, facts, creds, wanted)


def _fic_finding(
    cluster: Cluster,
    subject: str,
    want: DeclaredCredential,
    facts: IdentityFacts,
    creds: list[CredentialFacts],
    wanted: list[DeclaredCredential],
) -> Finding:
    exact = next((c for c in creds if not _differences(want, c)), None)
    if exact is not None:
        return _finding(
            "azure.fic", cluster, subject, OK, f"credential {exact.name}: issuer, subject and audience match"
        )
    miss = _nearest(want, creds)
    head = (
        f"no federated credential on {facts.name} matches issuer {want.issuer!r}, subject {want.subject!r}, "
        f"audience {az_hints.WI_AUDIENCE!r}"
    )
    create = az_hints.federated_credential_create(
        name=want.name,
        identity_name=facts.name,
        resource_group=facts.resource_group,
        issuer=want.issuer,
        subject=want.subject,
    )
    if miss is None:
        return _finding(
            "azure.fic", cluster, subject, BROKEN, f"{head}; the identity has no federated credential", create
        )
    used_elsewhere = any(not _differences(other, miss.credential) for other in wanted if other != want)
    fix = (
        create
        if used_elsewhere
        else az_hints.federated_credential_update(
            name=miss.credential.name,
            identity_name=facts.name,
            resource_group=facts.resource_group,
            issuer=want.issuer,
            subject=want.subject,
        )
    )
    return _finding(
        "azure.fic",
        cluster,
        subject,
        BROKEN,
        f"{head}; nearest: {miss.credential.name}: {'; '.join(miss.fields)}",
        fix,
        nearest=miss.credential.name,
        differs=list(miss.fields),
    )


# -- azure.vault ---------------------------------------------------------------------------------------------
def vault_name(key: KeyVaultKey) -> str:
    return (urlsplit(key.vault_url).hostname or "").split(".", 1)[0]


def _vault(ctx: Context, key: KeyVaultKey) -> VaultFacts | None:
    reader = _reader(ctx)
    name = vault_name(key)
    return ctx.read(("vault", name), lambda: reader.vault(name))


def _need_vault(ctx: Context, key: KeyVaultKey) -> VaultFacts:
    vault = _vault(ctx, key)
    if vault is None:
        raise Skip(f"vault {vault_name(key)} not found (gate azure.vault)")
    return vault


def _keys(cluster: Cluster) -> list[KeyVaultKey]:
    """The Key Vault keys some identity of ``cluster`` decrypts with (tenants' own keys included)."""
    from generator.flux.tenancy import cluster_keys

    return list({(k.vault_url, k.key): k for k in cluster_keys(cluster).key_vault}.values())


def _holders(ctx: Context, cluster: Cluster, key: KeyVaultKey) -> list[Identity]:
    """The identities of ``cluster`` granted decrypt on ``key`` (a tenant with keys of its own: on those only)."""
    from generator.flux.tenancy import decrypt_grants, identity_key

    found = {
        identity_key(g.decryptor.identity): g.decryptor.identity
        for g in decrypt_grants(ctx.cfg())
        if g.decryptor.cluster.name == cluster.name and (g.key.vault_url, g.key.key) == (key.vault_url, key.key)
    }
    return list(found.values())


def _one_key_per_vault(keys: list[KeyVaultKey]) -> list[KeyVaultKey]:
    """The permission model is the vault's: one finding per vault, however many of its keys are used."""
    return list({vault_name(key): key for key in reversed(keys)}.values())[::-1]


def check_vault(ctx: Context) -> Iterator[Finding]:
    reader = _reader(ctx)
    for cluster in ctx.clusters():
        for key in _one_key_per_vault(_keys(cluster)):
            vault = _vault(ctx, key)
            name = vault_name(key)
            if vault is None:
                yield _finding(
                    "azure.vault",
                    cluster,
                    name,
                    BROKEN,
                    f"no Key Vault {name} in subscription {reader.subscription_id}",
                    "correct sops.keyVault[].vault in fluxforge.yaml, or create the vault (fluxforge azure "
                    "apply, or the Bicep of fluxforge azure bicep)",
                )
                continue
            if vault.rbac:
                yield _finding(
                    "azure.vault",
                    cluster,
                    name,
                    OK,
                    f"{vault.resource_group}/{vault.name}: Azure RBAC permission model",
                )
                continue
            yield _policy_finding(ctx, cluster, vault)


def _policy_finding(ctx: Context, cluster: Cluster, vault: VaultFacts) -> Finding:
    missing = []
    for _, ident in decrypting_identities(cluster):
        facts = identity_facts(ctx, ident)
        if facts is None:
            continue
        perms = {
            p.lower() for pol in vault.policies if pol.object_id == facts.principal_id for p in pol.key_permissions
        }
        if not perms & {"decrypt", "all"}:
            missing.append(facts)
    if not missing:
        return _finding(
            "azure.vault", cluster, vault.name, OK, "access policies: every decrypting identity may decrypt"
        )
    fixes = " && ".join(az_hints.keyvault_set_policy_decrypt(vault.name, f.principal_id) for f in missing)
    return _finding(
        "azure.vault",
        cluster,
        vault.name,
        BROKEN,
        f"access-policy vault: no policy lets {', '.join(f.name for f in missing)} decrypt keys",
        f"{fixes} (or switch the vault to Azure RBAC: {az_hints.keyvault_enable_rbac(vault.name)}, "
        f"then grant {CRYPTO_USER} on the key)",
    )


# -- azure.role ----------------------------------------------------------------------------------------------
def covers(scope: str, resource: str) -> bool:
    """An assignment at ``scope`` applies to ``resource`` (the scope itself or a parent of it)."""
    outer = [p for p in scope.lower().split("/") if p]
    inner = [p for p in resource.lower().split("/") if p]
    return inner[: len(outer)] == outer


def _wild(pattern: str, action: str) -> bool:
    """Azure's action wildcards: ``*`` matches any run of characters, case-insensitively."""
    parts = pattern.lower().split("*")
    text = action.lower()
    if len(parts) == 1:
        return text == parts[0]
    pos, end = len(parts[0]), len(text) - len(parts[-1])
    if not text.startswith(parts[0]) or not text.endswith(parts[-1]) or end < pos:
        return False
    for part in parts[1:-1]:
        found = text.find(part, pos, end)
        if found < 0:
            return False
        pos = found + len(part)
    return True


def allows(data_actions: tuple[str, ...], not_data_actions: tuple[str, ...], action: str = DECRYPT_ACTION) -> bool:
    return any(_wild(a, action) for a in data_actions) and not any(_wild(a, action) for a in not_data_actions)


def check_role(ctx: Context) -> Iterator[Finding]:
    for cluster in ctx.clusters():
        for key in _keys(cluster):
            try:
                vault = _need_vault(ctx, key)
            except Skip as skip:
                yield _finding("azure.role", cluster, f"{vault_name(key)}/{key.key}", SKIPPED, skip.reason)
                continue
            for ident in _holders(ctx, cluster, key):
                yield _role_finding(ctx, cluster, vault, key, ident)


def _role_finding(ctx: Context, cluster: Cluster, vault: VaultFacts, key: KeyVaultKey, ident: Identity) -> Finding:
    subject = f"{ident.name or ident.client_id} on {vault.name}/{key.key}"
    if not vault.rbac:
        return _finding(
            "azure.role", cluster, subject, SKIPPED, "access-policy vault: policies decide (gate azure.vault)"
        )
    try:
        facts = _need_identity(ctx, ident)
    except Skip as skip:
        return _finding("azure.role", cluster, subject, SKIPPED, skip.reason)
    reader = _reader(ctx)
    scope = f"{vault.id}/keys/{key.key}"
    assignments = ctx.read(("assignments", facts.principal_id), lambda: reader.role_assignments(facts.principal_id))
    elsewhere = []
    for assignment in assignments:
        role = ctx.read(
            ("role", assignment.role_definition_id.lower()),
            lambda a=assignment: reader.role_definition(a.role_definition_id),  # type: ignore[misc]
        )
        if role is None or not allows(role.data_actions, role.not_data_actions):
            continue
        if covers(assignment.scope, scope):
            return _finding(
                "azure.role",
                cluster,
                subject,
                OK,
                f"{role.name} at {assignment.scope}",
                role=role.name,
                scope=assignment.scope,
            )
        elsewhere.append(f"{role.name} at {assignment.scope}")
    where = (
        f"its decrypt role is assigned elsewhere ({'; '.join(elsewhere)}), which does not cover {scope}"
        if elsewhere
        else "it has no role with keys/decrypt/action at the key, the vault or above"
    )
    return _finding(
        "azure.role",
        cluster,
        subject,
        BROKEN,
        f"{facts.name} may not decrypt with {vault.name}/{key.key}: {where}",
        az_hints.role_assignment_create(CRYPTO_USER, facts.principal_id, scope),
        elsewhere=elsewhere,
    )


# -- azure.key -----------------------------------------------------------------------------------------------
def _versions(ctx: Context, cluster: Cluster, key: KeyVaultKey) -> list[str]:
    """The key versions this cluster needs: the pinned one, and each one its encrypted files name."""
    found = [key.version] if key.version else []
    for file in cluster_files(ctx):
        if any(a.cluster.name == cluster.name for a in applying(ctx, file.path)):
            found += [
                e.version for e in file.azure_kv if e.vault_url == key.vault_url and e.name == key.key and e.version
            ]
    return list(dict.fromkeys(found)) or [""]


def check_key(ctx: Context) -> Iterator[Finding]:
    reader = _reader(ctx)
    for cluster in ctx.clusters():
        for key in _keys(cluster):
            try:
                vault = _need_vault(ctx, key)
            except Skip as skip:
                yield _finding("azure.key", cluster, f"{vault_name(key)}/{key.key}", SKIPPED, skip.reason)
                continue
            for version in _versions(ctx, cluster, key):
                facts = ctx.read(
                    ("key", vault.id, key.key, version),
                    lambda v=version, f=vault, k=key: reader.key(f, k.key, v or None),  # type: ignore[misc]
                )
                yield _key_finding(cluster, vault, key, version, facts)


def _key_problems(vault: VaultFacts, key: KeyVaultKey, facts: KeyFacts) -> list[tuple[str, str]]:
    now = int(time.time())
    ops = {o.lower() for o in facts.key_ops}
    attrs = az_hints.keyvault_key_set_attributes
    problems = []
    if not facts.enabled:
        problems.append(
            (
                f"version {facts.version} is disabled: Key Vault refuses to decrypt with it",
                attrs(vault.name, key.key, facts.version, "--enabled true"),
            )
        )
    if facts.expires is not None and facts.expires <= now:
        problems.append(
            (
                f"version {facts.version} expired at {_when(facts.expires)}: encrypting new files fails",
                attrs(vault.name, key.key, facts.version, "--expires <a later date, e.g. 2030-01-01T00:00:00Z>"),
            )
        )
    if facts.not_before is not None and facts.not_before > now:
        problems.append(
            (
                f"version {facts.version} is not valid before {_when(facts.not_before)}",
                attrs(vault.name, key.key, facts.version, "--not-before <now or earlier>"),
            )
        )
    if ops and "decrypt" not in ops:
        problems.append(
            (
                f"its key_ops ({', '.join(sorted(ops))}) do not allow decrypt",
                attrs(vault.name, key.key, facts.version, "--ops encrypt decrypt"),
            )
        )
    if facts.kty.upper() not in ("RSA", "RSA-HSM"):
        problems.append(
            (
                f"key type {facts.kty} cannot do RSA-OAEP-256 (sops needs an RSA key)",
                az_hints.keyvault_key_create(vault.name, key.key),
            )
        )
    return problems


def _when(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _key_finding(
    cluster: Cluster, vault: VaultFacts, key: KeyVaultKey, version: str, facts: KeyFacts | None
) -> Finding:
    subject = f"{vault.name}/{key.key}" + (f"/{version}" if version else "")
    if facts is None:
        what = f"version {version} of key {key.key}" if version else f"key {key.key}"
        fix = (
            (
                f"re-encrypt the files that name it with a current version (fluxforge updatekeys FILES), after "
                f"{az_hints.keyvault_key_list_versions(vault.name, key.key)}"
            )
            if version
            else (az_hints.keyvault_key_create(vault.name, key.key))
        )
        return _finding("azure.key", cluster, subject, BROKEN, f"{what} does not exist in vault {vault.name}", fix)
    problems = _key_problems(vault, key, facts)
    if problems:
        return _finding(
            "azure.key",
            cluster,
            subject,
            BROKEN,
            "; ".join(p for p, _ in problems),
            " && ".join(f for _, f in problems),
        )
    return _finding(
        "azure.key",
        cluster,
        subject,
        OK,
        f"version {facts.version}: enabled, {facts.kty}, "
        + ("no expiry" if facts.expires is None else f"expires {_when(facts.expires)}"),
    )


AZURE_GATES: tuple[Gate, ...] = (
    Gate("azure.identity", "azure", "managed identity exists with the configured client ID", check_identity),
    Gate("azure.fic", "azure", "federated credential: exact issuer, subject and audience", check_fic),
    Gate("azure.vault", "azure", "vault permission model (RBAC, or an access policy for the identity)", check_vault),
    Gate("azure.role", "azure", "role assignment with decrypt on the key (or a parent scope)", check_role),
    Gate("azure.key", "azure", "key version exists, enabled, not expired, allows decrypt", check_key),
)
