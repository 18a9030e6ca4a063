"""Pure: the desired Azure state against what ARM holds -> ``+ ~ =`` lines, ``!`` problems and the steps
``apply`` takes.

``+`` missing (apply creates it), ``~`` differs (apply updates it; the fields are listed, Azure's value
first), ``=`` as wanted. ``!`` is something apply cannot or must not fix (a missing resource group, an
``existing`` resource that is not there, a key whose operations ARM cannot change, a client ID in the
config that is not the identity's, an AKS cluster without OIDC issuer or workload identity, or with
another issuer URL, a workload's vault that does not exist or uses access policies): plan exits 1 and apply
refuses before sending anything. ``?`` is what waits for someone else: a secret or key a workload mounts that
does not exist yet (fluxforge never writes secret values; the role assignment on it waits) or is disabled;
apply does everything else, plan exits 2 until nothing waits. Nothing is ever deleted.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from generator.az_hints import role_assignment_create
from generator.azure.desired import (
    MAX_CREDENTIALS,
    DesiredAccess,
    DesiredAks,
    DesiredAssignment,
    DesiredCredential,
    DesiredIdentity,
    DesiredKey,
    DesiredState,
    DesiredVaultObject,
    Role,
)
from generator.azure.facts import CredentialFacts, IdentityFacts, RoleFacts, VaultFacts
from generator.config.problems import dotted
from generator.render.workloads import create_hint, enable_hint

__all__ = [
    "ActualAks",
    "ActualAssignment",
    "ActualKey",
    "ActualObject",
    "ActualState",
    "Change",
    "Plan",
    "make_plan",
]

Op = Literal["+", "~", "="]


@dataclass(frozen=True)
class ActualKey:
    kty: str
    key_ops: tuple[str, ...]
    uri: str


@dataclass(frozen=True)
class ActualObject:
    """A secret or key a workload mounts, as ARM shows it (never its value)."""

    enabled: bool


@dataclass(frozen=True)
class ActualAssignment:
    name: str
    role_guid: str
    principal_id: str


@dataclass(frozen=True)
class ActualAks:
    oidc_enabled: bool
    issuer_url: str | None
    workload_identity: bool


@dataclass
class ActualState:
    """What ARM holds for the resources the desired state names (None: not found)."""

    subscription_id: str
    groups: dict[str, str | None] = field(default_factory=dict)  # group (lower) -> location
    identities: dict[tuple[str, str], IdentityFacts | None] = field(default_factory=dict)
    credentials: dict[tuple[str, str], list[CredentialFacts]] = field(default_factory=dict)
    vaults: dict[str, VaultFacts | None] = field(default_factory=dict)  # vault (lower)
    taken: dict[str, str] = field(default_factory=dict)  # vault (lower) not found here, name not available: why
    keys: dict[tuple[str, str], ActualKey | None] = field(default_factory=dict)
    assignments: dict[tuple[str, str], list[ActualAssignment]] = field(default_factory=dict)  # at the key scope
    roles: dict[str, RoleFacts | None] = field(default_factory=dict)  # role GUID
    clusters: dict[tuple[str, str], ActualAks | None] = field(default_factory=dict)
    objects: dict[tuple[str, str, str], ActualObject | None] = field(default_factory=dict)  # DesiredVaultObject.key
    scoped: dict[str, list[ActualAssignment]] = field(default_factory=dict)  # scope id (lower) -> at that scope


@dataclass(frozen=True)
class Change:
    """One line of the plan and, for ``+``/``~``, the step apply takes."""

    op: Op
    kind: Literal["identity", "credential", "vault", "key", "role", "assignment", "access", "config"]
    label: str
    details: tuple[str, ...] = ()
    identity: DesiredIdentity | None = None
    credential: DesiredCredential | None = None
    key: DesiredKey | None = None
    role: Role | None = None
    assignment: DesiredAssignment | None = None
    access: DesiredAccess | None = None
    vault_fields: tuple[str, ...] = ()  # vault properties to set on ~

    def lines(self) -> list[str]:
        return [f"{self.op} {self.label}", *(f"      {d}" for d in self.details)]


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...]
    problems: tuple[str, ...]
    checks: tuple[str, ...]  # read-only checks that passed (AKS)
    notes: tuple[str, ...] = ()  # what the Bicep declares but apply leaves to it (AcrPull, the Flux extension)
    waiting: tuple[str, ...] = ()  # what someone else must do first (a workload's secret to create)

    @property
    def pending(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.op != "=")

    def summary(self) -> str:
        add = sum(c.op == "+" for c in self.changes)
        change = sum(c.op == "~" for c in self.changes)
        same = sum(c.op == "=" for c in self.changes)
        text = f"Plan: {add} to add, {change} to change, {same} unchanged"
        text += f"; {len(self.waiting)} waiting" if self.waiting else ""
        return text + (f"; {len(self.problems)} problem(s) apply cannot fix" if self.problems else "")

    def lines(self) -> list[str]:
        out = [line for change in self.changes for line in change.lines()]
        out += [f"= {check}" for check in self.checks]
        out += [f"? {wait}" for wait in self.waiting]
        out += [f"! {problem}" for problem in self.problems]
        return out + [f"note: {note}" for note in self.notes] + [self.summary()]

    @property
    def exit_code(self) -> int:
        """As ``terraform plan -detailed-exitcode``: 0 nothing to do, 2 changes pending (or waiting for an
        object someone must create), 1 problems."""
        return 1 if self.problems else 2 if self.pending or self.waiting else 0


# -- comparing ---------------------------------------------------------------------------------------
def _slash_hint(have: str, want: str) -> str:
    return (
        " (only the trailing slash differs: Entra ID compares issuers exactly)"
        if (have.rstrip("/") == want.rstrip("/"))
        else ""
    )


def _subject_hint(have: str, want: str) -> str:
    h, w = have.split(":"), want.split(":")
    if len(h) == len(w) == 4 and h[:2] == w[:2] and h[3] == w[3] and h[2] != w[2]:
        return f" (the namespace differs: {h[2]!r} in Azure, {w[2]!r} in the config)"
    if have.lower() == want.lower():
        return " (only the case differs: Entra ID compares subjects exactly)"
    return ""


def credential_diff(have: CredentialFacts, want: DesiredCredential) -> list[str]:
    """The fields of a federated credential that differ, Azure's value first."""
    out = []
    if have.issuer != want.issuer:
        out.append(f"issuer: {have.issuer!r} -> {want.issuer!r}{_slash_hint(have.issuer, want.issuer)}")
    if have.subject != want.subject:
        out.append(f"subject: {have.subject!r} -> {want.subject!r}{_subject_hint(have.subject, want.subject)}")
    if list(have.audiences) != [want.audience]:
        out.append(f"audiences: {list(have.audiences)!r} -> {[want.audience]!r}")
    return out


