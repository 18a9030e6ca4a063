"""Key sources behind one small Protocol; which kinds exist, and how each is read, is ``kinds``.

A key source wraps and unwraps the 32-byte data key for one recipient. Instances live for one run
(one process), so a source may cache credentials, tokens and public keys across files. Only
``keys/azure_kv.py`` imports ``azure.*``, and it is imported lazily through ``source_for``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, Protocol

from generator.sops.keys import kinds
from generator.sops.record import field, record


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
        """Recover the data key from one metadata entry; raise ``KeySourceError`` with a clear message."""
        ...

    def recipient_of(self, entry: Mapping[str, Any]) -> str:
        """The recipient string of a metadata entry, comparable with the ``.sops.yaml`` form."""
        ...


@record(frozen=True)
class KeyOptions:
    """Run-wide settings for key sources, per kind: ``{"azure_kv": {"credential": "cli"}}`` (the
    ``options`` rows of ``kinds.KINDS``; the CLI offers each as a flag on every sops command)."""

    by_kind: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def get(self, kind: str, name: str) -> str | None:
        return self.by_kind.get(kind, {}).get(name)


def source_for(kind: str, options: KeyOptions, cache: dict[str, KeySource] | None = None) -> KeySource:
    """Return the key source for ``kind`` (importing its module on first use).

    Pass the same ``cache`` dict for a whole run so every file shares one source instance (one
    credential, one token, one public-key fetch per key).
    """
    if cache is not None and kind in cache:
        return cache[kind]
    row = kinds.BY_NAME.get(kind)
    if row is None or row.source is None:
        from generator.errors import SopsError

        supported = sorted(k.name for k in kinds.KINDS if k.source is not None)
        raise SopsError(f"unsupported key type {kind!r}; fluxforge supports: {', '.join(supported)}")
    source: KeySource = importlib.import_module(row.source).make_source(options)
    if cache is not None:
        cache[kind] = source
    return source
