"""The keyless check's memory, per git repository: which file contents were already found clean.

``fluxforge check`` in a repository reads every tracked file; most did not change since the last run.
The cache, ``<git dir>/fluxforge/check-cache``, remembers for each path the git blob id (SHA-1 of
``blob <size>\\0`` and the bytes, as ``git hash-object`` computes it) of the content last found to have
no problem, and whether that content is sops-encrypted. A file whose bytes hash to the remembered
blob id is not parsed again; any other content is checked in full. So an edit always reaches the
check (a new blob id), and the cache holds only blob ids, paths and a flag: never a byte of content.

Only clean verdicts are remembered: a file with a problem is checked (and reported) on every run.
The whole cache is dropped when its fingerprint changes: the cache format, fluxforge's version and
the size and time of every module of the installed fluxforge, the YAML library, the input size limit,
and the ``.sops.yaml`` in force (path and bytes), i.e. anything that could change a verdict.
Writes are atomic (temp file + rename); a repository fluxforge cannot write to is checked uncached.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

_FORMAT = "fluxforge-check-cache 1"
CACHE_PATH = Path("fluxforge") / "check-cache"
"""Below the git directory (``.git/fluxforge/check-cache``): never tracked, per work tree."""


def blob_id(data: bytes) -> str:
    """The git blob id (SHA-1) of ``data``: what ``git hash-object`` prints for a file holding it."""
    digest = hashlib.sha1(b"blob %d\0" % len(data), usedforsecurity=False)
    digest.update(data)
    return digest.hexdigest()


def fingerprint(rules_path: Path | None, input_limit: int) -> str:
    """Everything besides a file's path and bytes that could change its verdict, as one digest."""
    import generator

    digest = hashlib.sha256(f"{_FORMAT}\0{generator.__version__}\0{input_limit}\0{_yaml_engine()}\0".encode())
    package = Path(generator.__file__).parent
    for module in sorted(package.rglob("*.py")):
        info = module.stat()
        digest.update(f"{module.relative_to(package)}\0{info.st_size}\0{info.st_mtime_ns}\0".encode())
    if rules_path is not None:
        digest.update(os.fsencode(os.path.abspath(rules_path)) + b"\0")  # noqa: PTH100
        try:
            digest.update(rules_path.read_bytes())
        except OSError:
            digest.update(b"\0unreadable")
    return digest.hexdigest()


def _yaml_engine() -> str:
    """The YAML library and its C parser (the fast path uses it), by their installed files: which
    version parsed the remembered files (found without importing them)."""
    import importlib.util

    parts = []
    for name in ("ruamel.yaml", "_ruamel_yaml"):
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec is not None else None
        info = os.stat(origin) if origin else None  # noqa: PTH116
        parts.append(f"{name}={origin}:{info.st_size}:{info.st_mtime_ns}" if info is not None else f"{name}=-")
    return " ".join(parts)


class CheckCache:
    """Clean verdicts by work-tree path: ``path -> (blob id, encrypted)``; saved only when changed."""

    def __init__(self, file: Path, stamp: str, entries: Mapping[str, tuple[str, bool]]) -> None:
        self.file = file
        self.stamp = stamp
        self._entries = dict(entries)
        self._changed = False

    @classmethod
    def open(cls, git_dir: Path, stamp: str) -> CheckCache:
        """The cache of this repository (empty when missing, unreadable or of another fingerprint)."""
        file = git_dir / CACHE_PATH
        return cls(file, stamp, _load(file, stamp))

    def clean(self, rel: str, blob: str) -> bool | None:
        """Whether the content ``blob`` of ``rel`` is encrypted, when it was found clean before; else None."""
        entry = self._entries.get(rel)
        return entry[1] if entry is not None and entry[0] == blob else None

    def remember(self, rel: str, blob: str, encrypted: bool) -> None:
        """``rel`` holding ``blob`` has no problem."""
        if "\n" in rel:
            return  # one entry per line
        if self._entries.get(rel) != (blob, encrypted):
            self._entries[rel] = (blob, encrypted)
            self._changed = True

    def forget(self, rel: str) -> None:
        """``rel`` has a problem now (or could not be read): check it in full next time."""
        if self._entries.pop(rel, None) is not None:
            self._changed = True

    def save(self) -> bool:
        """Write the cache atomically when it changed; False when it could not be written."""
        from generator.errors import FluxforgeError
        from generator.fsio import write_atomic

        if not self._changed:
            return True
        lines = [f"{_FORMAT} {self.stamp}\n"]
        lines.extend(f"{blob} {int(encrypted)} {rel}\n" for rel, (blob, encrypted) in sorted(self._entries.items()))
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.file, "".join(lines).encode("utf-8", "surrogateescape"), sync=False)
        except (OSError, FluxforgeError):
            return False  # a read-only clone: the check stays right, only slower next time
        self._changed = False
        return True


def _load(file: Path, stamp: str) -> dict[str, tuple[str, bool]]:
    try:
        text = file.read_bytes().decode("utf-8", "surrogateescape")
    except OSError:
        return {}
    header, _, body = text.partition("\n")
    if header != f"{_FORMAT} {stamp}":
        return {}
    entries: dict[str, tuple[str, bool]] = {}
    for line in body.split("\n")[:-1]:
        blob, flag, rel = (line.split(" ", 2) + ["", ""])[:3]
        if len(blob) != 40 or flag not in ("0", "1") or not rel:
            return {}  # damaged: start afresh rather than trust any of it
        entries[rel] = (blob, flag == "1")
    return entries
