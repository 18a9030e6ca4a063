"""What Flux itself reports: the Ready condition of each configured Kustomization on the cluster.

A Kustomization stuck on decryption names the gate its message means (``generator.sops.api.gate_for``,
the one table of error → gate); when that gate holds in this run
the failure is older than the fix and a reconcile clears it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from generator.config.model import Cluster, Config
from generator.doctor.context import Context
from generator.doctor.live_cluster import kube_reader, live_cluster
from generator.doctor.model import BROKEN, OK, WARN, Finding, Gate
from generator.sops.api import gate_for

__all__ = ["STATUS_GATES"]

KIND = "kustomizations.kustomize.toolkit.fluxcd.io"
_MESSAGE_MAX = 300


def _expected(config: Config, cluster: Cluster) -> list[tuple[str, str]]:
    found = [(config.flux.namespace, config.sync_name)]
    found += [(ks.namespace, ks.name) for ks in cluster.kustomizations]
    return list(dict.fromkeys(found))


def _ready(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if isinstance(c, Mapping) and c.get("type") == "Ready"), None)


def _short(message: str) -> str:
    text = " ".join(message.split())
    return text if len(text) <= _MESSAGE_MAX else text[:_MESSAGE_MAX] + "…"


def _decryption(reason: str, message: str) -> str:
    """The gate a Ready=False condition means, "sops" for an unmapped decryption failure, "" otherwise."""
    gate = gate_for(f"{reason} {message}")
    if gate:
        return gate
    lowered = message.lower()
    return "sops" if "decrypt" in lowered or "sops" in lowered else ""


def check_kustomizations(ctx: Context) -> Iterator[Finding]:
    cluster = live_cluster(ctx)
    config = ctx.cfg()
    kube = kube_reader(ctx)
    listed = ctx.read(("list", KIND), lambda: kube.list(KIND))
    by_name = {
        ((o.get("metadata") or {}).get("namespace", ""), (o.get("metadata") or {}).get("name", "")): o for o in listed
    }
    reconcile = "flux reconcile kustomization {name} -n {ns} --with-source"
    for ns, name in _expected(config, cluster):
        subject = f"{cluster.name}: Kustomization {ns}/{name}"
        fix = reconcile.format(name=name, ns=ns)
        obj = by_name.get((ns, name))
        if obj is None:
            yield Finding(
                "status.kustomizations",
                subject,
                WARN,
                "not in the cluster yet",
                reconcile.format(name=config.sync_name, ns=config.flux.namespace),
                cluster=cluster.name,
            )
            continue
        ready = _ready(obj) or {}
        status, reason, message = (
            str(ready.get("status", "Unknown")),
            str(ready.get("reason", "")),
            str(ready.get("message", "")),
        )
        if status != "False":
            yield Finding(
                "status.kustomizations", subject, OK, f"Ready={status} {reason}".strip(), cluster=cluster.name
            )
            continue
        yield _failed(ctx, cluster, subject, reason, message, fix)


def _failed(ctx: Context, cluster: Cluster, subject: str, reason: str, message: str, fix: str) -> Finding:
    means = _decryption(reason, message)
    text = f"Ready=False {reason}: {_short(message)}"
    if not means:
        return Finding("status.kustomizations", subject, WARN, text, fix, cluster=cluster.name)
    if means == "sops":
        return Finding(
            "status.kustomizations", subject, BROKEN, f"{text} (a decryption failure)", fix, cluster=cluster.name
        )
    now = ctx.status_of(means)
    if now == OK:
        advice = f"gate {means} holds now: the failure predates the fix; {fix}"
    elif now == BROKEN:
        advice = f"fix gate {means} first (above), then {fix}"
    else:
        advice = f"check gate {means} (not checked in this run), then {fix}"
    return Finding(
        "status.kustomizations",
        subject,
        BROKEN,
        f"{text} (means gate {means})",
        advice,
        means=means,
        cluster=cluster.name,
    )


STATUS_GATES: tuple[Gate, ...] = (
    Gate(
        "status.kustomizations",
        "status",
        "Flux Kustomizations are Ready (decryption failures mapped to their gate)",
        check_kustomizations,
    ),
)
