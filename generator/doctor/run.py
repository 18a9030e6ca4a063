"""Walk the gates in chain order and collect what each found.

Chain order: the repository (static), Azure (the identity, its federated credential, the vault, the
role, the key), the cluster (issuer, webhook, ServiceAccount, pods, feature gate, tenant
ServiceAccounts), what Flux reports, then the end-to-end probe. Azure comes before the cluster so that a
wrong client ID is blamed on the config when Azure disagrees with it, and on the cluster only when the
cluster disagrees with a config that Azure confirms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from generator.doctor.context import Context
from generator.doctor.key_files import KEY_FILE_GATES
from generator.doctor.live_azure import AZURE_GATES
from generator.doctor.live_cluster import CLUSTER_GATES
from generator.doctor.model import BROKEN, SKIPPED, Finding, Gate, Report, Skip
from generator.doctor.probe import PROBE_GATES
from generator.doctor.readers import AzureReader, KubeReader, Prober, ReadError
from generator.doctor.static import STATIC_GATES
from generator.doctor.status import STATUS_GATES
from generator.doctor.workloads import WORKLOAD_AZURE_GATES, WORKLOAD_CLUSTER_GATES, WORKLOAD_STATIC_GATES
from generator.errors import UsageError

__all__ = ["GATES", "DoctorOptions", "run_doctor", "walk"]

STATIC: tuple[Gate, ...] = STATIC_GATES + WORKLOAD_STATIC_GATES
GATES: tuple[Gate, ...] = (
    STATIC
    + AZURE_GATES
    + KEY_FILE_GATES
    + WORKLOAD_AZURE_GATES
    + CLUSTER_GATES
    + WORKLOAD_CLUSTER_GATES
    + STATUS_GATES
    + PROBE_GATES
)


def walk(ctx: Context, gates: Sequence[Gate], *, layer_skips: dict[str, str] | None = None) -> None:
    """Check every gate in order into ``ctx.found``; a gate whose layer is skipped gets one skipped line."""
    skips = layer_skips or {}
    for gate in gates:
        if gate.layer in skips:
            ctx.found.append(Finding(gate.id, "", SKIPPED, skips[gate.layer]))
            continue
        before = len(ctx.found)
        ctx.gate = gate.id
        try:
            for finding in gate.check(ctx):
                ctx.found.append(finding)
        except Skip as skip:
            ctx.found.append(Finding(gate.id, "", SKIPPED, skip.reason))
        if len(ctx.found) == before:
            ctx.found.append(Finding(gate.id, "", SKIPPED, "nothing to check"))


@dataclass(frozen=True)
class DoctorOptions:
    config: Path | None = None
    cluster: str | None = None
    static: bool = False
    probe: bool = False
    strict: bool = False
    subscription: str | None = None
    credential: str | None = None
    context: str | None = None
    kubeconfig: Path | None = None


def _subscription(ctx: Context, options: DoctorOptions) -> str | None:
    if options.subscription:
        return options.subscription
    return ctx.config.azure.subscription_id if ctx.config is not None else None


def _azure_reader(ctx: Context, options: DoctorOptions) -> tuple[AzureReader | None, str]:
    subscription = _subscription(ctx, options)
    if not subscription:
        return None, "no subscription: set azure.subscriptionId in fluxforge.yaml or pass --subscription"
    from generator.doctor.azure_reader import make_reader

    return make_reader(subscription, options.credential)


def _kube_reader(options: DoctorOptions) -> tuple[KubeReader | None, str]:
    """kubectl with ``--context``/``--kubeconfig``; naming a kubeconfig file or a context that does not exist is a
    usage error (exit 2), not a cluster that cannot be read."""
    from generator.doctor.kubectl import Kubectl, kubectl_missing

    if options.kubeconfig is not None and not options.kubeconfig.is_file():
        raise UsageError(f"--kubeconfig {options.kubeconfig}: no such file")
    missing = kubectl_missing()
    if missing:
        return None, missing
    reader = Kubectl(options.context, options.kubeconfig)
    if options.context:
        try:
            names = reader.contexts()
        except ReadError:
            return reader, ""  # an unreadable kubeconfig: the cluster gates are skipped and say why
        if options.context not in names:
            known = ", ".join(names) or "none"
            raise UsageError(
                f"--context {options.context}: no such context in "
                f"{options.kubeconfig or 'the kubeconfig'} (contexts: {known})"
            )
    return reader, ""


def _prober(options: DoctorOptions) -> tuple[Prober | None, str]:
    if not options.probe:
        return None, "--probe not given"
    from generator.doctor.probe import KeyVaultProbe

    return KeyVaultProbe(), ""


def run_doctor(
    options: DoctorOptions,
    *,
    azure: AzureReader | None = None,
    kube: KubeReader | None = None,
    prober: Prober | None = None,
) -> Report:
    """``fluxforge doctor``: every gate in chain order. Readers given here replace the ones built from
    ``options`` (tests pass readers bound to the emulator)."""
    from generator.config.load import config_path_for

    ctx = Context(config_path_for(options.config), cluster_name=options.cluster)
    walk(ctx, STATIC)
    live = GATES[len(STATIC) :]
    if options.static:
        walk(ctx, live, layer_skips=dict.fromkeys(("azure", "cluster", "status", "probe"), "--static: not checked"))
    elif ctx.config is None or ctx.status_of("static.config") == BROKEN:
        walk(
            ctx,
            live,
            layer_skips=dict.fromkeys(
                ("azure", "cluster", "status", "probe"), "not checked: gate static.config is broken"
            ),
        )
    else:
        ctx.kube, ctx.kube_skip = (kube, "") if kube is not None else _kube_reader(options)
        ctx.azure, ctx.azure_skip = (azure, "") if azure is not None else _azure_reader(ctx, options)
        if options.probe:
            ctx.prober, ctx.probe_skip = (prober, "") if prober is not None else _prober(options)
        else:
            ctx.probe_skip = "--probe not given"
        walk(ctx, live)
    return Report(tuple(ctx.found), GATES, strict=options.strict)