class _Planner:
    def __init__(self, state: DesiredState, actual: ActualState) -> None:
        self.state, self.actual = state, actual
        self.changes: list[Change] = []
        self.problems: list[str] = []
        self.checks: list[str] = []
        self.waiting: list[str] = []

    def add(self, change: Change) -> None:
        self.changes.append(change)

    def groups(self) -> None:
        for group in self.state.resource_groups:
            if self.actual.groups.get(group.lower()) is None:
                where = self.state.location or "LOCATION"
                self.problems.append(
                    f"resource group {group} does not exist in subscription "
                    f"{self.actual.subscription_id}: az group create -n {group} -l {where}"
                )

    def identities(self) -> None:
        for ident in self.state.identities:
            have = self.actual.identities.get(ident.key)
            label = f"identity {ident.resource_group}/{ident.name}"
            if have is None and ident.existing:
                self.problems.append(
                    f"{label} is marked existing but does not exist ({dotted(ident.where)}): create "
                    "it, or drop existing: true to let apply create it"
                )
            elif have is None:
                self.add(Change("+", "identity", label, ("; ".join(ident.purposes),), identity=ident))
            else:
                self._client_id(ident, have, label)
            self.credentials(ident, have)

    def _client_id(self, ident: DesiredIdentity, have: IdentityFacts, label: str) -> None:
        if ident.client_id and ident.client_id != have.client_id.lower():
            self.problems.append(
                f"{dotted((*ident.where, 'clientId'))}: {ident.client_id} is not the client ID of "
                f"{label} ({have.client_id}); fix it in the config (or remove it: apply writes it)"
            )
            return
        self.add(Change("=", "identity", label, (f"client ID {have.client_id}",), identity=ident))

    def credentials(self, ident: DesiredIdentity, have: IdentityFacts | None) -> None:
        existing = self.actual.credentials.get(ident.key, []) if have is not None else []
        wanted = [c for c in self.state.credentials if c.identity.key == ident.key]
        new = 0
        for cred in wanted:
            change = _credential_change(cred, existing)
            new += change.op == "+"
            self.add(change)
        if len(existing) + new > MAX_CREDENTIALS:
            self.problems.append(
                f"identity {ident.name} would have {len(existing) + new} federated credentials "
                f"({len(existing)} in Azure, {new} to add); Azure allows at most {MAX_CREDENTIALS}: "
                "delete unused ones (az identity federated-credential delete) or use another identity"
            )

    def keys(self) -> None:
        seen: set[str] = set()
        for key in self.state.keys:
            if key.vault.lower() not in seen:
                seen.add(key.vault.lower())
                self._vault(key)
            self._key(key)

    def _vault(self, key: DesiredKey) -> None:
        have = self.actual.vaults.get(key.vault.lower())
        label = f"key vault {key.resource_group}/{key.vault}"
        if have is None:
            self._missing_vault(key, label)
        elif key.existing:
            self._existing_vault(key, label, have)
        else:
            wrong = [
                (f, v)
                for f, v in (
                    ("enableRbacAuthorization", have.rbac),
                    ("enablePurgeProtection", have.purge_protection),
                    ("enableSoftDelete", have.soft_delete),
                )
                if not v
            ]
            details = tuple(f"{f}: false -> true" for f, _ in wrong)
            self.add(
                Change("~" if wrong else "=", "vault", label, details, key=key, vault_fields=tuple(f for f, _ in wrong))
            )

    def _missing_vault(self, key: DesiredKey, label: str) -> None:
        """Not in the resource group: create it, unless it is marked existing or its (global) name is taken."""
        if key.existing:
            self.problems.append(f"{label} is marked existing but does not exist ({dotted(key.where)})")
        elif key.vault.lower() in self.actual.taken:
            self.problems.append(
                f"{label} cannot be created: {self.actual.taken[key.vault.lower()]} (vault names are "
                "global); if it is yours, give its resource group in sops.keyVault[].resourceGroup "
                f"({dotted(key.where)}), or choose another name; a soft-deleted vault must be "
                "recovered or purged first"
            )
        else:
            self.add(Change("+", "vault", label, ("Azure RBAC, purge protection, soft delete 90 days",), key=key))

    def _existing_vault(self, key: DesiredKey, label: str, have: VaultFacts) -> None:
        """A vault fluxforge does not manage: only its permission model matters (role assignments need RBAC)."""
        if not have.rbac:
            self.problems.append(
                f"{label} uses access policies: role assignments have no effect there; switch it to "
                f"Azure RBAC (az keyvault update -g {key.resource_group} -n {key.vault} "
                "--enable-rbac-authorization true) after granting the same access as roles"
            )
        else:
            self.add(Change("=", "vault", label, ("existing (not managed by fluxforge)",), key=key))

    def _key(self, key: DesiredKey) -> None:
        vault = self.actual.vaults.get(key.vault.lower())
        have = self.actual.keys.get((key.vault.lower(), key.key.lower())) if vault is not None else None
        label = f"key {key.label}"
        if have is None and key.existing:
            self.problems.append(f"{label} is marked existing but does not exist ({dotted(key.where)})")
        elif have is None:
            self.add(Change("+", "key", label, ("RSA 4096, operations encrypt and decrypt",), key=key))
        elif not have.kty.startswith("RSA") or not {"encrypt", "decrypt"} <= set(have.key_ops):
            self.problems.append(
                f"{label} is {have.kty} with operations {', '.join(have.key_ops) or 'none'}: SOPS needs "
                "an RSA key allowing encrypt and decrypt, and ARM never changes an existing key (az "
                f"keyvault key set-attributes --vault-name {key.vault} -n {key.key} --ops encrypt "
                "decrypt)"
            )
        else:
            self.add(Change("=", "key", label, (have.uri,), key=key))

    def roles(self) -> None:
        guids = {a.role.resolved(self.actual.subscription_id): a.role for a in self.state.assignments}
        for guid, role in guids.items():
            have = self.actual.roles.get(guid)
            if role.guid is not None:
                if have is None or have.name != role.name:
                    found = f"is {have.name!r}" if have else "does not exist"
                    self.problems.append(f"role definition {guid} {found}, expected built-in role {role.name!r}")
                continue
            label = f"role {role.name!r} ({guid})"
            if have is None:
                self.add(Change("+", "role", label, (f"dataActions: {', '.join(role.data_actions)}",), role=role))
            elif set(have.data_actions) != set(role.data_actions) or have.name != role.name:
                self.add(
                    Change(
                        "~",
                        "role",
                        label,
                        ((f"dataActions: {list(have.data_actions)!r} -> {list(role.data_actions)!r}"),),
                        role=role,
                    )
                )
            else:
                self.add(Change("=", "role", label, role=role))

    def assignments(self) -> None:
        sub = self.actual.subscription_id
        for assignment in self.state.assignments:
            label = (
                f"role assignment {assignment.role.name} on key {assignment.key.label} for {assignment.principal_label}"
            )
            principal = self._principal(assignment)
            current = self.actual.assignments.get((assignment.key.vault.lower(), assignment.key.key.lower()), [])
            guid = assignment.role.resolved(sub)
            match = next(
                (
                    a
                    for a in current
                    if principal and a.principal_id.lower() == principal.lower() and a.role_guid.lower() == guid
                ),
                None,
            )
            if match is not None:
                self.add(Change("=", "assignment", label, assignment=assignment))
            else:
                self.add(Change("+", "assignment", label, (f"name {assignment.name(sub)}",), assignment=assignment))

    def _principal(self, assignment: DesiredAssignment) -> str | None:
        if assignment.encryptor is not None:
            return assignment.encryptor.object_id
        assert assignment.identity is not None
        have = self.actual.identities.get(assignment.identity.key)
        return have.principal_id if have else None

    def config(self) -> None:
        for ident in self.state.identities:
            have = self.actual.identities.get(ident.key)
            if ident.client_id is None:
                value = have.client_id if have else "(the new identity's)"
                self.add(
                    Change(
                        "~",
                        "config",
                        f"fluxforge.yaml {dotted((*ident.where, 'clientId'))}",
                        (f"(none) -> {value}; then run `fluxforge render`",),
                        identity=ident,
                    )
                )

    def clusters(self) -> None:
        for aks in self.state.clusters:
            found = list(_aks_problems(aks, self.actual.clusters.get((aks.resource_group.lower(), aks.name.lower()))))
            self.problems.extend(found)
            if not found:
                self.checks.append(
                    f"AKS {aks.resource_group}/{aks.name}: OIDC issuer and workload identity enabled, "
                    f"issuer {aks.issuer}"
                )


