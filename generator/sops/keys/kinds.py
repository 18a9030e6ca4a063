"""The sops key kinds: one row per kind, every fact fluxforge needs about it in one place.

A row says how the kind is named in the metadata (``azure_kv``) and in ``.sops.yaml`` (``azure_keyvault``,
flat or inside ``key_groups``), the fields of a metadata entry in the order sops writes them, where sops
writes the list, the order in which sops tries kinds when it unwraps, the recipient text of an entry, how
a ``key_groups`` item is read, and the module of its key source (None: fluxforge reads and checks such
entries but cannot wrap or unwrap them). A new key source is one module (``make_source(options)``, a
``KeySource``) plus its row here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from generator.errors import SopsError
from generator.sops.record import record

AZURE_CREDENTIALS = ("default", "workload", "environment", "cli", "managed")
"""``--credential`` choices: ``default`` = environment (secret/certificate) if set, workload identity if its
environment is set, then the Azure CLI login; the others pick exactly one azure-identity credential."""


@record(frozen=True)
class KindOption:
    """A run-wide setting of one key kind, offered as a flag by every sops command."""

    name: str
    flag: str
    help: str
    choices: tuple[str, ...] = ()


@record(frozen=True)
class KeyKind:
    """Everything fluxforge knows about one sops key kind."""

    name: str
    """The metadata list name (``age``, ``azure_kv``) and the key of ``source_for``."""
    rule_field: str
    """The flat ``.sops.yaml`` creation-rule field (comma-separated or a list of strings)."""
    group_field: str
    """The field inside a ``key_groups`` entry."""
    fields: tuple[str, ...]
    """A metadata entry's fields in the order sops writes them."""
    recipient: Callable[[Mapping[str, Any]], str]
    """The recipient text of a metadata entry, comparable with what ``.sops.yaml`` names (no key needed)."""
    group_entry: Callable[[Any, str], list[str]]
    """A ``key_groups`` item as recipient texts; ``where`` names it in errors."""
    unwrap_rank: int
    """sops tries the entries of a key group in this order (age first, then pgp, then the rest)."""
    source: str | None = None
    """The module whose ``make_source(options)`` returns this kind's ``KeySource``."""
    options: tuple[KindOption, ...] = ()
    time_fields: tuple[str, ...] = ("created_at",)
    """Fields sops parses as RFC 3339 times when it loads the metadata."""
    omit_empty: frozenset[str] = frozenset()
    """Fields sops leaves out when they are empty."""
    after_mac: bool = False
    """Written after ``mac`` in a single-group file (sops's struct order)."""
    always_in_group: bool = False
    """Written (as an empty list) in every ``key_groups`` entry."""
    tagged: bool = True
    """Messages name a recipient as ``kind:recipient`` (age keys and Key Vault URLs name themselves)."""

    def display(self, recipient: str) -> str:
        return f"{self.name}:{recipient}" if self.tagged else recipient


def _text(field: str) -> Callable[[Mapping[str, Any]], str]:
    def recipient(entry: Mapping[str, Any]) -> str:
        return str(entry.get(field) or "").strip()

    return recipient


def key_vault_url(entry: Mapping[str, Any]) -> str:
    """``{vault_url}/keys/{name}[/{version}]``, sops's ``ToString`` of an ``azure_kv`` key."""
    url = f"{str(entry.get('vault_url') or '').rstrip('/')}/keys/{entry.get('name') or ''}"
    return f"{url}/{entry['version']}" if entry.get("version") else url


def _vault_transit_uri(entry: Mapping[str, Any]) -> str:
    address = str(entry.get("vault_address") or "").rstrip("/")
    return f"{address}/v1/{entry.get('engine_path') or ''}/keys/{entry.get('key_name') or ''}"


def describe(value: Any) -> str:
    """What a ``.sops.yaml`` value is, for messages (never its content)."""
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}" if value is not None else "nothing"


