"""The Azure side a config implies, as data: the one function every Azure feature calls.

:func:`desired_state` turns a validated :class:`~generator.config.model.Config` into the managed
identities (new or existing), one federated credential per (identity, cluster issuer, subject) — the
kustomize-controller ServiceAccount, the default decryption ServiceAccounts, every tenant ServiceAccount —,
the Key Vaults and their RSA keys (new or existing), and the role assignments (Key Vault Crypto User for
each decrypting identity on each of its own keys, scoped to the key: a tenant with ``tenant.sops`` on those
only; the least role that encrypts for ``azure.encryptors``), AcrPull on the registries of each cluster's
``sourceIdentity``, the access of every workload to the Key Vault objects it mounts (Key Vault
Secrets User on each secret, Key Vault Reader on each key, Key Vault Reader on the vault for certificates:
ARM has no certificate scope), the AKS Flux extension and its Flux configuration per cluster (``flux.install:
extension``), plus the AKS clusters to check. It also checks Azure's limits and rules before anything is
sent (at most 20 credentials per identity, valid and unique credential names, one issuer+subject pair per
identity, role names resolved to their GUIDs).

Pure: no I/O. Names that ARM needs as GUIDs (role assignments, the custom role) are computed as Bicep's
``guid()`` computes them (a version-5 UUID over the arguments joined with ``-``), so Bicep and
``fluxforge azure apply`` name the same assignment the same way.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Final

from generator.az_hints import WI_AUDIENCE
from generator.config.model import Cluster, Config, Encryptor, Identity, KeyPath, KeyVaultKey, Workload
from generator.config.problems import ConfigProblem, dotted
from generator.errors import ConfigError
from generator.flux.federation import federated_credentials
from generator.flux.tenancy import decrypt_grants, decryptors
from generator.render.workloads import object_role

__all__ = [
    "ACR_PULL",
    "CRYPTO_USER",
    "KEY_READER",
    "MAX_CREDENTIALS",
    "SECRETS_USER",
    "DesiredAccess",
    "DesiredAks",
    "DesiredAssignment",
    "DesiredCredential",
    "DesiredExtension",
    "DesiredIdentity",
    "DesiredKey",
    "DesiredRegistryAssignment",
    "DesiredState",
    "DesiredStateError",
    "DesiredVaultObject",
    "Role",
    "arm_guid",
    "desired_state",
    "encryptor_role",
    "resolve_role",
]

MAX_CREDENTIALS: Final = 20
"""Federated identity credentials per user-assigned identity (Microsoft Entra workload identity limits)."""
CREDENTIAL_NAME: Final = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,119}$")
"""Microsoft.ManagedIdentity federatedIdentityCredentials name pattern (3-120 characters)."""
_BICEP_GUID_NAMESPACE: Final = uuid.UUID("11fb06fb-712d-4ddd-98c7-e71bbd588830")

BUILTIN_ROLES: Final = {
    # learn.microsoft.com, "Azure built-in roles" (Security): the GUIDs are the same in every tenant
    "Key Vault Crypto User": "12338af0-0e69-4776-bea7-57ae8d297424",
    "Key Vault Reader": "21090545-7ca7-4776-b22c-e363652d74d2",
    # learn.microsoft.com, "Azure built-in roles" (Containers): Microsoft.ContainerRegistry/registries/pull/read
    "AcrPull": "7f951dda-4ed3-4680-a7ca-43fe172d538d",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
}
KEYS_READ: Final = "Microsoft.KeyVault/vaults/keys/read"
KEYS_ENCRYPT: Final = "Microsoft.KeyVault/vaults/keys/encrypt/action"


class DesiredStateError(ConfigError):
    """The config lacks what the Azure side needs, or breaks Azure's rules; ``found`` keeps the key paths
    (the command layer adds line numbers)."""

    def __init__(self, found: list[ConfigProblem], display: str) -> None:
        super().__init__([f"{display}: {dotted(p.path)}: {p.message}" for p in found])
        self.found = found


def arm_guid(*parts: str) -> str:
    """What Bicep's / ARM's ``guid(a, b, ...)`` returns: UUIDv5 of ``a-b-...`` in ARM's namespace."""
    return str(uuid.uuid5(_BICEP_GUID_NAMESPACE, "-".join(parts)))