class _WorkloadPlanner:
    """The workloads' part: their vaults (existing unless a SOPS vault), the objects they mount, the roles."""

    def __init__(self, planner: _Planner) -> None:
        self.p = planner

    def vaults(self) -> None:
        seen: set[str] = set()
        for target in self.p.state.vault_objects:
            if target.managed or target.vault.lower() in seen or self._sops_vault(target):
                continue
            seen.add(target.vault.lower())
            have = self.p.actual.vaults.get(target.vault.lower())
            label = f"key vault {target.resource_group}/{target.vault}"
            if have is None:
                self.p.problems.append(
                    f"{label} ({dotted(target.where)}) does not exist: fluxforge creates only the SOPS vaults "
                    f"(sops.keyVault); create it with Azure RBAC (az keyvault create -g {target.resource_group} -n "
                    f"{target.vault} --enable-rbac-authorization true) and the objects the workloads mount"
                )
            elif not have.rbac:
                self.p.problems.append(
                    f"{label} ({dotted(target.where)}) uses access policies: role assignments have no effect there; "
                    f"switch it to Azure RBAC (az keyvault update -g {target.resource_group} -n {target.vault} "
                    "--enable-rbac-authorization true) after granting the same access as roles"
                )
            else:
                self.p.add(Change("=", "vault", label, ("existing (a workload's vault, not managed by fluxforge)",)))

    def _sops_vault(self, target: DesiredVaultObject) -> bool:
        return any(k.vault.lower() == target.vault.lower() for k in self.p.state.keys)

    def objects(self) -> None:
        for target in self.p.state.vault_objects:
            if target.kind == "vault":
                continue
            have = self.p.actual.objects.get(target.key)
            if have is None:
                self.p.waiting.append(
                    f"{target.label} does not exist yet: create it ({_create_hint(target)}), then "
                    "run fluxforge azure apply again (the role on it waits for it)"
                )
            elif not have.enabled:
                self.p.waiting.append(
                    f"{target.label} is disabled: the CSI driver cannot read it "
                    f"({enable_hint(target.kind[:-1], target.vault, target.name)})"
                )

    def access(self) -> None:
        for access in self.p.state.access:
            target = access.target
            if target.kind != "vault" and self.p.actual.objects.get(target.key) is None:
                continue  # waiting for the object
            label = f"role assignment {access.role.name} on {target.label} for identity {access.identity.name}"
            have = self.p.actual.identities.get(access.identity.key)
            guid = access.role.resolved(self.p.actual.subscription_id)
            current = self.p.actual.scoped.get(target.scope_id(self.p.actual.subscription_id).lower(), [])
            if have is not None and any(
                a.principal_id.lower() == have.principal_id.lower() and a.role_guid.lower() == guid for a in current
            ):
                self.p.add(Change("=", "access", label, access=access))
            else:
                self.p.add(
                    Change("+", "access", label, (f"name {access.name(self.p.actual.subscription_id)}",), access=access)
                )