def recipient_list(value: Any, where: str) -> list[str]:
    """A comma-separated string or (sops >= 3.11) a list of strings; items trimmed, empties dropped."""
    if value is None:
        return []
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        items = value
    else:
        found = describe(value) if not isinstance(value, list) else "a list holding a non-string"
        raise SopsError(f"{where}: expected a string of comma-separated keys or a list of strings, found {found}")
    return [item.strip() for item in items if item.strip()]


def _strings(value: Any, where: str) -> list[str]:
    """A ``key_groups`` item that is a key string (comma-separated ones are split, as for the flat fields)."""
    return recipient_list(value, where)


def _mapping_or_string(field: str) -> Callable[[Any, str], list[str]]:
    """A ``key_groups`` item sops reads into a struct (``kms: [{arn: …, role: …}]``); a plain string names
    the key by that field."""

    def parse(value: Any, where: str) -> list[str]:
        if isinstance(value, Mapping):
            text = str(value.get(field) or "").strip()
            if not text:
                raise SopsError(f"{where}: needs {field}")
            return [text]
        if isinstance(value, str):
            return [value.strip()] if value.strip() else []
        raise SopsError(f"{where}: expected a mapping with {field} or a string, found {describe(value)}")

    return parse


def _key_vault_entry(value: Any, where: str) -> list[str]:
    if not isinstance(value, Mapping) or not value.get("vaultUrl") or not value.get("key"):
        raise SopsError(f"{where}: each entry needs vaultUrl and key (and version)")
    url = f"{str(value['vaultUrl']).rstrip('/')}/keys/{value['key']}"
    return [f"{url}/{value['version']}" if value.get("version") else url]


KINDS: tuple[KeyKind, ...] = (
    # sops's metadata struct order: the order the lists are written in
    KeyKind("pgp", "pgp", "pgp", ("created_at", "enc", "fp"), _text("fp"), _strings, 1, after_mac=True),
    KeyKind(
        "kms",
        "kms",
        "kms",
        ("arn", "role", "context", "created_at", "enc", "aws_profile"),
        _text("arn"),
        _mapping_or_string("arn"),
        2,
        omit_empty=frozenset({"role", "context"}),
    ),
    KeyKind(
        "gcp_kms",
        "gcp_kms",
        "gcp_kms",
        ("resource_id", "created_at", "enc"),
        _text("resource_id"),
        _mapping_or_string("resource_id"),
        3,
    ),
    KeyKind(
        "hckms", "hckms", "hckms", ("key_id", "created_at", "enc"), _text("key_id"), _mapping_or_string("key_id"), 4
    ),
    KeyKind(
        "azure_kv",
        "azure_keyvault",
        "azure_keyvault",
        ("vault_url", "name", "version", "created_at", "enc"),
        key_vault_url,
        _key_vault_entry,
        5,
        source="generator.sops.keys.azure_kv",
        tagged=False,
        options=(
            KindOption(
                "credential",
                "--credential",
                (
                    "Azure credential for Key Vault keys: default = environment (secret, certificate), then workload "
                    "identity, then your az login; or exactly one of the others."
                ),
                AZURE_CREDENTIALS,
            ),
        ),
    ),
    KeyKind(
        "hc_vault",
        "hc_vault_transit_uri",
        "hc_vault",
        ("vault_address", "engine_path", "key_name", "created_at", "enc"),
        _vault_transit_uri,
        _strings,
        6,
        always_in_group=True,
    ),
    KeyKind(
        "age",
        "age",
        "age",
        ("recipient", "enc"),
        _text("recipient"),
        _strings,
        0,
        source="generator.sops.keys.age",
        time_fields=(),
        always_in_group=True,
        tagged=False,
    ),
)
BY_NAME: Mapping[str, KeyKind] = {kind.name: kind for kind in KINDS}
UNWRAP_ORDER: tuple[KeyKind, ...] = tuple(sorted(KINDS, key=lambda kind: kind.unwrap_rank))
"""Also the order of the flat ``.sops.yaml`` fields in the one key group sops builds from them."""


def kind(name: str) -> KeyKind:
    """The row of ``name``; a ``SopsError`` naming the kinds sops knows otherwise."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise SopsError(f"unknown key type {name!r}; sops knows: {', '.join(BY_NAME)}") from None