@dataclass(frozen=True)
class Role:
    """A role definition: a built-in one (``guid`` known) or fluxforge's custom encryptor role, whose GUID
    is derived from the subscription and resource group it is defined in (``custom_group``)."""

    name: str
    guid: str | None = None
    custom_group: str | None = None
    data_actions: tuple[str, ...] = ()

    def resolved(self, subscription_id: str) -> str:
        if self.guid is not None:
            return self.guid
        assert self.custom_group is not None
        return arm_guid(f"/subscriptions/{subscription_id}", self.custom_group, "fluxforge-sops-encryptor")


def resolve_role(name: str) -> Role:
    """A built-in role by its name, with its GUID; ConfigError for a name fluxforge does not know."""
    guid = BUILTIN_ROLES.get(name)
    if guid is None:
        raise ConfigError(f"role {name!r}: unknown built-in role; known: {', '.join(sorted(BUILTIN_ROLES))}")
    return Role(name, guid)


CRYPTO_USER: Final = resolve_role("Key Vault Crypto User")
"""Decrypting identities (kustomize-controller, tenants): decrypt (and the rest of the key's crypto)."""
KEY_READER: Final = resolve_role("Key Vault Reader")
"""Encryptors using fluxforge: it wraps locally with the public key, which ``keys/read`` returns. Also workloads
that mount a key or a certificate (the CSI driver's GetKey / GetCertificate only read)."""
SECRETS_USER: Final = resolve_role("Key Vault Secrets User")
"""Workloads that mount a secret: secrets/getSecret + readMetadata, nothing else."""
ACR_PULL: Final = resolve_role("AcrPull")
"""A cluster's ``sourceIdentity`` on each of its registries (source-controller pulls OCI artifacts and charts)."""


def encryptor_role(resource_group: str) -> Role:
    """Encryptors that also run the Go sops (remote Encrypt): keys/read + keys/encrypt/action, no decrypt."""
    return Role(f"fluxforge SOPS encryptor ({resource_group})", None, resource_group, (KEYS_READ, KEYS_ENCRYPT))


@dataclass(frozen=True)
class DesiredIdentity:
    name: str
    resource_group: str
    existing: bool
    client_id: str | None
    where: KeyPath
    purposes: tuple[str, ...]
    """What it is for, e.g. ``cluster staging: flux-system/kustomize-controller``."""
    paths: tuple[KeyPath, ...] = ()
    """Every place the config declares it (``where`` first): apply writes the client ID into each."""

    @property
    def key(self) -> tuple[str, str]:
        return self.resource_group.lower(), self.name.lower()

    def resource_id(self, subscription_id: str) -> str:
        return (
            f"/subscriptions/{subscription_id}/resourceGroups/{self.resource_group}/providers/"
            f"Microsoft.ManagedIdentity/userAssignedIdentities/{self.name}"
        )


@dataclass(frozen=True)
class DesiredCredential:
    identity: DesiredIdentity
    name: str
    issuer: str
    subject: str
    cluster: str
    audience: str = WI_AUDIENCE


@dataclass(frozen=True)
class DesiredKey:
    vault: str
    key: str
    resource_group: str
    existing: bool
    where: KeyPath

    def vault_id(self, subscription_id: str) -> str:
        return (
            f"/subscriptions/{subscription_id}/resourceGroups/{self.resource_group}/providers/"
            f"Microsoft.KeyVault/vaults/{self.vault}"
        )

    def key_id(self, subscription_id: str) -> str:
        return f"{self.vault_id(subscription_id)}/keys/{self.key}"

    @property
    def label(self) -> str:
        return f"{self.vault}/{self.key}"


@dataclass(frozen=True)
class DesiredAssignment:
    """A role on one key for a managed identity (``identity``) or an encryptor (``object_id``)."""

    key: DesiredKey
    role: Role
    description: str
    identity: DesiredIdentity | None = None
    encryptor: Encryptor | None = None

    @property
    def principal_label(self) -> str:
        if self.identity is not None:
            return f"identity {self.identity.name}"
        assert self.encryptor is not None
        who = f" ({self.encryptor.description})" if self.encryptor.description else ""
        return f"{(self.encryptor.principal_type or 'principal').lower()} {self.encryptor.object_id}{who}"

    @property
    def principal_key(self) -> str:
        """The principal's part of the assignment name: the identity's group/name (its object ID is only
        known once it exists), or the encryptor's object ID."""
        if self.identity is not None:
            return f"identity:{self.identity.resource_group}/{self.identity.name}"
        assert self.encryptor is not None
        return self.encryptor.object_id

    def name(self, subscription_id: str) -> str:
        """The assignment's GUID, as the Bicep computes it (``guid(subscription().subscriptionId, ...)``)."""
        return arm_guid(
            subscription_id,
            self.key.resource_group,
            self.key.vault,
            self.key.key,
            self.principal_key,
            self.role.resolved(subscription_id),
        )