def _create_hint(target: DesiredVaultObject) -> str:
    return create_hint(target.kind[:-1], target.vault, target.name)


def _credential_change(cred: DesiredCredential, existing: list[CredentialFacts]) -> Change:
    label = f"federated credential {cred.identity.name}/{cred.name}"
    twin = next((a for a in existing if a.issuer == cred.issuer and a.subject == cred.subject), None)
    if twin is not None and list(twin.audiences) == [cred.audience]:
        named = "" if twin.name.lower() == cred.name.lower() else f" (exists as {twin.name!r})"
        return Change("=", "credential", label + named, credential=cred)
    same_name = twin or _named_credential(existing, cred.name)
    if same_name is not None:
        return _credential_update(cred, label, same_name)
    return Change(
        "+",
        "credential",
        label,
        (f"issuer {cred.issuer}", f"subject {cred.subject}", f"audience {cred.audience}"),
        credential=cred,
    )


def _named_credential(existing: list[CredentialFacts], name: str) -> CredentialFacts | None:
    return next((a for a in existing if a.name.lower() == name.lower()), None)


def _credential_update(cred: DesiredCredential, label: str, have: CredentialFacts) -> Change:
    """Update ``have`` (same issuer and subject, or same name) to what ``cred`` wants, keeping its name."""
    shown = label if have.name.lower() == cred.name.lower() else f"{label} (exists as {have.name!r})"
    target = DesiredCredential(cred.identity, have.name, cred.issuer, cred.subject, cred.cluster, cred.audience)
    return Change("~", "credential", shown, tuple(credential_diff(have, cred)), credential=target)


