"""Gates as data: what a gate is, what checking it found, and the report of a whole walk.

A :class:`Gate` is one link of the trust chain (``azure.fic``: "a federated credential matches the
cluster's issuer, the ServiceAccount's subject and the token exchange audience"). Checking it yields one
:class:`Finding` per subject it applies to (each federated credential, each key, each tenant
ServiceAccount), in a fixed order: the report lists findings in chain order and names the first broken
one. Pure data, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

__all__ = [
    "BROKEN",
    "OK",
    "SKIPPED",
    "WARN",
    "Finding",
    "Gate",
    "Layer",
    "Report",
    "Skip",
    "Status",
    "cluster_finding",
]

Status = Literal["ok", "broken", "warn", "skipped"]
Layer = Literal["static", "cluster", "azure", "status", "probe"]
OK: Final = "ok"
BROKEN: Final = "broken"
WARN: Final = "warn"
SKIPPED: Final = "skipped"

SYMBOLS: Final[dict[str, str]] = {OK: "✔", BROKEN: "✘", WARN: "!", SKIPPED: "–"}


class Skip(Exception):
    """Raised by a check that cannot run (a dependency broken, an input missing): the reason is shown."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Finding:
    """What one gate found for one subject.

    ``reason`` says why (for ``ok`` what holds, briefly); ``fix`` is a command or an edit that repairs it
    (``broken``/``warn`` only); ``means`` names the gate a symptom points at (a Kustomization failing to
    decrypt with AADSTS70021 means ``azure.fic``); ``detail`` holds machine-readable facts for ``--format
    json`` (never a secret or a token).
    """

    gate: str
    subject: str
    status: Status
    reason: str
    fix: str = ""
    means: str = ""
    cluster: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def holds(self) -> bool:
        return self.status in (OK, WARN)


def cluster_finding(
    gate: str, cluster: str, subject: str, status: str, reason: str, fix: str = "", **detail: object
) -> Finding:
    """A finding about ``subject`` on the cluster named ``cluster`` (its subject reads ``cluster: subject``;
    no cluster: the subject alone)."""
    return Finding(
        gate,
        f"{cluster}: {subject}" if cluster else subject,
        status,  # type: ignore[arg-type]
        reason,
        fix,
        cluster=cluster,
        detail=dict(detail),
    )


@dataclass(frozen=True)
class Gate:
    """One gate of the chain. ``check`` receives the run's context and returns its findings in order."""

    id: str
    layer: Layer
    title: str
    check: Callable[[Any], Iterable[Finding]]
    needs: tuple[str, ...] = ()
    """Gates whose breakage makes this one meaningless (it is then skipped, naming them)."""


@dataclass(frozen=True)
class Report:
    """A whole walk: every finding in chain order."""

    findings: tuple[Finding, ...]
    gates: tuple[Gate, ...]
    strict: bool = False

    @property
    def checked(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.status != SKIPPED)

    @property
    def first_broken(self) -> Finding | None:
        bad = (BROKEN, WARN) if self.strict else (BROKEN,)
        return next((f for f in self.findings if f.status in bad), None)

    @property
    def ok(self) -> bool:
        """Every checked gate holds (with ``strict``, warnings count as broken)."""
        return self.first_broken is None

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def title_of(self, gate_id: str) -> str:
        return next((g.title for g in self.gates if g.id == gate_id), gate_id)
