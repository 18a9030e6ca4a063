"""``azure.key-files``: each encrypted file a cluster applies is wrapped for a Key Vault key version that
Key Vault still accepts.

``azure.key`` checks each version by itself; this gate looks at the files: after a key rotation an old
version gets disabled, and a file wrapped *only* for disabled (or deleted) versions no longer decrypts in
the cluster — kustomize-controller asks Key Vault to decrypt with the version in the file's metadata, and a
disabled version is refused. A file whose only versions are expired is a warning: Key Vault refuses to
encrypt with an expired version, and whether it still decrypts is not documented, so the file should move to
the current version before anything else happens to the old one. The fix is ``fluxforge rotate-key``, after
re-enabling the version if needed (it has to decrypt the file once more).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import urlsplit

from generator import az_hints
from generator.config.model import Cluster
from generator.doctor import repo
from generator.doctor.context import Context
from generator.doctor.model import BROKEN, OK, WARN, Finding, Gate, Skip
from generator.doctor.readers import AzureReader
from generator.doctor.static import applying, cluster_files

__all__ = ["KEY_FILE_GATES", "check_key_files"]

GATE = "azure.key-files"
_USABLE, _UNKNOWN = "usable", "unknown"


def _vault_of(entry: repo.AzureEntry) -> str:
    return (urlsplit(entry.vault_url).hostname or "").split(".", 1)[0]


def _state(ctx: Context, reader: AzureReader, entry: repo.AzureEntry) -> tuple[str, str]:
    """(broken | warn | usable | unknown, why) for one ``azure_kv`` entry of a file; the reads are the ones
    ``azure.key`` made (the run's cache), so this gate costs no extra call for the configured versions."""
    name = _vault_of(entry)
    vault = ctx.read(("vault", name), lambda: reader.vault(name))
    if vault is None:
        return _UNKNOWN, f"vault {name} not found (gate azure.vault)"
    facts = ctx.read(
        ("key", vault.id, entry.name, entry.version), lambda: reader.key(vault, entry.name, entry.version or None)
    )
    label = f"{name}/{entry.name}/{entry.version}" if entry.version else f"{name}/{entry.name}"
    if facts is None:
        return BROKEN, f"{label} does not exist"
    if not facts.enabled:
        return BROKEN, f"{label} is disabled (Key Vault refuses to decrypt with it)"
    if facts.expires is not None and facts.expires <= int(time.time()):
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(facts.expires))
        return WARN, f"{label} expired at {when} (Key Vault refuses to encrypt with it)"
    return _USABLE, ""


def _fix(states: list[tuple[repo.AzureEntry, str, str]]) -> str:
    enable = [
        az_hints.keyvault_key_set_attributes(_vault_of(e), e.name, e.version, "--enabled true")
        for e, status, why in states
        if status == BROKEN and "disabled" in why
    ]
    return " && ".join([*enable, "fluxforge rotate-key"])


def _file_finding(ctx: Context, reader: AzureReader, cluster: Cluster, file: repo.EncryptedFile) -> Finding | None:
    states = [(e, *_state(ctx, reader, e)) for e in file.azure_kv]
    if any(status in (_USABLE, _UNKNOWN) for _, status, _ in states):
        return None
    held = sorted(set(file.age) & set(cluster.sops.age))
    status = BROKEN if all(s == BROKEN for _, s, _ in states) and not held else WARN
    return Finding(
        GATE,
        f"{cluster.name}: {file.path}",
        status,  # type: ignore[arg-type]
        _unusable_reason(states, held, status),
        _fix(states),
        cluster=cluster.name,
        detail={"file": file.path, "versions": [e.url for e, _, _ in states]},
    )


def _unusable_reason(states: list[tuple[repo.AzureEntry, str, str]], held: list[str], status: str) -> str:
    only = "recipients are" if len(states) > 1 else "recipient is"
    other = (
        f"; Flux can still use its age recipient {', '.join(held)}"
        if held
        else "; it has no other recipient this cluster holds"
        if status == BROKEN
        else ""
    )
    return f"its only Key Vault {only} unusable: {'; '.join(why for _, _, why in states)}{other}"


def check_key_files(ctx: Context) -> Iterator[Finding]:
    if ctx.azure is None:
        raise Skip(ctx.azure_skip or "no Azure reader")
    reader = ctx.azure
    files = [f for f in cluster_files(ctx) if f.azure_kv]
    for cluster in ctx.clusters():
        mine = _applied_by(ctx, cluster, files)
        found = [finding for f in mine if (finding := _file_finding(ctx, reader, cluster, f)) is not None]
        yield from found
        if mine and not found:
            yield Finding(
                GATE,
                f"{cluster.name}: {len(mine)} encrypted file(s)",
                OK,
                "each is wrapped for a Key Vault key version that is enabled and not expired",
                cluster=cluster.name,
            )


def _applied_by(ctx: Context, cluster: Cluster, files: list[repo.EncryptedFile]) -> list[repo.EncryptedFile]:
    """The files a Kustomization of ``cluster`` applies."""
    return [f for f in files if any(a.cluster.name == cluster.name for a in applying(ctx, f.path))]


KEY_FILE_GATES: tuple[Gate, ...] = (
    Gate(
        GATE,
        "azure",
        "every encrypted file is wrapped for a usable key version (not only disabled or expired ones)",
        check_key_files,
    ),
)