def _aks_problems(aks: DesiredAks, have: ActualAks | None) -> Iterator[str]:
    label = f"AKS {aks.resource_group}/{aks.name} (cluster {aks.cluster})"
    fix = f"az aks update -g {aks.resource_group} -n {aks.name}"
    if have is None:
        yield f"{label} does not exist (clusters[].aks names it)"
        return
    if not have.oidc_enabled:
        yield f"{label}: the OIDC issuer is disabled, so Entra ID cannot verify its tokens: {fix} --enable-oidc-issuer"
    if not have.workload_identity:
        yield (
            f"{label}: workload identity is disabled, so no pod gets AZURE_FEDERATED_TOKEN_FILE: "
            f"{fix} --enable-workload-identity"
        )
    if have.oidc_enabled and have.issuer_url and have.issuer_url != aks.issuer:
        yield (
            f"{label}: its issuer is {have.issuer_url!r} but the config says {aks.issuer!r}"
            f"{_slash_hint(have.issuer_url, aks.issuer)}; set clusters[].oidcIssuer to the cluster's (az aks show -g "
            f"{aks.resource_group} -n {aks.name} --query oidcIssuerProfile.issuerUrl -o tsv)"
        )


def bicep_only_notes(state: DesiredState, actual: ActualState) -> list[str]:
    """One line per resource only the Bicep deploys: AcrPull on a registry (fluxforge does not read
    registries), the AKS Flux extension and its Flux configuration (flux.install: extension)."""
    notes = []
    for item in state.registry_assignments:
        have = actual.identities.get(item.identity.key)
        principal = have.principal_id if have else f"<principal ID of {item.identity.name}>"
        notes.append(
            f"AcrPull on registry {item.resource_group}/{item.registry} for identity {item.identity.name}: "
            "deployed by the Bicep (fluxforge azure bicep), not by apply; or: "
            + role_assignment_create("AcrPull", principal, item.registry_id(actual.subscription_id))
        )
    notes.extend(
        f"cluster {ext.cluster}: the AKS Flux extension (workloadIdentity.azureClientId of "
        f"{ext.identity.name}) and its Flux configuration {ext.configuration} on {ext.aks_group}/"
        f"{ext.aks_name} are deployed by the Bicep (fluxforge azure bicep), not by apply"
        for ext in state.extensions
    )
    return notes


def make_plan(state: DesiredState, actual: ActualState) -> Plan:
    """Compare; never I/O."""
    planner = _Planner(state, actual)
    planner.groups()
    planner.identities()
    planner.keys()
    planner.roles()
    planner.assignments()
    workloads = _WorkloadPlanner(planner)
    workloads.vaults()
    workloads.objects()
    workloads.access()
    planner.config()
    planner.clusters()
    return Plan(
        tuple(planner.changes),
        tuple(planner.problems),
        tuple(planner.checks),
        notes=tuple(bicep_only_notes(state, actual)),
        waiting=tuple(planner.waiting),
    )
