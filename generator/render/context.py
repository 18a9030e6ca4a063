"""Pure helpers that shape the config into what the templates print.

No I/O and no Jinja here: YAML scalar quoting, Go duration formatting, the ``.sops.yaml`` rule
plan, and which Kustomization file owns a shared Namespace or tenant ServiceAccount.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from generator.config.model import Cluster, Config, KustomizationSpec
from generator.flux.tenancy import Decryptor, decryptors, merge_keys

__all__ = [
    "DATA_REGEX",
    "NOTHING_REGEX",
    "OwnedObjects",
    "SopsRule",
    "bicep_string",
    "go_duration",
    "owned_objects",
    "sops_rules",
    "yaml_scalar",
]

_PLAIN = re.compile(r"^[A-Za-z0-9_./+^$(\\][A-Za-z0-9_./:@=+,^$()|\\-]*$")
_SPECIAL = re.compile(
    r"^(y|yes|n|no|true|false|on|off|null|~|[-+]?\.?(inf|nan))$"
    r"|^[-+]?(0x[0-9a-f_]+|0o?[0-7_]+|[0-9][0-9_]*(\.[0-9_]*)?(e[-+]?[0-9]+)?|\.[0-9_]+)$"
    r"|^[0-9]+(:[0-9]+)+(\.[0-9]*)?$"
    r"|^[-+]?[0-9_]+$",  # ruamel.yaml reads digits-and-underscores ('_', '-_') as an int, and fails
    re.IGNORECASE,
)
DATA_REGEX = "^(data|stringData)$"
"""The ``encrypted_regex`` of every folder rule: a Secret's values, as Flux's SOPS guide recommends."""
NOTHING_REGEX = "^$"
"""The ``encrypted_regex`` of a folder fluxforge generates without secrets (a workload's Component): no key is
empty, so sops, the hook and the check encrypt nothing there, not even a SecretProviderClass's
``secretObjects[].data`` (which ``^(data|stringData)$`` would select, since sops matches keys at any depth)."""
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_UNIT_MS = {"ms": Decimal(1), "s": Decimal(1000), "m": Decimal(60_000), "h": Decimal(3_600_000)}


def bicep_string(value: str) -> str:
    """``value`` as a single-quoted Bicep string literal (``\\``, ``\'``, ``\\${`` and control characters escaped)."""
    out = value.replace("\\", "\\\\").replace("'", "\\'").replace("${", "\\${")
    out = out.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return f"'{out}'"


@cache  # a fleet prints the same names, namespaces and intervals thousands of times
def yaml_scalar(value: str) -> str:
    """``value`` as a YAML scalar that every YAML 1.1/1.2 reader reads back as the same string."""
    # a leading "-" is plain unless it reads as a sequence entry or a document marker
    body = value[1:] if value.startswith("-") and value[1:2] not in {"", " "} else value
    if _PLAIN.match(body.lstrip("-")) and not value.endswith(":") and not _SPECIAL.match(value):
        return value
    return json.dumps(value, ensure_ascii=False)


def go_duration(text: str) -> str:
    """Format a Flux duration like Go's ``time.Duration.String`` (``1m`` -> ``1m0s``)."""
    total = sum((Decimal(n) * _UNIT_MS[unit] for n, unit in _DURATION_PART.findall(text)), Decimal(0))
    if total < 1000:
        return f"{_trim(total)}ms" if total else "0s"
    hours, rest = divmod(total, _UNIT_MS["h"])
    minutes, rest = divmod(rest, _UNIT_MS["m"])
    seconds = _trim(rest / 1000)
    if hours:
        return f"{int(hours)}h{int(minutes)}m{seconds}s"
    if minutes:
        return f"{int(minutes)}m{seconds}s"
    return f"{seconds}s"


def _trim(number: Decimal) -> str:
    text = format(number.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True)
class SopsRule:
    """One ``creation_rules`` entry of ``.sops.yaml``."""

    path: str
    path_regex: str
    clusters: tuple[str, ...]
    azure_keyvault: tuple[str, ...]
    age: tuple[str, ...]
    shared: bool = False  # a folder the config does not name, pulled in by a kustomize build
    readers: tuple[str, ...] = ()
    """Who decrypts it: ``cluster staging``, ``tenant team-a of cluster staging`` (:mod:`generator.flux.tenancy`)."""
    workload: str | None = None
    """The workload whose generated Component this folder is: its rule encrypts nothing (:data:`NOTHING_REGEX`)."""

    @property
    def encrypted_regex(self) -> str:
        return NOTHING_REGEX if self.workload is not None else DATA_REGEX

    @property
    def who(self) -> str:
        """For the rule's comment: ``clusters staging, production``, or the readers when a tenant is one."""
        if self.workload is not None:
            return f"workload {self.workload}'s Component, generated without secret values: this rule encrypts none"
        if any(not r.startswith("cluster ") for r in self.readers):
            return "; ".join(self.readers)
        return f"cluster{'s' if len(self.clusters) > 1 else ''} {', '.join(self.clusters)}"


def _self_and_parents(folder: str) -> list[str]:
    parts = folder.split("/")
    return ["/".join(parts[:n]) for n in range(len(parts), 0, -1)]


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _applied_by(readers: list[Decryptor], shared: Mapping[str, frozenset[str]]) -> dict[str, set[str]]:
    """folder -> the ids of the decryptors that apply it, or whose builds read it (``shared``)."""
    applied_by: dict[str, set[str]] = {folder: set(ids) for folder, ids in shared.items()}
    for reader in readers:
        for path in reader.paths:
            applied_by.setdefault(path, set()).add(reader.id)
    return applied_by


def sops_rules(config: Config, shared: Mapping[str, frozenset[str]] | None = None) -> list[SopsRule]:
    """One rule per folder a decryptor applies, deepest first (sops uses the first matching rule).

    A folder's recipients are those of every decryptor (:func:`generator.flux.tenancy.decryptors`: a
    cluster's platform, or one of its tenants) that applies it or one of its parents, so a file is readable
    by each identity whose Kustomization can reach it; a tenant with its own keys adds only those (and the
    break-glass recipients). ``shared``: folders outside those that a decrypting Kustomization's build pulls
    in (``apps/base`` named by ``apps/staging/kustomization.yaml``), with the ids of the decryptors whose
    builds read them (:func:`generator.flux.sops_coverage.shared_folders`). A workload's generated Component
    folder gets its own rule first, with the recipients of the folder that builds it and :data:`NOTHING_REGEX`.
    """
    shared = shared or {}
    readers = decryptors(config)
    generated = {w.component_dir: w.name for cluster in config.clusters for w in cluster.workloads}
    folders = _deepest_first(readers, shared, generated)
    applied_by = _applied_by(readers, shared)
    named = {p for d in readers for p in d.paths}
    position = {d.id: index for index, d in enumerate(readers)}
    rules: list[SopsRule] = []
    for folder in folders:
        ids = set().union(*(applied_by.get(p, set()) for p in _self_and_parents(folder)))
        # decryptors in order, from an index by id: scanning every decryptor per folder made a fleet quadratic
        users = [readers[i] for i in sorted(position[x] for x in ids if x in position)]
        if users:  # else a workload outside every decrypting folder: no keys, and nothing to keep sops from
            rules.append(_folder_rule(folder, users, named, generated))
    return rules


def _deepest_first(
    readers: list[Decryptor], shared: Mapping[str, frozenset[str]], generated: dict[str, str]
) -> list[str]:
    """Every folder that gets a rule, deepest first; stable: config order within a depth."""
    in_order = _unique([*(p for d in readers for p in d.paths), *shared, *generated])
    return sorted(in_order, key=lambda p: -p.count("/"))


def _folder_rule(folder: str, users: list[Decryptor], named: set[str], generated: dict[str, str]) -> SopsRule:
    """The rule of one folder for the decryptors that apply it (``named``: folders a decryptor applies
    itself; ``generated``: workload Component folders -> workload name)."""
    keys = merge_keys(d.recipients for d in users)
    return SopsRule(
        path=folder,
        # sops matches against the path relative to the .sops.yaml folder (the repo root)
        path_regex="^" + folder.replace(".", r"\.") + "/",
        clusters=_unique(d.cluster.name for d in users),
        azure_keyvault=tuple(k.url for k in keys.key_vault),
        age=keys.age,
        shared=folder not in named and folder not in generated,
        readers=tuple(d.label for d in users),
        workload=generated.get(folder) if folder not in named else None,
    )


@dataclass(frozen=True)
class OwnedObjects:
    """Namespaced helpers a Kustomization file must carry (each emitted once per cluster)."""

    namespace: bool
    service_account: bool  # the tenant ServiceAccount
    decryption_service_account: bool = False  # flux.defaultDecryptionServiceAccount of its namespace
    reconciler_service_account: bool = False  # the tenant's reconciler, when it is not the decrypting one
    role_binding: bool = False  # the tenant reconciler's RoleBinding


def owned_objects(cluster: Cluster, flux_namespace: str, lockdown: str | None = None) -> dict[str, OwnedObjects]:
    """For each Kustomization name: does its file create its Namespace / tenant ServiceAccount / the
    default decryption ServiceAccount of its namespace? (The Flux namespace's default decryption
    ServiceAccount lives in the sync folder, applied by ``flux bootstrap`` itself.)"""
    seen_ns: set[str] = {flux_namespace}
    seen_sa: set[tuple[str, str]] = set()
    seen_rb: set[tuple[str, str]] = set()
    owned: dict[str, OwnedObjects] = {}
    for ks in cluster.kustomizations:
        default_sa = bool(lockdown) and ks.decryption and ks.tenant is None and ks.namespace != flux_namespace
        service_account = _new_sa(ks, seen_sa)
        reconciler = ks.tenant is not None and _new_default_sa(ks.namespace, ks.tenant.reconciler, seen_sa)
        owned[ks.name] = OwnedObjects(
            namespace=ks.namespace not in seen_ns,
            service_account=service_account,
            decryption_service_account=default_sa and _new_default_sa(ks.namespace, str(lockdown), seen_sa),
            reconciler_service_account=reconciler,
            role_binding=ks.tenant is not None and _new_default_sa(ks.namespace, ks.tenant.reconciler, seen_rb),
        )
        seen_ns.add(ks.namespace)
    return owned


def _new_sa(ks: KustomizationSpec, seen: set[tuple[str, str]]) -> bool:
    if ks.tenant is None:
        return False
    key = (ks.namespace, ks.tenant.service_account)
    if key in seen:
        return False
    seen.add(key)
    return True


def _new_default_sa(namespace: str, name: str, seen: set[tuple[str, str]]) -> bool:
    if (namespace, name) in seen:
        return False
    seen.add((namespace, name))
    return True
