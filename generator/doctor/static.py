"""Static gates: the repository alone, no network.

config ↔ rendered tree ↔ controller patches ↔ ``.sops.yaml`` ↔ encrypted files ↔ tenant isolation ↔ the
federated credentials the tree makes Flux use versus those the config declares.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from generator.config.model import Cluster, Config, KustomizationSpec
from generator.doctor import repo
from generator.doctor.context import Context
from generator.doctor.declared import declared_credentials
from generator.doctor.model import BROKEN, OK, SKIPPED, WARN, Finding, Gate, Skip
from generator.errors import FluxforgeError
from generator.flux.versions import DEFAULT_DECRYPTION_SA_FLAG, FEATURE_GATE_NAME

if TYPE_CHECKING:
    from generator.flux.isolation import Exposure
    from generator.render.context import SopsRule
    from generator.sops.api import SopsRules

__all__ = ["STATIC_GATES", "applying", "cluster_files", "feature_gate_on"]


def _finding(
    gate: str, subject: str, status: str, reason: str, fix: str = "", cluster: str = "", **detail: object
) -> Finding:
    return Finding(gate, subject, status, reason, fix, cluster=cluster, detail=dict(detail))  # type: ignore[arg-type]


# -- static.config ---------------------------------------------------------------------------------------------
def check_config(ctx: Context) -> Iterator[Finding]:
    from generator.config.load import load_config

    try:
        ctx.config = load_config(ctx.config_path)
    except FluxforgeError as err:
        yield _finding(
            "static.config",
            str(ctx.config_path),
            BROKEN,
            "; ".join(err.problems[:3]),
            f"edit {ctx.config_path} as each line says, then run fluxforge doctor again",
            problems=err.problems,
        )
        return
    names = [c.name for c in ctx.config.clusters]
    if ctx.cluster_name is not None and ctx.cluster_name not in names:
        yield _finding(
            "static.config",
            str(ctx.config_path),
            BROKEN,
            f"--cluster {ctx.cluster_name}: no such cluster in the config (clusters: {', '.join(names)})",
            f"fluxforge doctor --cluster {names[0]}",
        )
        return
    yield _finding(
        "static.config",
        str(ctx.config_path),
        OK,
        f"valid: {len(names)} cluster(s) ({', '.join(names)}), Flux {ctx.config.flux.version}",
    )


# -- static.tree -------------------------------------------------------------------------------------------------
def check_tree(ctx: Context) -> Iterator[Finding]:
    from generator.commands.render import run_render

    ctx.cfg()
    try:
        report = run_render(ctx.config_path, mode="check")
    except FluxforgeError as err:
        stale = [
            line
            for line in err.problems
            if line.endswith(("to update it)", "to delete it)"))
            or ": conflict" in line
            or "fluxforge did not write" in line
        ]
        shown = stale or err.problems[:1]
        yield _finding(
            "static.tree",
            "rendered tree",
            BROKEN,
            f"the committed tree is not what the config renders: {'; '.join(shown[:4])}",
            "fluxforge render (then commit and push; `fluxforge render --diff` shows the change)",
            problems=[line for line in err.problems if not line.startswith(("+", "-", "@@", " "))],
        )
        return
    yield _finding("static.tree", "rendered tree", OK, f"{report.total} generated files are up to date")


# -- static.patches -------------------------------------------------------------------------------------------
def feature_gate_on(args: Iterable[str]) -> bool:
    """``--feature-gates=A=true,ObjectLevelWorkloadIdentity=true`` (the last setting of a gate wins)."""
    state = False
    for arg in args:
        if arg.startswith("--feature-gates="):
            for item in arg.split("=", 1)[1].split(","):
                name, _, value = item.partition("=")
                if name.strip() == FEATURE_GATE_NAME:
                    state = value.strip().lower() == "true"
    return state


def needs_feature_gate(config: Config, cluster: Cluster) -> bool:
    return bool(cluster.tenants) or bool(config.flux.default_decryption_service_account)


def _identity_problems(config: Config, cluster: Cluster, facts: repo.PatchFacts) -> list[str]:
    """The workload identity patch in the form of the configured Flux version (2.0-2.5: the ``use`` label on the
    ServiceAccount and the Deployment too; 2.6+: the tenant-id annotation, the label on the pod template only)."""
    form = config.flux.features.workload_identity
    version = f"Flux {config.flux.version}"
    problems = []
    client = facts.annotations.get(repo.CLIENT_ID)
    if client != cluster.identity.client_id:
        problems.append(
            f"ServiceAccount kustomize-controller: annotation {repo.CLIENT_ID} is "
            f"{client or 'not set'} (config: {cluster.identity.client_id})"
        )
    tenant = facts.annotations.get(repo.TENANT_ID)
    if tenant not in (None, config.tenant_id):
        problems.append(
            f"ServiceAccount kustomize-controller: annotation {repo.TENANT_ID} is {tenant} (config: {config.tenant_id})"
        )
    if form.service_account_use_label and facts.sa_labels.get(repo.WI_LABEL) != "true":
        problems.append(
            f'ServiceAccount kustomize-controller: label {repo.WI_LABEL}: "true" is missing ({version} needs it)'
        )
    if form.deployment_use_label and facts.deployment_labels.get(repo.WI_LABEL) != "true":
        problems.append(
            f'Deployment kustomize-controller: label {repo.WI_LABEL}: "true" is missing ({version} needs it)'
        )
    if facts.labels.get(repo.WI_LABEL) != "true":
        problems.append(f'Deployment kustomize-controller: pod template label {repo.WI_LABEL}: "true" is missing')
    return problems


def _patch_problems(config: Config, cluster: Cluster, facts: repo.PatchFacts) -> list[str]:
    problems = _identity_problems(config, cluster, facts) if cluster.sops.key_vault else []
    if needs_feature_gate(config, cluster) and not feature_gate_on(facts.args):
        why = (
            "tenants decrypt as their own ServiceAccount"
            if cluster.tenants
            else "the lockdown's default ServiceAccount"
        )
        problems.append(f"Deployment kustomize-controller: --feature-gates={FEATURE_GATE_NAME}=true is missing ({why})")
    lockdown = config.flux.default_decryption_service_account
    if lockdown and f"{DEFAULT_DECRYPTION_SA_FLAG}={lockdown}" not in facts.args:
        problems.append(f"Deployment kustomize-controller: {DEFAULT_DECRYPTION_SA_FLAG}={lockdown} is missing")
    return problems + [f"{where} (see the rendered patches)" for where in facts.wrong_place]


def _form_text(config: Config) -> str:
    if config.flux.features.workload_identity.service_account_use_label:
        return f"client-id annotation and the {repo.WI_LABEL} labels (the Flux {config.flux.version} form)"
    return "client-id/tenant-id annotations and the pod label"


def check_patches(ctx: Context) -> Iterator[Finding]:
    config = ctx.cfg()
    if config.flux.extension:
        raise Skip(
            "flux.install: extension: the AKS Flux extension sets the controllers' workload identity "
            "(workloadIdentity.* settings in the Bicep); there is no flux-system folder to patch"
        )
    for cluster in config.clusters:
        facts = repo.patch_facts(ctx.root, config.sync_dir(cluster))
        if not facts.exists:
            yield _finding(
                "static.patches", cluster.name, BROKEN, f"{facts.file} is missing", "fluxforge render", cluster.name
            )
            continue
        if not cluster.sops.key_vault and not needs_feature_gate(config, cluster):
            yield _finding(
                "static.patches", cluster.name, SKIPPED, "age only: no workload identity to patch", cluster=cluster.name
            )
            continue
        problems = _patch_problems(config, cluster, facts)
        if problems:
            yield _finding(
                "static.patches",
                cluster.name,
                BROKEN,
                f"{facts.file}: {'; '.join(problems)}",
                f"put the patches back into {facts.file} as rendered: out=$(mktemp -d) && fluxforge render "
                f"--out-dir $out && diff $out/{facts.file} {facts.file}",
                cluster.name,
                problems=problems,
            )
        else:
            what = _form_text(config) if cluster.sops.key_vault else "patches"
            gate = f", --feature-gates={FEATURE_GATE_NAME}=true" if needs_feature_gate(config, cluster) else ""
            yield _finding(
                "static.patches", cluster.name, OK, f"{facts.file} sets the {what}{gate}", cluster=cluster.name
            )


# -- static.sops-rules ---------------------------------------------------------------------------------------
def check_sops_rules(ctx: Context) -> Iterator[Finding]:
    from generator.render.context import sops_rules
    from generator.sops.api import load_rules

    config = ctx.cfg()
    file = ctx.root / ".sops.yaml"
    if not file.is_file():
        yield _finding(
            "static.sops-rules",
            ".sops.yaml",
            BROKEN,
            ".sops.yaml is missing next to fluxforge.yaml",
            "fluxforge render",
        )
        return
    try:
        rules = load_rules(file)
    except FluxforgeError as err:
        yield _finding("static.sops-rules", ".sops.yaml", BROKEN, err.problems[0], "fluxforge render")
        return
    expected = sops_rules(config, _shared(ctx, config))
    problems = [p for want in expected if (p := _rule_problem(ctx.root, rules, want)) is not None]
    if problems:
        yield _finding(
            "static.sops-rules",
            ".sops.yaml",
            BROKEN,
            "; ".join(problems),
            "fluxforge render (it writes .sops.yaml), then fluxforge updatekeys on files encrypted "
            "for the old recipients",
            problems=problems,
        )
        return
    yield _finding(
        "static.sops-rules",
        ".sops.yaml",
        OK,
        f"every Kustomization folder ({len(expected)}) is covered with the configured recipients",
    )


def _rule_problem(root: Path, rules: SopsRules, want: SopsRule) -> str | None:
    """What is wrong with the creation rule covering ``want``'s folder (None: it has exactly its recipients)."""
    rule = rules.rule_for(root / want.path / "secret.yaml")
    if rule is None:
        return f"{want.path}/: no creation rule covers it (clusters {', '.join(want.clusters)})"
    have = {value for group in rule.key_groups for _, value in group}
    wanted = {*want.azure_keyvault, *want.age}
    if have == wanted:
        return None
    missing, extra = sorted(wanted - have), sorted(have - wanted)
    return f"{want.path}/: its rule ({rule.path_regex or 'no path_regex'}) has " + "; ".join(
        filter(None, [f"missing {', '.join(missing)}" if missing else "", f"extra {', '.join(extra)}" if extra else ""])
    )


