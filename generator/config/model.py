"""The typed, validated configuration: frozen dataclasses with every default applied."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from generator.flux.versions import FluxFeatures, FluxVersion, features_for

__all__ = [
    "AksRef",
    "AzureSettings",
    "Cluster",
    "Config",
    "Encryptor",
    "FluxSettings",
    "GitSource",
    "Identity",
    "KeyVaultKey",
    "KustomizationSpec",
    "Registry",
    "SopsKeys",
    "SourceIdentity",
    "Tenant",
    "VaultObject",
    "Workload",
    "WorkloadVault",
]


KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Identity:
    """A user-assigned managed identity. ``name``/``resource_group`` are optional in the config;
    ``resource_group`` defaults to ``azure.resourceGroup``. ``client_id`` is None until ``fluxforge azure
    apply`` created the identity and wrote it back (render needs it)."""

    client_id: str | None
    name: str | None = None
    resource_group: str | None = None
    existing: bool = False
    where: KeyPath = field(default=(), compare=False)
    """Key path of this identity in the config (``("clusters", 0, "identity")``), for messages and write-back."""


@dataclass(frozen=True)
class KeyVaultKey:
    """An Azure Key Vault key used as a SOPS recipient."""

    vault_url: str
    """``https://<vault>.vault.azure.net`` (no trailing slash, no ``:443``)."""
    key: str
    version: str | None = None
    resource_group: str | None = field(default=None, compare=False)
    """Resource group of the vault (default ``azure.resourceGroup``)."""
    existing: bool = field(default=False, compare=False)
    """The vault and key are managed elsewhere: fluxforge only grants roles on the key."""
    where: KeyPath = field(default=(), compare=False)

    @property
    def vault_name(self) -> str:
        """``kv-fleet`` of ``https://kv-fleet.vault.azure.net``."""
        return self.vault_url.removeprefix("https://").split(".", 1)[0]

    @property
    def url(self) -> str:
        """The SOPS key URL: ``<vault_url>/keys/<key>[/<version>]``."""
        base = f"{self.vault_url}/keys/{self.key}"
        return f"{base}/{self.version}" if self.version else base


@dataclass(frozen=True)
class SopsKeys:
    """The recipients of one cluster (or the top-level default)."""

    key_vault: tuple[KeyVaultKey, ...] = ()
    age: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.key_vault or self.age)


@dataclass(frozen=True)
class TenantSource:
    """A tenant's own GitRepository, in its namespace (named after its Kustomization)."""

    url: str
    branch: str
    secret_ref: str
    interval: str


@dataclass(frozen=True)
class Tenant:
    """A tenant Kustomization: object-level workload identity for decryption, impersonation for applying."""

    service_account: str
    identity: Identity
    reconciler: str
    """The ServiceAccount the Kustomization applies as (``spec.serviceAccountName``); the loader defaults it
    to ``service_account``."""
    role: str  # the schema declares the defaults (tenantReconciler); the loader applies them
    role_kind: str
    """What the RoleBinding in the tenant's namespace grants ``reconciler``."""
    sops: SopsKeys | None = None
    """The tenant's own recipients (``tenant.sops``); None: its folder uses the cluster's keys."""
    source: TenantSource | None = None
    """Its own GitRepository (``tenant.source``, always under ``flux.lockdown``); None: the sync GitRepository."""


@dataclass(frozen=True)
class KustomizationSpec:
    """One Flux Kustomization of a cluster."""

    name: str
    path: str
    """Relative to the repository root, normalised: no ``./`` prefix, no trailing ``/``."""
    namespace: str
    interval: str  # the schema declares the defaults (config.schema.json); the loader applies them
    prune: bool
    wait: bool
    decryption: bool
    target_namespace: str | None = None
    retry_interval: str | None = None
    timeout: str | None = None
    depends_on: tuple[str, ...] = ()
    tenant: Tenant | None = None


@dataclass(frozen=True)
class Registry:
    """An Azure Container Registry a source identity pulls from (AcrPull on it)."""

    name: str
    resource_group: str | None
    where: KeyPath = field(default=(), compare=False)


@dataclass(frozen=True)
class SourceIdentity:
    """``clusters[].sourceIdentity``: the identity source-controller (and image-reflector-controller) pull
    from ACR with (``provider: azure``), and the registries it gets AcrPull on."""

    identity: Identity
    registries: tuple[Registry, ...] = ()


@dataclass(frozen=True)
class VaultObject:
    """A Key Vault object a workload mounts (one entry of the SecretProviderClass ``objects`` array)."""

    name: str
    type: str
    """``secret``, ``key`` or ``cert`` (the Azure provider's objectType); defaults come from the schema."""
    sync_type: str
    """``syncAs.type``: the Kubernetes Secret type (used only with ``sync_secret``)."""
    alias: str | None = None
    version: str | None = None
    sync_secret: str | None = None
    """``syncAs.secret``: the Kubernetes Secret the file is also synced into (secretObjects)."""
    sync_key: str | None = None

    @property
    def file_name(self) -> str:
        """The file in the mount, and the ``objectName`` secretObjects refer to: the alias, else the name."""
        return self.alias or self.name


@dataclass(frozen=True)
class WorkloadVault:
    """The Key Vault a workload reads from."""

    name: str
    resource_group: str | None = None
    where: KeyPath = field(default=(), compare=False)


