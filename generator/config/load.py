"""Load ``fluxforge.yaml``: parse, validate (JSON Schema + cross-field checks), build the typed model.

Public API: :func:`load_config` (a file), :func:`parse_config` (text), :func:`config_path_for`; in two steps,
:func:`read_config_text`, :func:`config_data` and :func:`config_from_data` (``fluxforge upgrade`` builds the
upgraded config from the data it already read).
Every problem is reported at once as ``FILE:LINE: key.path: message`` in one ``ConfigError``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ruamel.yaml.error import MarkedYAMLError

from generator.config.checks import check_semantics, normalise_path
from generator.config.locate import CONFIG_NAME, config_path_for
from generator.config.model import (
    AksRef,
    AzureSettings,
    Cluster,
    Config,
    Encryptor,
    FluxSettings,
    GitSource,
    Identity,
    KeyPath,
    KeyVaultKey,
    KustomizationSpec,
    Registry,
    SopsKeys,
    SourceIdentity,
    Tenant,
    TenantSource,
    VaultObject,
    Workload,
    WorkloadVault,
)
from generator.config.problems import ConfigProblem, format_problems, problems_from_schema
from generator.config.schema_proof import proves_valid
from generator.errors import ConfigError
from generator.flux.lockdown import LOCKDOWN_DECRYPTION_SA
from generator.flux.versions import parse_version
from generator.resources import load_schema
from generator.yamlio import YamlError, load_lines, load_plain, load_rt

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

__all__ = ["CONFIG_NAME", "Config", "config_path_for", "load_config", "parse_config"]


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    """Replace local ``#/$defs/x`` references by their target (the schema has no recursion).

    Validation then skips reference resolution, which dominated the time on large fleets.
    """
    if isinstance(node, list):
        return [_inline_refs(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _inline_refs(value, defs) for key, value in node.items() if key not in {"$ref", "$defs"}}
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = _inline_refs(defs[ref.removeprefix("#/$defs/")], defs)
        out = {**target, **{k: v for k, v in out.items() if k != "description"}}
    return out


@cache
def _inlined_schema() -> dict[str, Any]:
    schema = load_schema("config.schema.json")
    inlined: dict[str, Any] = _inline_refs(schema, schema.get("$defs", {}))
    return inlined


@cache
def _validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(_inlined_schema())


def _schema_problems(data: dict[str, Any]) -> list[ConfigProblem]:
    """What jsonschema finds; a config the fast proof shows valid needs no jsonschema at all."""
    if proves_valid(_inlined_schema(), data):
        return []
    return problems_from_schema(_validator().iter_errors(data))


def load_config(path: str | Path) -> Config:
    """Read and validate a config file (or ``DIR/fluxforge.yaml``); raise ConfigError listing every problem."""
    file = config_path_for(path)
    return parse_config(read_config_text(file), display=str(file), source=file)


def read_config_text(file: Path) -> str:
    """The text of config ``file``; ConfigError (one line naming it) when it is missing or unreadable."""
    from generator.errors import InputError
    from generator.fsio import read_input

    try:
        return read_input(file, what="the config").decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{file}: not found; create one with `fluxforge init`") from None
    except InputError as err:
        raise ConfigError(err.problems) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{file}: cannot read: {err}") from None


def _yaml_error(text: str, display: str, found: YamlError) -> ConfigError:
    # the round-trip parser words errors best; re-parse with it only on this failure path
    err = found.cause
    try:
        load_rt(text)
    except YamlError as rt_err:
        err = rt_err.cause
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    line = mark.line + 1 if mark is not None else 1
    problem = err.problem if isinstance(err, MarkedYAMLError) and err.problem else str(err)
    return ConfigError(f"{display}:{line}: invalid YAML: {problem}")


def parse_config(text: str, *, display: str = CONFIG_NAME, source: Path | None = None) -> Config:
    """Validate config ``text``; ``display`` names the file in messages."""
    return config_from_data(config_data(text, display), text, display=display, source=source)


def config_data(text: str, display: str = CONFIG_NAME) -> dict[str, Any]:
    """Config ``text`` as plain data (a mapping), not yet validated; ConfigError for invalid YAML or
    another top level."""
    try:
        data = load_plain(text)
    except YamlError as err:
        raise _yaml_error(text, display, err) from None
    if data is None:
        raise ConfigError(f"{display}:1: the file is empty; start from `fluxforge init`")
    if not isinstance(data, dict):
        raise ConfigError(f"{display}:1: the top level must be a mapping of keys (flux, git, azure, ...)")
    return data


def config_from_data(
    data: dict[str, Any], text: str, *, display: str = CONFIG_NAME, source: Path | None = None
) -> Config:
    """Validate and build what :func:`config_data` read from ``text`` (whose lines the problems name);
    ``data`` is not modified."""
    problems = _schema_problems(data)
    problems.extend(check_semantics(data))
    if problems:
        raise ConfigError(format_problems(problems, load_lines(text), display))
    return _build(data, source)


@cache
def _schema_default(owner: str, key: str, *inner: str) -> Any:
    """The ``default`` the schema declares for ``key`` of ``owner`` (a ``$defs`` entry, else a top-level
    block: ``flux``, ``git``, ``azure``), or for ``key.inner...`` of an object-valued key: every default is
    declared there once."""
    schema = load_schema("config.schema.json")
    node = schema["$defs"][owner] if owner in schema["$defs"] else schema["properties"][owner]
    spec = node["properties"][key]
    for name in inner:
        spec = spec["properties"][name]
    return spec["default"]


def _or_default(raw: dict[str, Any], owner: str, key: str) -> Any:
    return raw[key] if key in raw else _schema_default(owner, key)


def _identity(raw: dict[str, Any], where: KeyPath, group: str | None) -> Identity:
    client_id = raw.get("clientId")
    return Identity(
        client_id=client_id.lower() if client_id else None,
        name=raw.get("name"),
        resource_group=raw.get("resourceGroup", group),
        existing=_or_default(raw, "identity", "existing"),
        where=where,
    )


def _vault_url(vault: str) -> str:
    if vault.startswith("https://"):
        host = vault[len("https://") :].rstrip("/").removesuffix(":443")
        return f"https://{host.lower()}"
    return f"https://{vault.lower()}.vault.azure.net"


def _sops(raw: dict[str, Any] | None, where: KeyPath, group: str | None) -> SopsKeys:
    raw = raw or {}
    keys = tuple(
        KeyVaultKey(
            vault_url=_vault_url(k["vault"]),
            key=k["key"],
            version=k.get("version"),
            resource_group=k.get("resourceGroup", group),
            existing=_or_default(k, "keyVaultKey", "existing"),
            where=(*where, "keyVault", index),
        )
        for index, k in enumerate(raw.get("keyVault", []))
    )
    return SopsKeys(key_vault=keys, age=tuple(raw.get("age", [])))


def _kustomization(
    raw: dict[str, Any], environment: str, flux: FluxSettings, where: KeyPath, group: str | None, git: GitSource
) -> KustomizationSpec:
    tenant = raw.get("tenant")
    flux_ns = flux.namespace
    return KustomizationSpec(
        name=raw["name"],
        path=normalise_path(raw.get("path", f"{raw['name']}/{environment}")),
        namespace=raw.get("namespace", flux_ns),
        interval=_or_default(raw, "kustomization", "interval"),
        prune=_or_default(raw, "kustomization", "prune"),
        wait=_or_default(raw, "kustomization", "wait"),
        decryption=_or_default(raw, "kustomization", "decryption"),
        target_namespace=raw.get("targetNamespace"),
        retry_interval=raw.get("retryInterval"),
        timeout=raw.get("timeout"),
        depends_on=tuple(raw.get("dependsOn", [])),
        tenant=_tenant(tenant, (*where, "tenant"), group, git, flux.lockdown) if tenant else None,
    )


def _tenant_source(raw: dict[str, Any], git: GitSource) -> TenantSource:
    return TenantSource(
        url=raw.get("url", git.url),
        branch=raw.get("branch", git.branch),
        secret_ref=raw.get("secretRef", git.secret_ref),
        interval=raw.get("interval", git.interval),
    )


def _tenant(raw: dict[str, Any], where: KeyPath, group: str | None, git: GitSource, lockdown: bool) -> Tenant:
    """Under ``flux.lockdown`` every tenant has its own source (``tenant.source``, else the git block's)."""
    reconciler = raw.get("reconciler") or {}
    source = raw.get("source")
    return Tenant(
        service_account=raw["serviceAccount"],
        identity=_identity(raw["identity"], (*where, "identity"), group),
        sops=_sops(raw["sops"], (*where, "sops"), group) if "sops" in raw else None,
        reconciler=reconciler.get("serviceAccount", raw["serviceAccount"]),
        role=_or_default(reconciler, "tenantReconciler", "role"),
        role_kind=_or_default(reconciler, "tenantReconciler", "roleKind"),
        source=_tenant_source(source or {}, git) if lockdown or source is not None else None,
    )


def _source_identity(raw: dict[str, Any] | None, where: KeyPath, group: str | None) -> SourceIdentity | None:
    if raw is None:
        return None
    registries = tuple(
        Registry(r["name"].lower(), r.get("resourceGroup", group), (*where, "registries", i))
        for i, r in enumerate(raw.get("registries", []))
    )
    ident = {k: v for k, v in raw.items() if k != "registries"}
    return SourceIdentity(_identity(ident, where, group), registries)


def _vault_object(raw: dict[str, Any]) -> VaultObject:
    sync = raw.get("syncAs") or {}
    return VaultObject(
        name=raw["name"],
        type=raw.get("type", _schema_default("vaultObject", "type")),
        alias=raw.get("alias"),
        version=raw["version"].lower() if raw.get("version") else None,
        sync_secret=sync.get("secret"),
        sync_key=sync.get("key"),
        sync_type=sync.get("type", _schema_default("vaultObject", "syncAs", "type")),
    )


def _workload(raw: dict[str, Any], where: KeyPath, group: str | None) -> Workload:
    vault = raw["keyVault"]
    return Workload(
        name=raw["name"],
        namespace=raw["namespace"],
        service_account=raw.get("serviceAccount", raw["name"]),
        path=normalise_path(raw["path"]),
        identity=_identity(raw["identity"], (*where, "identity"), group),
        key_vault=WorkloadVault(vault["name"].lower(), vault.get("resourceGroup", group), (*where, "keyVault")),
        objects=tuple(_vault_object(o) for o in raw["objects"]),
        kind=raw.get("kind", _schema_default("workload", "kind")),
        containers=tuple(raw.get("containers", [raw["name"]])),
        mount_path=raw.get("mountPath", _schema_default("workload", "mountPath")),
        where=where,
    )


def _cluster(
    raw: dict[str, Any], index: int, default_sops: SopsKeys, flux: FluxSettings, group: str | None, git: GitSource
) -> Cluster:
    name = raw["name"]
    environment = raw.get("environment", name)
    where: KeyPath = ("clusters", index)
    aks = raw.get("aks")
    return Cluster(
        name=name,
        path=normalise_path(raw.get("path", f"clusters/{name}")),
        environment=environment,
        oidc_issuer=raw["oidcIssuer"],
        identity=_identity(raw["identity"], (*where, "identity"), group),
        sops=_sops(raw["sops"], (*where, "sops"), group) if "sops" in raw else default_sops,
        kustomizations=tuple(
            _kustomization(k, environment, flux, (*where, "kustomizations", i), group, git)
            for i, k in enumerate(raw.get("kustomizations", []))
        ),
        aks=AksRef(aks["name"], aks.get("resourceGroup", group)) if aks else None,
        workloads=tuple(_workload(w, (*where, "workloads", i), group) for i, w in enumerate(raw.get("workloads", []))),
        index=index,
        source_identity=_source_identity(raw.get("sourceIdentity"), (*where, "sourceIdentity"), group),
    )


def _azure(raw: dict[str, Any]) -> AzureSettings:
    return AzureSettings(
        subscription_id=raw["subscriptionId"].lower() if raw.get("subscriptionId") else None,
        location=raw.get("location"),
        resource_group=raw.get("resourceGroup"),
        encryptors=tuple(
            Encryptor(e["objectId"].lower(), e.get("principalType"), e.get("description"))
            for e in raw.get("encryptors", [])
        ),
        encryptors_run_sops=_or_default(raw, "azure", "encryptorsRunSops"),
    )


def _decryption_sa(flux_raw: dict[str, Any], lockdown: bool, data: dict[str, Any]) -> str | None:
    """``flux.defaultDecryptionServiceAccount``; lockdown on Flux >= 2.7 sets it when a Key Vault key exists
    (else a tenant's own Kustomization could decrypt with kustomize-controller's identity)."""
    if "defaultDecryptionServiceAccount" in flux_raw or not lockdown:
        return flux_raw.get("defaultDecryptionServiceAccount")
    minor = parse_version(_or_default(flux_raw, "flux", "version")).minor
    vault = any("keyVault" in (block or {}) for block in [data.get("sops"), *(c.get("sops") for c in data["clusters"])])
    return LOCKDOWN_DECRYPTION_SA if minor >= 7 and vault else None


def _build(data: dict[str, Any], source: Path | None) -> Config:
    flux_raw = data.get("flux", {})
    lockdown = _or_default(flux_raw, "flux", "lockdown")
    flux = FluxSettings(
        version=parse_version(_or_default(flux_raw, "flux", "version")),
        namespace=_or_default(flux_raw, "flux", "namespace"),
        components=tuple(_or_default(flux_raw, "flux", "components")),
        default_decryption_service_account=_decryption_sa(flux_raw, lockdown, data),
        install=_or_default(flux_raw, "flux", "install"),
        lockdown=lockdown,
    )
    git_raw = data["git"]
    git = GitSource(
        url=git_raw["url"],
        branch=_or_default(git_raw, "git", "branch"),
        secret_ref=_or_default(git_raw, "git", "secretRef"),
        interval=_or_default(git_raw, "git", "interval"),
        recurse_submodules=_or_default(git_raw, "git", "recurseSubmodules"),
        sparse_checkout=tuple(normalise_path(p) for p in git_raw.get("sparseCheckout", [])),
    )
    group = data["azure"].get("resourceGroup")
    default_sops = _sops(data.get("sops"), ("sops",), group)
    break_glass = _sops((data.get("sops") or {}).get("breakGlass"), ("sops", "breakGlass"), group)
    return Config(
        flux=flux,
        git=git,
        tenant_id=data["azure"]["tenantId"].lower(),
        sops=default_sops,
        clusters=tuple(_cluster(c, i, default_sops, flux, group, git) for i, c in enumerate(data["clusters"])),
        source=source,
        azure=_azure(data["azure"]),
        break_glass=break_glass,
    )