# -- static.encrypted -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Applier:
    """A (cluster, Kustomization) that applies a folder; ``ks`` None = the sync Kustomization."""

    cluster: Cluster
    ks: KustomizationSpec | None

    @property
    def label(self) -> str:
        return f"{self.cluster.name}/{self.ks.name if self.ks else 'flux-system (sync)'}"

    @property
    def identity_label(self) -> str:
        if self.ks is not None and self.ks.tenant is not None:
            ident = self.ks.tenant.identity
            return f"tenant identity {ident.name or ident.client_id}"
        ident = self.cluster.identity
        return f"identity {ident.name or ident.client_id}"


def _under(path: str, folder: str) -> bool:
    return folder == "" or path == folder or path.startswith(folder.rstrip("/") + "/")


def _reads(ctx: Context, folder: str) -> frozenset[str]:
    """The files a kustomize build of ``folder`` reads (its kustomization's resources, shared bases...)."""
    from generator.flux.kustomize_refs import build_inputs

    return ctx.memo(("build-inputs", folder), lambda: frozenset(build_inputs(ctx.root, folder).files))


def applying(ctx: Context, path: str) -> list[Applier]:
    """Every (cluster, Kustomization) whose build reads ``path`` (the sync Kustomization builds the cluster's
    own folder); a file its folder's kustomization.yaml does not list is applied by nobody."""
    config = ctx.cfg()
    found = []
    for cluster in config.clusters:
        found += [Applier(cluster, ks) for ks in cluster.kustomizations if path in _reads(ctx, ks.path)]
        if path in _reads(ctx, cluster.path):
            found.append(Applier(cluster, None))
    return found