@dataclass(frozen=True)
class DesiredRegistryAssignment:
    """AcrPull on an existing container registry for a managed identity (a cluster's ``sourceIdentity``)."""

    registry: str
    resource_group: str
    identity: DesiredIdentity
    description: str
    where: KeyPath
    role: Role = ACR_PULL

    @property
    def principal_key(self) -> str:
        return f"identity:{self.identity.resource_group}/{self.identity.name}"

    def registry_id(self, subscription_id: str) -> str:
        return (
            f"/subscriptions/{subscription_id}/resourceGroups/{self.resource_group}/providers/"
            f"Microsoft.ContainerRegistry/registries/{self.registry}"
        )

    def name(self, subscription_id: str) -> str:
        """The assignment's GUID, as the Bicep computes it."""
        return arm_guid(
            subscription_id, self.resource_group, self.registry, self.principal_key, self.role.resolved(subscription_id)
        )


@dataclass(frozen=True)
class DesiredVaultObject:
    """What a workload's role is scoped to: one secret or key of a vault, or the vault itself (certificates)."""

    vault: str
    resource_group: str
    kind: str
    """``secrets``, ``keys`` or ``vault``."""
    name: str
    """The object's name (the vault's for ``vault``)."""
    managed: bool
    """The vault is one of the SOPS vaults fluxforge creates (bicep/apply); otherwise it must exist."""
    where: KeyPath

    @property
    def key(self) -> tuple[str, str, str]:
        return self.vault.lower(), self.kind, self.name.lower()

    def vault_id(self, subscription_id: str) -> str:
        return (
            f"/subscriptions/{subscription_id}/resourceGroups/{self.resource_group}/providers/"
            f"Microsoft.KeyVault/vaults/{self.vault}"
        )

    def scope_id(self, subscription_id: str) -> str:
        base = self.vault_id(subscription_id)
        return base if self.kind == "vault" else f"{base}/{self.kind}/{self.name}"

    @property
    def label(self) -> str:
        return f"vault {self.vault}" if self.kind == "vault" else f"{self.kind[:-1]} {self.vault}/{self.name}"


@dataclass(frozen=True)
class DesiredAccess:
    """A workload identity's role on one Key Vault object (or on the vault, for certificates)."""

    target: DesiredVaultObject
    role: Role
    identity: DesiredIdentity
    description: str

    @property
    def principal_key(self) -> str:
        return f"identity:{self.identity.resource_group}/{self.identity.name}"

    def name(self, subscription_id: str) -> str:
        """The assignment's GUID, as the Bicep computes it."""
        return arm_guid(
            subscription_id,
            self.target.resource_group,
            self.target.vault,
            self.target.kind,
            self.target.name,
            self.principal_key,
            self.role.resolved(subscription_id),
        )


@dataclass(frozen=True)
class DesiredAks:
    cluster: str
    name: str
    resource_group: str
    issuer: str


@dataclass(frozen=True)
class DesiredExtension:
    """``flux.install: extension``: the AKS Flux extension on one cluster and its Flux configuration (the Git
    source and the Kustomization applying the cluster folder)."""

    cluster: str
    aks_name: str
    aks_group: str
    identity: DesiredIdentity
    """Its client ID is the extension's ``workloadIdentity.azureClientId`` (every controller it federates)."""
    namespace: str
    configuration: str
    """The fluxConfigurations name, which is also the name of the GitRepository it creates."""
    git_url: str
    branch: str
    git_interval: int
    """Seconds."""
    path: str
    interval: int
    settings: tuple[tuple[str, str], ...]
    """``configurationSettings`` besides the workload identity ones (components on/off)."""
    local_auth: str | None
    """``gitRepository.localAuthRef``: the Secret in the cluster holding the SSH key (ssh:// URLs)."""