@dataclass(frozen=True)
class Workload:
    """An application reading Key Vault objects through the Secrets Store CSI driver with workload identity."""

    name: str
    namespace: str
    service_account: str
    path: str
    """The folder whose kustomization.yaml builds the workload (normalised); the Component goes below it."""
    identity: Identity
    key_vault: WorkloadVault
    objects: tuple[VaultObject, ...]
    kind: str
    mount_path: str
    """``kind`` and ``mountPath``: defaults come from the schema (the loader applies them)."""
    containers: tuple[str, ...] = ()
    where: KeyPath = field(default=(), compare=False)

    @property
    def component_dir(self) -> str:
        """``<path>/workload-identity/<name>``: the kustomize Component fluxforge renders."""
        return f"{self.path}/{COMPONENT_FOLDER}/{self.name}"

    @property
    def component_ref(self) -> str:
        """How the folder's kustomization.yaml names the Component (``components:``)."""
        return f"{COMPONENT_FOLDER}/{self.name}"


COMPONENT_FOLDER = "workload-identity"


@dataclass(frozen=True)
class AksRef:
    """The AKS resource behind a cluster (read-only checks of its OIDC issuer and workload identity)."""

    name: str
    resource_group: str | None


@dataclass(frozen=True)
class Cluster:
    """One AKS cluster and its Flux Kustomizations."""

    name: str
    path: str
    environment: str
    oidc_issuer: str
    identity: Identity
    sops: SopsKeys
    kustomizations: tuple[KustomizationSpec, ...] = ()
    aks: AksRef | None = None
    workloads: tuple[Workload, ...] = ()
    index: int = 0
    """Position in ``clusters`` (key paths in messages)."""
    source_identity: SourceIdentity | None = None

    def kustomization(self, name: str) -> KustomizationSpec:
        """Look up a Kustomization of this cluster by name (KeyError if absent)."""
        for ks in self.kustomizations:
            if ks.name == name:
                return ks
        raise KeyError(name)

    @property
    def tenants(self) -> tuple[KustomizationSpec, ...]:
        """Kustomizations using object-level workload identity."""
        return tuple(ks for ks in self.kustomizations if ks.tenant is not None)


@dataclass(frozen=True)
class FluxSettings:
    """The Flux installation."""

    version: FluxVersion
    namespace: str  # the schema declares the defaults (config.schema.json); the loader applies them
    components: tuple[str, ...]
    default_decryption_service_account: str | None = None
    install: str = "bootstrap"
    """``bootstrap`` (fluxforge patches flux-system) or ``extension`` (the AKS Flux extension runs Flux)."""
    lockdown: bool = False
    """``flux.lockdown``: the multi-tenancy lockdown flags (:mod:`generator.flux.lockdown`)."""

    @property
    def features(self) -> FluxFeatures:
        return features_for(self.version)

    @property
    def extension(self) -> bool:
        """Flux is the AKS Flux extension (``microsoft.flux``): no flux-system folder to patch."""
        return self.install == "extension"

    @property
    def source_controllers(self) -> tuple[str, ...]:
        """The controllers a ``sourceIdentity`` applies to: source-controller, and image-reflector-controller
        when it is a component (both pull from registries with ``provider: azure``)."""
        return ("source-controller", *(c for c in ("image-reflector-controller",) if c in self.components))


@dataclass(frozen=True)
class GitSource:
    """The flux-system GitRepository."""

    url: str
    branch: str  # the schema declares the defaults (config.schema.json); the loader applies them
    secret_ref: str
    interval: str
    recurse_submodules: bool
    sparse_checkout: tuple[str, ...] = ()
    """Normalised folders (``--sparse-checkout``), in config order; empty: the whole repository."""


@dataclass(frozen=True)
class Encryptor:
    """An Entra principal that may encrypt with the Key Vault keys (never decrypt)."""

    object_id: str
    principal_type: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class AzureSettings:
    """The ``azure`` block beyond the tenant: where fluxforge's Azure resources live."""

    subscription_id: str | None = None
    location: str | None = None
    resource_group: str | None = None
    encryptors: tuple[Encryptor, ...] = ()
    encryptors_run_sops: bool = False


@dataclass(frozen=True)
class Config:
    """A validated ``fluxforge.yaml``."""

    flux: FluxSettings
    git: GitSource
    tenant_id: str
    sops: SopsKeys
    clusters: tuple[Cluster, ...]
    source: Path | None = None
    """The file this config was read from (None when parsed from text)."""
    azure: AzureSettings = AzureSettings()
    break_glass: SopsKeys = SopsKeys()
    """``sops.breakGlass``: added to the rule of every tenant with its own keys; nobody is granted decrypt."""

    def cluster(self, name: str) -> Cluster:
        """Look up a cluster by name (KeyError if absent)."""
        for cluster in self.clusters:
            if cluster.name == name:
                return cluster
        raise KeyError(name)

    @property
    def root(self) -> Path:
        """The repository root the tree is rendered into by default: the config's folder."""
        return self.source.parent if self.source is not None else Path()

    @property
    def sync_name(self) -> str:
        """Name of the sync GitRepository and Kustomization: the Flux namespace, as ``flux bootstrap``
        names them (``sync.Options.Name`` = the namespace, fluxcd/flux2 cmd/flux/bootstrap_git.go)."""
        return self.flux.namespace

    def sync_dir(self, cluster: Cluster) -> str:
        """``<cluster path>/<flux namespace>``: where ``flux bootstrap`` writes gotk-components.yaml,
        gotk-sync.yaml and kustomization.yaml (fluxcd/flux2 pkg/manifestgen/sync ``path.Join(TargetPath,
        Namespace, ...)``)."""
        return f"{cluster.path}/{self.flux.namespace}"