def _shared(ctx: Context, config: Config) -> dict[str, frozenset[str]]:
    from generator.flux.sops_coverage import shared_folders

    return ctx.memo("shared-folders", lambda: shared_folders(ctx.root, config))


def cluster_files(ctx: Context) -> list[repo.EncryptedFile]:
    return ctx.memo("encrypted-files", lambda: repo.encrypted_files(ctx.root))


def _known(config: Config, entry: repo.AzureEntry) -> bool:
    from generator.flux.tenancy import cluster_keys

    keys = {
        *config.sops.key_vault,
        *config.break_glass.key_vault,
        *(k for c in config.clusters for k in cluster_keys(c).key_vault),
    }
    return any(
        k.vault_url == entry.vault_url and k.key == entry.name and k.version in (None, entry.version) for k in keys
    )


def _usable(applier: Applier, file: repo.EncryptedFile, secret_refs: dict[tuple[str, str], str]) -> bool:
    from generator.flux.tenancy import applier_keys

    cluster = applier.cluster
    keys = applier_keys(cluster, applier.ks)
    if any(any(k.vault_url == e.vault_url and k.key == e.name for k in keys.key_vault) for e in file.azure_kv):
        return True
    name = applier.ks.name if applier.ks else ""
    return bool(set(file.age) & set(keys.age)) and bool(secret_refs.get((cluster.name, name)))