@dataclass(frozen=True)
class DesiredState:
    tenant_id: str
    subscription_id: str | None
    location: str | None
    identities: tuple[DesiredIdentity, ...]
    credentials: tuple[DesiredCredential, ...]
    keys: tuple[DesiredKey, ...]
    assignments: tuple[DesiredAssignment, ...]
    custom_roles: tuple[Role, ...]
    clusters: tuple[DesiredAks, ...]
    default_group: str | None = None
    notes: tuple[str, ...] = field(default=())
    registry_assignments: tuple[DesiredRegistryAssignment, ...] = ()
    extensions: tuple[DesiredExtension, ...] = ()
    access: tuple[DesiredAccess, ...] = ()
    """Workloads' roles on the Key Vault objects they mount."""

    @property
    def vault_objects(self) -> tuple[DesiredVaultObject, ...]:
        """Every object (or vault) a workload's role is scoped to, once, in first-use order."""
        return tuple({a.target.key: a.target for a in self.access}.values())

    @property
    def deploy_group(self) -> str:
        """Where ``main.bicep`` is deployed: ``azure.resourceGroup``, else the first group used."""
        return self.default_group or (self.resource_groups[0] if self.resource_groups else "RG")

    @property
    def resource_groups(self) -> tuple[str, ...]:
        """Every resource group the state touches, in first-use order (case kept from the config)."""
        groups = [i.resource_group for i in self.identities] + [k.resource_group for k in self.keys]
        groups += (
            [a.target.resource_group for a in self.access]
            + [c.resource_group for c in self.clusters]
            + [r.resource_group for r in self.registry_assignments]
        )
        seen: dict[str, str] = {}
        for group in groups:
            seen.setdefault(group.lower(), group)
        return tuple(seen.values())


# -- building ------------------------------------------------------------------------------------------
class _Builder:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.problems: list[tuple[KeyPath, str]] = []
        self.identities: dict[tuple[str, str], DesiredIdentity] = {}
        self.keys: dict[tuple[str, str], DesiredKey] = {}

    def problem(self, where: KeyPath, message: str) -> None:
        if (where, message) not in self.problems:
            self.problems.append((where, message))

    def group(self, explicit: str | None, where: KeyPath) -> str | None:
        if explicit is None:
            self.problem(
                (*where, "resourceGroup"),
                "missing: set it here or azure.resourceGroup (the default for every Azure resource)",
            )
        return explicit

    def identity(self, ident: Identity, purpose: str | None) -> DesiredIdentity | None:
        if not ident.name:
            hint = (
                f"az identity list --query \"[?clientId=='{ident.client_id}'].name\" -o tsv"
                if ident.client_id
                else "choose one"
            )
            self.problem(
                (*ident.where, "name"), f"missing: fluxforge azure finds and creates identities by name ({hint})"
            )
            return None
        group = self.group(ident.resource_group, ident.where)
        if group is None:
            return None
        purposes = (purpose,) if purpose else ()
        found = DesiredIdentity(
            ident.name, group, ident.existing, ident.client_id, ident.where, purposes, (ident.where,)
        )
        key = found.key
        if key in self.identities:
            old = self.identities[key]
            found = DesiredIdentity(
                old.name,
                old.resource_group,
                old.existing,
                old.client_id or ident.client_id,
                old.where,
                tuple(dict.fromkeys((*old.purposes, *purposes))),
                tuple(dict.fromkeys((*old.paths, ident.where))),
            )
        self.identities[key] = found
        return found

    def key(self, key: KeyVaultKey) -> DesiredKey | None:
        group = self.group(key.resource_group, key.where)
        if group is None:
            return None
        found = DesiredKey(key.vault_name, key.key, group, key.existing, key.where)
        self.keys.setdefault((found.vault.lower(), found.key.lower()), found)
        return self.keys[(found.vault.lower(), found.key.lower())]


def _credentials(builder: _Builder, cluster: Cluster) -> list[DesiredCredential]:
    found = []
    for cred in federated_credentials(builder.config, cluster):
        purpose = f"cluster {cluster.name}: {cred.namespace}/{cred.service_account}"
        ident = builder.identity(cred.identity, purpose)
        if ident is not None:
            found.append(DesiredCredential(ident, cred.name, cred.issuer, cred.subject, cluster.name))
    return found


