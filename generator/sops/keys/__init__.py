"""Key sources behind one small Protocol, registered by the name sops uses in the metadata.

A key source wraps and unwraps the 32-byte data key for one recipient. Instances live for one run
(one process), so a source may cache credentials, tokens and public keys across files. Only
``keys/azure_kv.py`` imports ``azure.*``, and it is imported lazily through ``source_for``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


class KeySource(Protocol):
    """One kind of master key (the metadata list it lives in: ``age``, ``azure_kv``)."""

    kind: str

    def wrap(self, recipient: str, data_key: bytes) -> dict[str, str]:
        """Wrap ``data_key`` for ``recipient`` (as written in ``.sops.yaml``).

        Returns the metadata entry for this recipient, fields in the order sops writes them,
        ``enc`` included.
        """
        ...

    def unwrap(self, entry: Mapping[str, Any]) -> bytes:
        """Recover the data key from one metadata entry; raise ``KeyError_`` with a clear message."""
        ...

    def recipient_of(self, entry: Mapping[str, Any]) -> str:
        """The recipient string of a metadata entry, comparable with the ``.sops.yaml`` form."""
        ...


AZURE_CREDENTIALS = ("default", "workload", "environment", "cli", "managed")
"""``--credential`` choices: ``default`` = environment (secret/certificate) if set, workload identity if its
environment is set, then the Azure CLI login; the others pick exactly one azure-identity credential."""


@dataclass(frozen=True)
class KeyOptions:
    """Run-wide settings for key sources (from CLI flags / environment)."""

    azure_credential: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)


_MODULES = {"age": "generator.sops.keys.age", "azure_kv": "generator.sops.keys.azure_kv"}


def source_for(kind: str, options: KeyOptions, cache: dict[str, KeySource] | None = None) -> KeySource:
    """Return the key source for ``kind`` (importing its module on first use).

    Pass the same ``cache`` dict for a whole run so every file shares one source instance (one
    credential, one token, one public-key fetch per key).
    """
    if cache is not None and kind in cache:
        return cache[kind]
    try:
        module = importlib.import_module(_MODULES[kind])
    except KeyError:
        from generator.errors import SopsError

        raise SopsError(f"unsupported key type {kind!r}; fluxforge supports: {', '.join(_MODULES)}") from None
    source: KeySource = module.make_source(options)
    if cache is not None:
        cache[kind] = source
    return source
