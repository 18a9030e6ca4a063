"""The state one doctor run carries from gate to gate: the config, the readers, and what was found."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from generator.config.model import Cluster, Config
from generator.doctor.model import BROKEN, SKIPPED, Finding, Skip, Status
from generator.doctor.readers import AzureReader, KubeReader, Prober, ReadError

__all__ = ["Context"]

T = TypeVar("T")


@dataclass
class Context:
    config_path: Path
    config: Config | None = None
    cluster_name: str | None = None  # --cluster
    azure: AzureReader | None = None
    azure_skip: str = ""
    kube: KubeReader | None = None
    kube_skip: str = ""
    prober: Prober | None = None
    probe_skip: str = ""
    live_cluster: Cluster | None = None  # the cluster the kube context points at (cluster.issuer sets it)
    found: list[Finding] = field(default_factory=list)
    cache: dict[Any, Any] = field(default_factory=dict)
    gate: str = ""  # the gate being checked (set by the walk)
    unreadable: dict[str, str] = field(default_factory=dict)  # Azure/cluster -> the gate that said why first

    @property
    def root(self) -> Path:
        return self.config_path.parent

    def cfg(self) -> Config:
        if self.config is None:
            raise Skip("fluxforge.yaml does not load (gate static.config)")
        return self.config

    def clusters(self) -> tuple[Cluster, ...]:
        """The clusters the Azure gates look at: ``--cluster``, else every cluster of the config."""
        config = self.cfg()
        if self.cluster_name is None:
            return config.clusters
        return tuple(c for c in config.clusters if c.name == self.cluster_name)

    def memo(self, key: Any, make: Callable[[], T]) -> T:
        if key not in self.cache:
            self.cache[key] = make()
        return self.cache[key]  # type: ignore[no-any-return]

    def read(self, key: Any, make: Callable[[], T]) -> T:
        """A reader call, made once per run; a ReadError (kept) skips every gate that needs it."""
        value = self.memo(key, lambda: _attempt(make))
        if isinstance(value, ReadError):
            source = "the cluster" if _is_kube(key) else "Azure"
            first = self.unreadable.setdefault(source, self.gate)
            if first != self.gate:
                raise Skip(f"cannot read {source} (gate {first} says why)")
            raise Skip(f"cannot read: {value.problems[0]}")
        return value

    def status_of(self, gate: str, subject: str | None = None) -> Status | None:
        """The worst status found so far for ``gate`` (and ``subject``), None when not checked yet."""
        statuses = [f.status for f in self.found if f.gate == gate and (subject is None or f.subject == subject)]
        if not statuses:
            return None
        if BROKEN in statuses:
            return BROKEN
        return SKIPPED if all(s == SKIPPED for s in statuses) else statuses[0]


def _is_kube(key: Any) -> bool:
    head = key[0] if isinstance(key, tuple) else key
    return head in ("get", "list", "kube-issuer")


def _attempt(make: Callable[[], T]) -> T | ReadError:
    try:
        return make()
    except ReadError as err:
        return err