def _deduplicated(credentials: Iterable[DesiredCredential]) -> list[DesiredCredential]:
    """One credential per (identity, issuer, subject): two config clusters on one AKS issuer share it.
    A name taken on the same identity by another issuer+subject gets a numbered suffix."""
    by_pair: dict[tuple[tuple[str, str], str, str], DesiredCredential] = {}
    names: dict[tuple[tuple[str, str], str], int] = {}
    out = []
    for cred in credentials:
        pair = (cred.identity.key, cred.issuer, cred.subject)
        if pair in by_pair:
            continue
        name = cred.name
        while (cred.identity.key, name.lower()) in names:
            names[(cred.identity.key, cred.name.lower())] += 1
            name = f"{cred.name[:116]}-{names[(cred.identity.key, cred.name.lower())]}"
        names.setdefault((cred.identity.key, name.lower()), 1)
        cred = DesiredCredential(cred.identity, name, cred.issuer, cred.subject, cred.cluster, cred.audience)
        by_pair[pair] = cred
        out.append(cred)
    return out


def credential_problems(credentials: Iterable[DesiredCredential]) -> list[tuple[KeyPath, str]]:
    """Azure's rules, checked before anything is sent: at most 20 credentials per identity, valid names,
    a name once per identity, an issuer+subject pair once per identity (Azure answers 409 otherwise)."""
    per_identity: dict[tuple[str, str], list[DesiredCredential]] = {}
    for cred in credentials:
        per_identity.setdefault(cred.identity.key, []).append(cred)
    return [
        (creds[0].identity.where, message)
        for creds in per_identity.values()
        for message in _identity_credential_problems(creds)
    ]


def _identity_credential_problems(creds: list[DesiredCredential]) -> Iterator[str]:
    ident = creds[0].identity
    if len(creds) > MAX_CREDENTIALS:
        yield (
            f"identity {ident.name} needs {len(creds)} federated credentials; Azure allows at most "
            f"{MAX_CREDENTIALS} per identity: give some tenants or clusters their own identity"
        )
    names: set[str] = set()
    pairs: set[tuple[str, str]] = set()
    for cred in creds:
        if not CREDENTIAL_NAME.match(cred.name):
            yield (
                f"federated credential name {cred.name!r} is invalid: 3-120 letters, digits, '-' or '_', "
                "starting with a letter or digit"
            )
        if cred.name.lower() in names:
            yield f"federated credential name {cred.name!r} is used twice on identity {ident.name}"
        if (cred.issuer, cred.subject) in pairs:
            yield (
                f"issuer {cred.issuer} and subject {cred.subject} twice on identity {ident.name} "
                "(Azure answers 409 Conflict)"
            )
        names.add(cred.name.lower())
        pairs.add((cred.issuer, cred.subject))


def _assignments(builder: _Builder) -> list[DesiredAssignment]:
    """Key Vault Crypto User for each decryptor's identity on each of its own keys, scoped to the key
    (:func:`generator.flux.tenancy.decrypt_grants`: a tenant with its own keys gets those only)."""
    found = []
    for grant in decrypt_grants(builder.config):
        key = builder.key(grant.key)
        ident = builder.identity(grant.decryptor.identity, None)
        if key is not None and ident is not None:
            what = grant.decryptor.label
            found.append(
                DesiredAssignment(
                    key, CRYPTO_USER, f"fluxforge: {ident.name} decrypts SOPS files of {what}", identity=ident
                )
            )
    return found


def _encryptor_assignments(builder: _Builder, config: Config) -> tuple[list[DesiredAssignment], list[Role]]:
    roles: dict[str, Role] = {}
    found = []
    what = "encrypts (fluxforge and sops)" if config.azure.encryptors_run_sops else "encrypts with fluxforge"
    for key in _every_key(builder, config):
        role = KEY_READER
        if config.azure.encryptors_run_sops:
            role = roles.setdefault(key.resource_group.lower(), encryptor_role(key.resource_group))
        found += [
            DesiredAssignment(key, role, f"fluxforge: {e.object_id}{_described(e)} {what}; never decrypts", encryptor=e)
            for e in config.azure.encryptors
        ]
    return found, list(roles.values()) if config.azure.encryptors else []


def _described(encryptor: Encryptor) -> str:
    return f" ({encryptor.description})" if encryptor.description else ""


def _every_key(builder: _Builder, config: Config) -> list[DesiredKey]:
    """Every Key Vault key the config names (top level, per cluster, per decryptor), once, in config order."""
    keys = [builder.key(k) for k in config.sops.key_vault]
    keys += [builder.key(k) for c in config.clusters for k in c.sops.key_vault]
    keys += [builder.key(k) for d in decryptors(config) for k in d.recipients.key_vault]
    return list({(k.vault.lower(), k.key.lower()): k for k in keys if k is not None}.values())