def _secret_refs(ctx: Context, config: Config) -> dict[tuple[str, str], str]:
    from generator.render.files import age_only

    refs: dict[tuple[str, str], str] = {}
    for cluster in config.clusters:
        for facts in repo.kustomizations_in(ctx.root, cluster.path, config.flux.namespace):
            refs[(cluster.name, facts.name)] = facts.secret_ref
        refs[(cluster.name, "")] = "sops-age" if age_only(cluster) else ""
    return refs


def _file_problems(ctx: Context, file: repo.EncryptedFile, refs: dict[tuple[str, str], str]) -> list[str]:
    config = ctx.cfg()
    problems = [f"azure_kv key {e.url} is not one the config knows" for e in file.azure_kv if not _known(config, e)]
    for applier in applying(ctx, file.path):
        if applier.ks is not None and not applier.ks.decryption:
            problems.append(f"Kustomization {applier.label} applies it with decryption off")
        elif not _usable(applier, file, refs):
            if not file.azure_kv:
                problems.append(
                    f"age only, and Kustomization {applier.label} has no decryption.secretRef with an age key"
                )
            else:
                keys = ", ".join(e.url for e in file.azure_kv)
                problems.append(
                    f"Kustomization {applier.label} decrypts as the {applier.identity_label}, which the "
                    f"config grants no Key Vault key of the file ({keys})"
                )
    return problems


def check_encrypted(ctx: Context) -> Iterator[Finding]:
    config = ctx.cfg()
    files = cluster_files(ctx)
    refs = _secret_refs(ctx, config)
    bad = 0
    for file in files:
        problems = _file_problems(ctx, file, refs)
        if problems:
            bad += 1
            yield _finding(
                "static.encrypted",
                file.path,
                BROKEN,
                "; ".join(problems),
                f"fluxforge updatekeys {file.path} (re-wraps its data key for the recipients of "
                ".sops.yaml; needs a key that decrypts it now)",
                problems=problems,
            )
    if not bad:
        unapplied = [f.path for f in files if not applying(ctx, f.path)]
        note = f"; {len(unapplied)} read by no Kustomization's build" if unapplied else ""
        yield _finding(
            "static.encrypted",
            f"{len(files)} encrypted file(s)",
            OK,
            f"each names keys the config knows and that every cluster applying it can use{note}",
        )


# -- static.tenant-isolation -----------------------------------------------------------------------------------
def check_isolation(ctx: Context) -> Iterator[Finding]:
    """Per tenant: the exposures ``fluxforge lint`` reports (:func:`generator.flux.isolation.exposures`, with
    each tenant's own keys) where the tenant's identity reads outside its folders, or another reads its folder."""
    from generator.flux.isolation import exposures

    config = ctx.cfg()
    tenants = [(cluster, ks) for cluster in config.clusters for ks in cluster.tenants]
    if not tenants:
        yield _finding("static.tenant-isolation", "tenants", SKIPPED, "no Kustomization has a tenant identity")
        return
    found = [e for e in exposures(config, _shared(ctx, config)) if e.level == "error"]
    for cluster, ks in tenants:
        yield _tenant_finding(cluster, ks, found)


def _involves(exposure: Exposure, ks: KustomizationSpec) -> bool:
    """The exposure is of the tenant's own keys, or of a folder below its path."""
    return any(d.tenant == ks for d in exposure.owners) or any(_under(f, ks.path) for f in exposure.folders)


def _tenant_finding(cluster: Cluster, ks: KustomizationSpec, found: list[Exposure]) -> Finding:
    """One tenant: the exposures that involve its identity or its folder, or that it is isolated."""
    assert ks.tenant is not None
    subject = f"{cluster.name}/{ks.name}"
    ident = ks.tenant.identity.name or ks.tenant.identity.client_id
    mine = [e for e in found if _involves(e, ks)]
    if mine:
        return _finding(
            "static.tenant-isolation",
            subject,
            WARN,
            "; ".join(e.reason for e in mine),
            mine[0].fix,
            cluster.name,
            shared=sorted({f for e in mine for f in e.folders}),
        )
    return _finding(
        "static.tenant-isolation",
        subject,
        OK,
        f"tenant identity {ident} decrypts no key used outside {ks.path}/, and no other identity "
        f"decrypts the keys of {ks.path}/",
        cluster.name,
    )


