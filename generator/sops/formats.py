"""Store selection by file name and the keyless "is this already encrypted" check."""

from __future__ import annotations

from pathlib import Path

from generator.errors import SopsError

FORMATS = ("yaml", "json", "dotenv", "binary")

_BY_SUFFIX = {".yaml": "yaml", ".yml": "yaml", ".json": "json", ".env": "dotenv", ".ini": "ini"}

# The bytes Flux's kustomize-controller looks for (sops-format.md §7.6).
_MARKERS = {
    "yaml": (b"mac: ENC[",),
    "json": (b'"mac": "ENC[',),
    "binary": (b'"mac": "ENC[',),
    "dotenv": (b"sops_mac=ENC[",),
}


def store_of(path: Path | str) -> str:
    """The sops store a file name selects: yaml / json / dotenv / ini by extension, else binary.

    The extension is Go's ``filepath.Ext``: everything from the last dot of the base name, so a file
    named ``.env`` is dotenv (Python's ``Path.suffix`` would say it has none).
    """
    name = Path(path).name
    dot = name.rfind(".")
    return _BY_SUFFIX.get(name[dot:].lower(), "binary") if dot >= 0 else "binary"


def detect_format(path: Path | str) -> str:
    """The store fluxforge uses for ``path``, as sops picks it; INI (which sops has) is refused."""
    fmt = store_of(path)
    if fmt == "ini":
        raise SopsError(f"{path}: INI files are not supported by fluxforge yet (sops would use its INI "
                        "store); keep the values in a YAML, JSON or .env file")
    return fmt


def is_encrypted(data: bytes, fmt: str) -> bool:
    """True when ``data`` carries sops metadata with a MAC (no key needed, no full parse)."""
    if fmt not in _MARKERS:
        raise ValueError(f"unknown sops format {fmt!r}")
    if fmt == "yaml":
        return b"\nsops:" in b"\n" + data and any(m in data for m in _MARKERS[fmt])
    if fmt == "dotenv":
        return any(line.startswith(b"sops_mac=ENC[") for line in data.splitlines())
    return b'"sops":' in data and any(m in data for m in _MARKERS[fmt])