def _registry_assignments(builder: _Builder, cluster: Cluster) -> list[DesiredRegistryAssignment]:
    source = cluster.source_identity
    if source is None or not source.registries:
        return []
    ident = builder.identity(source.identity, None)
    found = []
    for registry in source.registries:
        group = builder.group(registry.resource_group, registry.where)
        if ident is not None and group is not None:
            found.append(
                DesiredRegistryAssignment(
                    registry.name,
                    group,
                    ident,
                    f"fluxforge: {ident.name} pulls from {registry.name} for Flux of cluster {cluster.name}",
                    registry.where,
                )
            )
    return found


_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
_DEFAULT_ON = ("source-controller", "kustomize-controller", "helm-controller", "notification-controller")
_DEFAULT_OFF = ("image-reflector-controller", "image-automation-controller")


def _seconds(duration: str) -> int:
    """A Flux duration in whole seconds (fluxConfigurations counts in seconds), at least 1."""
    return max(1, round(sum(float(n) * _SECONDS[unit] for n, unit in _DURATION.findall(duration))))


def _extension_settings(config: Config) -> tuple[tuple[str, str], ...]:
    """The extension's ``<controller>.enabled`` settings that differ from its defaults (source, kustomize, helm
    and notification on; the image controllers off), from ``flux.components``."""
    components = config.flux.components
    off = [(f"{c}.enabled", "false") for c in _DEFAULT_ON if c not in components]
    on = [(f"{c}.enabled", "true") for c in _DEFAULT_OFF if c in components]
    return tuple(off + on)


def _extension(builder: _Builder, cluster: Cluster) -> DesiredExtension | None:
    config = builder.config
    if not config.flux.extension or cluster.aks is None:
        return None
    ident = builder.identity(cluster.identity, None)
    group = builder.group(cluster.aks.resource_group, ("clusters", cluster.index, "aks"))
    if ident is None or group is None:
        return None
    git = config.git
    return DesiredExtension(
        cluster.name,
        cluster.aks.name,
        group,
        ident,
        config.flux.namespace,
        config.sync_name,
        git.url,
        git.branch,
        _seconds(git.interval),
        f"./{cluster.path}",
        _seconds("10m"),
        _extension_settings(config),
        git.secret_ref if git.url.startswith("ssh://") else None,
    )


def _workload_access(builder: _Builder, cluster: Cluster, workload: Workload) -> list[DesiredAccess]:
    """The roles a workload's objects need, scoped as narrowly as ARM allows (see ``object_role``)."""
    ident = builder.identity(workload.identity, None)
    group = builder.group(workload.key_vault.resource_group, workload.key_vault.where)
    if ident is None or group is None:
        return []
    vault = workload.key_vault.name
    sops = next((k for k in builder.keys.values() if k.vault.lower() == vault), None)
    managed = sops is not None and not sops.existing
    found = []
    for obj in workload.objects:
        role_name, kind = object_role(obj)
        target = DesiredVaultObject(
            vault, group, kind, vault if kind == "vault" else obj.name, managed, workload.key_vault.where
        )
        found.append(
            DesiredAccess(
                target,
                resolve_role(role_name),
                ident,
                f"fluxforge: {ident.name} reads {target.label} for {workload.kind} "
                f"{workload.namespace}/{workload.name} (cluster {cluster.name})",
            )
        )
    return found


def _aks(builder: _Builder, cluster: Cluster) -> DesiredAks | None:
    if cluster.aks is None:
        return None
    group = builder.group(cluster.aks.resource_group, ("clusters", cluster.index, "aks"))
    return DesiredAks(cluster.name, cluster.aks.name, group, cluster.oidc_issuer) if group else None


