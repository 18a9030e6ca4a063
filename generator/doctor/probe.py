"""The end-to-end probe (``--probe``): the exact path Flux takes, run from the laptop.

For each ServiceAccount the config federates on the cluster (kustomize-controller, each tenant's, the
lockdown's default ones): ``kubectl create token`` with audience ``api://AzureADTokenExchange``, exchange
it at Entra ID for the client ID its annotation names (as kustomize-controller does, a client assertion),
and ask Key Vault to decrypt the data key of a real encrypted file of the repository that this
ServiceAccount decrypts. The token and the data key stay in memory; neither is printed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from generator.az_hints import WI_AUDIENCE
from generator.config.model import Cluster, Config
from generator.doctor.context import Context
from generator.doctor.declared import DeclaredCredential, declared_credentials
from generator.doctor.live_cluster import kube_reader, live_cluster
from generator.doctor.model import BROKEN, OK, SKIPPED, Finding, Gate, Skip
from generator.doctor.readers import ProbeResult, ReadError
from generator.doctor.repo import CLIENT_ID, TENANT_ID, EncryptedFile
from generator.doctor.static import Applier, applying, cluster_files
from generator.errors import KeyVaultError
from generator.sops.api import gate_for

__all__ = ["PROBE_GATES", "KeyVaultProbe"]

_EXCHANGE_GATES = ("azure.fic", "azure.identity", "cluster.issuer")


class KeyVaultProbe:
    """Entra ID exchange and Key Vault Decrypt through the Azure SDK (``generator.sops.api.key_vault_source``)."""

    def unwrap(self, entry: dict[str, Any], tenant_id: str, client_id: str, token: str) -> ProbeResult:
        from generator.sops.api import key_vault_source

        source = key_vault_source(tenant_id, client_id, lambda: token)
        try:
            data_key = source.unwrap(entry)
        except KeyVaultError as err:
            message = err.problems[0]
            gate = gate_for(message)
            step = "exchange" if gate in _EXCHANGE_GATES or "Entra ID refused" in message else "decrypt"
            return ProbeResult(False, step, message, {"means": gate})
        return ProbeResult(True, detail={"data_key_bytes": len(data_key)})


@dataclass(frozen=True)
class _Run:
    cluster: Cluster
    credential: DeclaredCredential
    client_id: str
    file: EncryptedFile | None
    token_error: str = ""
    result: ProbeResult | None = None

    @property
    def subject(self) -> str:
        return f"{self.cluster.name}: {self.credential.namespace}/{self.credential.service_account}"


def decrypting_sa(config: Config, applier: Applier) -> tuple[str, str]:
    """The ServiceAccount kustomize-controller exchanges a token for to decrypt what ``applier`` applies."""
    ks = applier.ks
    if ks is not None and ks.tenant is not None:
        return ks.namespace, ks.tenant.service_account
    lockdown = config.flux.default_decryption_service_account
    if lockdown:
        return (ks.namespace if ks is not None else config.flux.namespace), lockdown
    return config.flux.namespace, "kustomize-controller"


def _cred_keys(ctx: Context, cluster: Cluster, cred: DeclaredCredential) -> set[tuple[str, str]]:
    """(vault URL, key) of the Key Vault keys the identity behind ``cred`` holds (a tenant's own, when it has them)."""
    from generator.flux.tenancy import applier_keys

    config = ctx.cfg()
    keys: set[tuple[str, str]] = set()
    for ks in [None, *cluster.kustomizations]:
        if decrypting_sa(config, Applier(cluster, ks)) == (cred.namespace, cred.service_account):
            keys |= {(k.vault_url, k.key) for k in applier_keys(cluster, ks).key_vault}
    return keys or {(k.vault_url, k.key) for k in cluster.sops.key_vault}


def _file_for(ctx: Context, cluster: Cluster, cred: DeclaredCredential) -> EncryptedFile | None:
    config = ctx.cfg()
    keys = _cred_keys(ctx, cluster, cred)
    for file in cluster_files(ctx):
        if not any((e.vault_url, e.name) in keys for e in file.azure_kv):
            continue
        if any(
            a.cluster.name == cluster.name and decrypting_sa(config, a) == (cred.namespace, cred.service_account)
            for a in applying(ctx, file.path)
        ):
            return file
    return None


def _client_id(ctx: Context, cred: DeclaredCredential) -> tuple[str, str]:
    kube = kube_reader(ctx)
    sa = (
        ctx.read(
            ("get", "sa", cred.namespace, cred.service_account),
            lambda: kube.get("serviceaccount", cred.service_account, cred.namespace),
        )
        or {}
    )
    notes = (sa.get("metadata") or {}).get("annotations") or {}
    return str(notes.get(CLIENT_ID) or cred.identity.client_id or ""), str(notes.get(TENANT_ID) or ctx.cfg().tenant_id)


def _run(ctx: Context, cluster: Cluster, cred: DeclaredCredential) -> _Run:
    file = _file_for(ctx, cluster, cred)
    client_id, tenant_id = _client_id(ctx, cred)
    if file is None or ctx.prober is None:
        return _Run(cluster, cred, client_id, file)
    try:
        token = kube_reader(ctx).create_token(cred.namespace, cred.service_account, WI_AUDIENCE)
    except ReadError as err:
        return _Run(cluster, cred, client_id, file, token_error=err.problems[0])
    keys = _cred_keys(ctx, cluster, cred)
    entry = next(e for e in file.azure_kv if (e.vault_url, e.name) in keys)
    return _Run(
        cluster, cred, client_id, file, result=ctx.prober.unwrap(entry.as_metadata(), tenant_id, client_id, token)
    )


def _runs(ctx: Context) -> list[_Run]:
    if ctx.prober is None:
        raise Skip(ctx.probe_skip or "--probe not given")
    cluster = live_cluster(ctx)
    if not cluster.sops.key_vault:
        raise Skip(f"cluster {cluster.name} is age only: no token exchange")
    config = ctx.cfg()
    return ctx.memo("probe-runs", lambda: [_run(ctx, cluster, c) for c in declared_credentials(config, cluster)])


def check_token(ctx: Context) -> Iterator[Finding]:
    for run in _runs(ctx):
        if run.file is None:
            yield Finding(
                "probe.token",
                run.subject,
                SKIPPED,
                "no encrypted file in the repository is decrypted as this ServiceAccount",
                cluster=run.cluster.name,
            )
        elif run.token_error:
            means = "cluster.tenant-sa" if run.credential.service_account != "kustomize-controller" else "cluster.sa"
            yield Finding(
                "probe.token",
                run.subject,
                BROKEN,
                f"kubectl create token failed: {run.token_error}",
                f"check gate {means}",
                means=means,
                cluster=run.cluster.name,
            )
        else:
            yield Finding(
                "probe.token", run.subject, OK, f"token issued for audience {WI_AUDIENCE}", cluster=run.cluster.name
            )


def _not_reached(run: _Run) -> str:
    if run.file is None:
        return "no encrypted file for this ServiceAccount"
    return "no token (gate probe.token)" if run.result is None else ""


def check_exchange(ctx: Context) -> Iterator[Finding]:
    for run in _runs(ctx):
        reason = _not_reached(run)
        if reason or run.result is None:
            yield Finding("probe.exchange", run.subject, SKIPPED, reason, cluster=run.cluster.name)
        elif not run.result.ok and run.result.step == "exchange":
            means = str(run.result.detail.get("means", ""))
            yield Finding(
                "probe.exchange",
                run.subject,
                BROKEN,
                run.result.message,
                f"fix gate {means}" if means else "see the message",
                means=means,
                cluster=run.cluster.name,
            )
        else:
            yield Finding(
                "probe.exchange",
                run.subject,
                OK,
                f"Entra ID issued a token for client ID {run.client_id}",
                cluster=run.cluster.name,
            )


def check_decrypt(ctx: Context) -> Iterator[Finding]:
    for run in _runs(ctx):
        reason = _not_reached(run)
        if reason or run.result is None or run.result.step == "exchange":
            yield Finding(
                "probe.decrypt",
                run.subject,
                SKIPPED,
                reason or "no Entra ID token (gate probe.exchange)",
                cluster=run.cluster.name,
            )
            continue
        assert run.file is not None
        if run.result.ok:
            yield Finding(
                "probe.decrypt",
                run.subject,
                OK,
                f"Key Vault decrypted the data key of {run.file.path}",
                cluster=run.cluster.name,
                detail={"file": run.file.path},
            )
        else:
            means = str(run.result.detail.get("means", ""))
            yield Finding(
                "probe.decrypt",
                run.subject,
                BROKEN,
                f"{run.file.path}: {run.result.message}",
                f"fix gate {means}" if means else "see the message",
                means=means,
                cluster=run.cluster.name,
                detail={"file": run.file.path},
            )


PROBE_GATES: tuple[Gate, ...] = (
    Gate("probe.token", "probe", "kubectl create token for the decrypting ServiceAccount", check_token),
    Gate("probe.exchange", "probe", "Entra ID exchanges the token for the identity", check_exchange),
    Gate("probe.decrypt", "probe", "Key Vault decrypts the data key of a real encrypted file", check_decrypt),
)
