"""Store selection by file name and the keyless "is this already encrypted" check."""

from __future__ import annotations

from pathlib import Path

FORMATS = ("yaml", "json", "dotenv", "binary")

_BY_SUFFIX = {".yaml": "yaml", ".yml": "yaml", ".json": "json", ".env": "dotenv"}

# The bytes Flux's kustomize-controller looks for (sops-format.md §7.6).
_MARKERS = {
    "yaml": (b"mac: ENC[",),
    "json": (b'"mac": "ENC[',),
    "binary": (b'"mac": "ENC[',),
    "dotenv": (b"sops_mac=ENC[",),
}


def detect_format(path: Path | str) -> str:
    """yaml / json / dotenv by extension, binary for anything else (as sops does)."""
    return _BY_SUFFIX.get(Path(path).suffix.lower(), "binary")


def is_encrypted(data: bytes, fmt: str) -> bool:
    """True when ``data`` carries sops metadata with a MAC (no key needed, no full parse)."""
    if fmt not in _MARKERS:
        raise ValueError(f"unknown sops format {fmt!r}")
    if fmt == "yaml":
        return b"\nsops:" in b"\n" + data and any(m in data for m in _MARKERS[fmt])
    if fmt == "dotenv":
        return any(line.startswith(b"sops_mac=ENC[") for line in data.splitlines())
    return b'"sops":' in data and any(m in data for m in _MARKERS[fmt])