# -- static.federation --------------------------------------------------------------------------------------
def _implied(ctx: Context, config: Config, cluster: Cluster) -> dict[tuple[str, str], str]:
    """(namespace, ServiceAccount) -> why, for every ServiceAccount the committed tree makes Flux exchange."""
    found: dict[tuple[str, str], str] = {}
    if cluster.sops.key_vault:
        found[(config.flux.namespace, "kustomize-controller")] = "kustomize-controller (controller level)"
    facts = repo.patch_facts(ctx.root, config.sync_dir(cluster))
    lockdown = next((a.split("=", 1)[1] for a in facts.args if a.startswith(DEFAULT_DECRYPTION_SA_FLAG + "=")), "")
    for ks in repo.kustomizations_in(ctx.root, cluster.path, config.flux.namespace):
        if ks.decryption and ks.service_account:
            found.setdefault((ks.namespace, ks.service_account), f"Kustomization {ks.namespace}/{ks.name} ({ks.file})")
        elif ks.decryption and lockdown and not ks.secret_ref:
            found.setdefault(
                (ks.namespace, lockdown), f"default decryption ServiceAccount for {ks.namespace}/{ks.name}"
            )
    return found


def _bicep(ctx: Context) -> Finding | None:
    """``infra/azure`` (``fluxforge azure bicep``), when the repository has it: declares what the config does."""
    from generator.azure.commands import DEFAULT_OUT, run_bicep

    out = ctx.root / DEFAULT_OUT
    if not (out / "main.bicep").is_file():
        return None
    subject = f"{DEFAULT_OUT}/ (Bicep)"
    try:
        run_bicep(ctx.config_path, check=True)
    except FluxforgeError as err:
        stale = [line for line in err.problems if line.endswith("(run `fluxforge azure bicep`)")] or err.problems[:1]
        return _finding(
            "static.federation",
            subject,
            BROKEN,
            f"the Bicep does not declare what the config does: {'; '.join(stale[:4])}",
            "fluxforge azure bicep (then deploy it: az deployment group create "
            f"-g <resource group> -f {DEFAULT_OUT}/main.bicep)",
            problems=stale,
        )
    return _finding("static.federation", subject, OK, "declares the federated credentials of the config (up to date)")


def check_federation(ctx: Context) -> Iterator[Finding]:
    config = ctx.cfg()
    bicep = _bicep(ctx)
    if bicep is not None:
        yield bicep
    for cluster in config.clusters:
        declared = {(c.namespace, c.service_account) for c in declared_credentials(config, cluster)}
        implied = _implied(ctx, config, cluster)
        missing = [(pair, why) for pair, why in implied.items() if pair not in declared]
        if missing:
            text = "; ".join(
                f"{why} exchanges system:serviceaccount:{ns}:{sa}, which no identity of the config federates"
                for (ns, sa), why in missing
            )
            yield _finding(
                "static.federation",
                cluster.name,
                BROKEN,
                text,
                "declare it in fluxforge.yaml (kustomizations[].tenant {serviceAccount, identity}) and "
                "run fluxforge render, or remove decryption.serviceAccountName from the Kustomization",
                cluster.name,
                missing=[f"{ns}:{sa}" for (ns, sa), _ in missing],
            )
        else:
            yield _finding(
                "static.federation",
                cluster.name,
                OK,
                f"{len(implied)} subject(s) the tree uses, each declared for a federated credential",
                cluster.name,
            )


STATIC_GATES: tuple[Gate, ...] = (
    Gate("static.config", "static", "fluxforge.yaml is valid", check_config),
    Gate("static.tree", "static", "rendered tree matches the config", check_tree),
    Gate("static.patches", "static", "kustomize-controller patches (workload identity, feature gate)", check_patches),
    Gate("static.sops-rules", "static", ".sops.yaml covers every Kustomization folder", check_sops_rules),
    Gate("static.encrypted", "static", "encrypted files are decryptable where they are applied", check_encrypted),
    Gate("static.tenant-isolation", "static", "tenant identities decrypt only their own folders", check_isolation),
    Gate(
        "static.federation", "static", "federated credential subjects: used by the tree vs declared", check_federation
    ),
)