def desired_state(config: Config, *, display: str = "fluxforge.yaml", need_subscription: bool = False) -> DesiredState:
    """The Azure side of ``config``; ConfigError naming every key that is missing for it (identity names,
    resource groups, ``azure.subscriptionId`` when ``need_subscription``) or every rule it would break."""
    builder = _Builder(config)
    found = _Found()
    for cluster in config.clusters:
        _cluster_resources(builder, cluster, found)
    assignments = _assignments(builder)
    credentials = _deduplicated(found.credentials)
    encryptors, custom_roles = _encryptor_assignments(builder, config)
    assignments += encryptors
    access = [
        a for cluster in config.clusters for w in cluster.workloads for a in _workload_access(builder, cluster, w)
    ]
    _refuse_problems(builder, credentials, display, need_subscription=need_subscription)
    identities = {i.key: builder.identities[i.key] for i in builder.identities.values()}
    return DesiredState(
        config.tenant_id,
        config.azure.subscription_id,
        config.azure.location,
        tuple(identities.values()),
        tuple(_final_credentials(credentials, identities)),
        tuple(builder.keys.values()),
        tuple(
            {(a.key.label.lower(), a.principal_key, a.role.name): _final(a, identities) for a in assignments}.values()
        ),
        tuple(custom_roles),
        tuple(found.clusters),
        config.azure.resource_group,
        registry_assignments=_final_registries(found.registries, identities),
        access=_final_access(access, identities),
        extensions=tuple(_final_extension(e, identities) for e in found.extensions),
    )


def _refuse_problems(
    builder: _Builder, credentials: list[DesiredCredential], display: str, *, need_subscription: bool
) -> None:
    """DesiredStateError naming every problem found so far, the subscription and credential limits included."""
    if need_subscription and builder.config.azure.subscription_id is None:
        builder.problem(
            ("azure",),
            "subscriptionId missing: fluxforge azure plan/apply read and write this subscription "
            "(az account show --query id -o tsv)",
        )
    for where, message in credential_problems(credentials):
        builder.problem(where, message)
    if builder.problems:
        raise DesiredStateError([ConfigProblem(where, message) for where, message in builder.problems], display)


@dataclass
class _Found:
    """What the clusters need in Azure, gathered cluster by cluster."""

    credentials: list[DesiredCredential] = field(default_factory=list)
    registries: list[DesiredRegistryAssignment] = field(default_factory=list)
    extensions: list[DesiredExtension] = field(default_factory=list)
    clusters: list[DesiredAks] = field(default_factory=list)


def _cluster_resources(builder: _Builder, cluster: Cluster, found: _Found) -> None:
    """One cluster's federated credentials, registry pulls, Flux extension, identities and AKS cluster."""
    found.credentials += _credentials(builder, cluster)
    found.registries += _registry_assignments(builder, cluster)
    if (extension := _extension(builder, cluster)) is not None:
        found.extensions.append(extension)
    for ident in (cluster.identity, *(ks.tenant.identity for ks in cluster.tenants if ks.tenant)):
        builder.identity(ident, None)
    if (aks := _aks(builder, cluster)) is not None:
        found.clusters.append(aks)


# the identity objects in credentials/assignments carry their purposes as found so far: the final ones replace them
def _final_credentials(
    credentials: list[DesiredCredential], identities: dict[tuple[str, str], DesiredIdentity]
) -> list[DesiredCredential]:
    return [
        DesiredCredential(identities[c.identity.key], c.name, c.issuer, c.subject, c.cluster, c.audience)
        for c in credentials
    ]


def _final_registries(
    registries: list[DesiredRegistryAssignment], identities: dict[tuple[str, str], DesiredIdentity]
) -> tuple[DesiredRegistryAssignment, ...]:
    return tuple(
        {
            (r.resource_group.lower(), r.registry, r.principal_key): DesiredRegistryAssignment(
                r.registry, r.resource_group, identities[r.identity.key], r.description, r.where
            )
            for r in registries
        }.values()
    )


def _final_access(
    access: list[DesiredAccess], identities: dict[tuple[str, str], DesiredIdentity]
) -> tuple[DesiredAccess, ...]:
    return tuple(
        {
            (a.target.key, a.principal_key, a.role.name): DesiredAccess(
                a.target, a.role, identities[a.identity.key], a.description
            )
            for a in access
        }.values()
    )


def _final_extension(
    extension: DesiredExtension, identities: dict[tuple[str, str], DesiredIdentity]
) -> DesiredExtension:
    return replace(extension, identity=identities[extension.identity.key])


def _final(assignment: DesiredAssignment, identities: dict[tuple[str, str], DesiredIdentity]) -> DesiredAssignment:
    if assignment.identity is None:
        return assignment
    return DesiredAssignment(
        assignment.key, assignment.role, assignment.description, identity=identities[assignment.identity.key]
    )
