"""``fluxforge azure plan`` and ``fluxforge azure apply``: the desired state read and written through ARM.

``plan`` reads (never writes) and returns the :class:`~generator.azure.plan.Plan`. ``apply`` plans, refuses
before sending anything when the plan has problems, then creates and updates in dependency order (identities,
their federated credentials one after the other, vaults, keys, the custom role, role assignments, the
workloads' roles on the objects they mount), reports
each step as it is done, never deletes, and writes the client IDs of the identities into ``fluxforge.yaml``
(also those it could not finish: a failure says what was done before it, and a rerun continues).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from generator.azure.arm import Arm
from generator.azure.commands import load_desired
from generator.azure.desired import DesiredIdentity, DesiredState
from generator.azure.facts import IdentityFacts
from generator.azure.plan import ActualState, Change, Plan, make_plan
from generator.azure.writeback import with_client_ids
from generator.config.model import KeyPath
from generator.config.problems import dotted
from generator.errors import FluxforgeError
from generator.fsio import write_atomic

__all__ = ["ApplyFailed", "ApplyReport", "run_apply", "run_plan"]

StepPrinter = Callable[[str], None]


class ApplyFailed(FluxforgeError):
    """The plan has problems (nothing sent), or ARM refused a step (the steps before it are listed)."""


@dataclass
class ApplyReport:
    plan: Plan
    done: list[str] = field(default_factory=list)
    config_written: bool = False
    client_ids: dict[str, str] = field(default_factory=dict)


def _arm(state: DesiredState, credential: str | None) -> Arm:
    assert state.subscription_id is not None
    return Arm(state.subscription_id, credential)


def run_plan(config_arg: str | Path | None, *, credential: str | None = None) -> Plan:
    """Read ARM and compare; writes nothing anywhere."""
    _file, _config, state = load_desired(config_arg, need_subscription=True)
    arm = _arm(state, credential)
    return make_plan(state, arm.read(state))


def _verb(change: Change) -> str:
    return "created" if change.op == "+" else "updated"


class _Applier:
    def __init__(self, state: DesiredState, actual: ActualState, arm: Arm, progress: StepPrinter) -> None:
        self.state, self.actual, self.arm, self.progress = state, actual, arm, progress
        self.done: list[str] = []

    def step(self, line: str) -> None:
        self.done.append(line)
        self.progress(line)

    def location(self, group: str) -> str:
        return self.state.location or self.actual.groups.get(group.lower()) or ""

    def identity(self, ident: DesiredIdentity) -> None:
        made: IdentityFacts = self.arm.create_identity(ident, self.location(ident.resource_group))
        self.actual.identities[ident.key] = made
        self.step(f"created identity {ident.resource_group}/{ident.name} (client ID {made.client_id})")

    def run(self, change: Change) -> None:
        steps: dict[str, Callable[[Change], None]] = {
            "identity": self._identity_change,
            "credential": self._credential_change,
            "vault": self._vault_change,
            "key": self._key_change,
            "role": self._role_change,
            "assignment": self._assignment_change,
            "access": self._access_change,
        }
        step = steps.get(change.kind)  # "config" changes are the client-ID write-back, done after the steps
        if step is not None:
            step(change)

    def _identity_change(self, change: Change) -> None:
        if change.identity is not None:
            self.identity(change.identity)

    def _credential_change(self, change: Change) -> None:
        if change.credential is not None:
            self.arm.put_credential(change.credential)
            self.step(f"{_verb(change)} {change.label}")

    def _vault_change(self, change: Change) -> None:
        if change.key is None:
            return
        if change.op == "+":
            self.arm.create_vault(change.key, self.location(change.key.resource_group), self.state.tenant_id)
        else:
            self.arm.update_vault(change.key, change.vault_fields)
        self.step(f"{_verb(change)} {change.label}")

    def _key_change(self, change: Change) -> None:
        if change.key is not None:
            url = self.arm.create_key(change.key)
            self.step(f"created {change.label} ({url})")

    def _role_change(self, change: Change) -> None:
        if change.role is not None:
            self.arm.put_role(change.role)
            self.step(f"{_verb(change)} {change.label}")

    def _assignment_change(self, change: Change) -> None:
        if change.assignment is not None:
            self.assignment(change)

    def _access_change(self, change: Change) -> None:
        if change.access is None:
            return
        have = self.actual.identities.get(change.access.identity.key)
        assert have is not None, "identities are created first"
        self.arm.create_access(change.access, have.principal_id)
        self.step(f"created {change.label}")

    def assignment(self, change: Change) -> None:
        assignment = change.assignment
        assert assignment is not None
        if assignment.identity is not None:
            have = self.actual.identities.get(assignment.identity.key)
            assert have is not None, "identities are created first"
            principal = have.principal_id
        else:
            assert assignment.encryptor is not None
            principal = assignment.encryptor.object_id
        self.arm.create_assignment(assignment, principal)
        self.step(f"created {change.label}")


_ORDER = ("identity", "credential", "vault", "key", "role", "assignment", "access")


def run_apply(
    config_arg: str | Path | None, *, credential: str | None = None, progress: StepPrinter = lambda _line: None
) -> ApplyReport:
    """Plan, then create/update what is missing or different; write client IDs into the config."""
    file, _config, state = load_desired(config_arg, need_subscription=True)
    arm = _arm(state, credential)
    actual = arm.read(state)
    plan = make_plan(state, actual)
    if plan.problems:
        raise ApplyFailed(
            [f"! {p}" for p in plan.problems]
            + [f"nothing was sent: fix the {len(plan.problems)} problem(s) above and rerun"]
        )
    applier = _Applier(state, actual, arm, progress)
    report = ApplyReport(plan)
    try:
        for kind in _ORDER:
            for change in (c for c in plan.pending if c.kind == kind):
                applier.run(change)
    except FluxforgeError as err:
        written = _write_back(file, state, actual, report)
        raise ApplyFailed([*err.problems, *_explain(applier.done, written, file)]) from None
    report.done = applier.done
    _write_back(file, state, actual, report)
    return report


def _explain(done: list[str], written: bool, file: Path) -> list[str]:
    lines = (
        [f"done before the failure ({len(done)} step(s)):", *(f"  {line}" for line in done)]
        if done
        else ["nothing was changed in Azure before the failure"]
    )
    if written:
        lines.append(f"client IDs of the identities created so far are written to {file}")
    return [
        *lines,
        ("fix the cause and rerun `fluxforge azure apply`: it continues where it stopped (nothing is created twice)"),
    ]


def _write_back(file: Path, state: DesiredState, actual: ActualState, report: ApplyReport) -> bool:
    updates: dict[KeyPath, str] = {}
    for ident in state.identities:
        have = actual.identities.get(ident.key)
        if have is not None and ident.client_id != have.client_id.lower():
            updates.update(dict.fromkeys(ident.paths, have.client_id.lower()))
            report.client_ids[dotted((*ident.where, "clientId"))] = have.client_id.lower()
    if not updates:
        return False
    text = file.read_text(encoding="utf-8")
    report.config_written = write_atomic(file, with_client_ids(text, updates, display=str(file)).encode("utf-8"))
    return report.config_written
