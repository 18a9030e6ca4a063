"""Which keys wrap each encrypted file's data key, read without any key (the ``sops`` metadata only).

``fluxforge rotate-key`` asks it which files are still wrapped only for an old Key Vault key version and
whether an old version is still used at all. Pure apart from :func:`scan`, which reads the files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from generator.errors import FluxforgeError
from generator.fsio import read_input
from generator.sops import metadata as md
from generator.sops.detect import sops_state
from generator.sops.formats import detect_format

__all__ = ["FileKeys", "KvVersion", "file_keys", "kv_version", "scan"]


@dataclass(frozen=True, order=True)
class KvVersion:
    """One Key Vault key version as a file's ``azure_kv`` entry names it (``version`` "" when none)."""

    vault_url: str
    name: str
    version: str

    @property
    def key(self) -> tuple[str, str]:
        """The key without its version: ``(vault URL, key name)``, lower-cased as Key Vault compares them."""
        return self.vault_url.lower(), self.name.lower()

    @property
    def url(self) -> str:
        return f"{self.vault_url}/keys/{self.name}" + (f"/{self.version}" if self.version else "")

    @property
    def label(self) -> str:
        """``kv-fleet/sops-flux/<version>`` for messages."""
        vault = self.vault_url.removeprefix("https://").split(".", 1)[0]
        return f"{vault}/{self.name}" + (f"/{self.version}" if self.version else "")


def kv_version(vault_url: str, name: str, version: str | None) -> KvVersion:
    """Normalised as fluxforge writes key URLs: no trailing ``/``, no default ``:443``."""
    vault = vault_url.strip().rstrip("/")
    scheme, _, host = vault.partition("://")
    return KvVersion(f"{scheme}://{host.removesuffix(':443')}", name, version or "")


@dataclass(frozen=True)
class FileKeys:
    """The recipients of one encrypted file."""

    path: Path
    key_vault: tuple[KvVersion, ...]
    others: tuple[str, ...] = ()
    """Recipients of other kinds, as ``kind recipient`` (``age age1...``)."""

    def uses(self, key: tuple[str, str]) -> tuple[KvVersion, ...]:
        """Its entries of one Key Vault key (any version)."""
        return tuple(k for k in self.key_vault if k.key == key)


def _entry_recipient(entry: md.KeyEntry) -> str:
    for name in ("recipient", "fp", "arn", "resource_id", "key_id", "key_name"):
        if entry.fields.get(name):
            return str(entry.fields[name])
    return "?"


def file_keys(path: Path, data: bytes, fmt: str | None = None) -> FileKeys | None:
    """The recipients of ``data`` (None when it is not a sops-encrypted file)."""
    state = sops_state(data, fmt or detect_format(path))
    if not state.encrypted:
        return None
    meta = md.from_mapping(state.raw, str(path))
    key_vault: list[KvVersion] = []
    others: list[str] = []
    for entry in (e for group in meta.groups for e in group):
        if entry.kind == "azure_kv":
            key_vault.append(
                kv_version(
                    str(entry.fields.get("vault_url", "")),
                    str(entry.fields.get("name", "")),
                    str(entry.fields.get("version") or ""),
                )
            )
        else:
            others.append(f"{entry.kind} {_entry_recipient(entry)}")
    return FileKeys(path, tuple(dict.fromkeys(key_vault)), tuple(dict.fromkeys(others)))


def scan(paths: Sequence[Path]) -> tuple[list[FileKeys], list[str]]:
    """Every encrypted file at or below ``paths`` with its recipients, and one problem line per file that
    could not be read to tell (a file that may be encrypted is never silently left out)."""
    from generator.sops.files import expand

    found: list[FileKeys] = []
    problems: list[str] = []

    def keep(path: Path) -> bool:
        try:
            keys = file_keys(path, read_input(path))
        except FluxforgeError as err:
            problems.extend(line if line.startswith(f"{path}:") else f"{path}: {line}" for line in err.problems)
            return False
        except OSError as err:
            problems.append(
                f"{path}: cannot read ({err.strerror or err}), so it may be an encrypted file that was "
                "not looked at; fix its permissions and run again"
            )
            return False
        if keys is not None:
            found.append(keys)
        return keys is not None

    expand(paths, keep)
    return found, problems
