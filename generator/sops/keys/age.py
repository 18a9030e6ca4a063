"""The age key source (pyrage): armored one-recipient age files, identities found as sops finds
them (``SOPS_AGE_KEY``, ``SOPS_AGE_KEY_FILE``, ``SOPS_AGE_KEY_CMD``, ``$XDG_CONFIG_HOME/sops/age/keys.txt``,
``~/.ssh/id_ed25519``), all loaded and combined once per run."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from generator.errors import KeySourceError
from generator.sops.keys import KeyOptions
from generator.sops.keys.kinds import BY_NAME

KIND = "age"


class AgeSource:
    kind = KIND

    def __init__(self) -> None:
        self._recipients: dict[str, Any] = {}
        self._identities: list[Any] | None = None
        self._searched: list[str] = []

    def wrap(self, recipient: str, data_key: bytes) -> dict[str, str]:
        import pyrage

        recipient = recipient.strip()
        parsed = self._recipients.get(recipient)
        if parsed is None:
            parsed = self._recipients[recipient] = _parse_recipient(recipient)
        try:
            enc = pyrage.encrypt(data_key, [parsed], armored=True)
        except Exception as err:  # noqa: BLE001 - pyrage raises its own error types
            raise KeySourceError(f"age: cannot encrypt for {recipient}: {err}") from None
        return {"recipient": recipient, "enc": enc.decode("ascii")}

    def unwrap(self, entry: Mapping[str, Any]) -> bytes:
        import pyrage

        enc = str(entry.get("enc") or "")
        if "-----BEGIN AGE ENCRYPTED FILE-----" not in enc:
            raise KeySourceError(f"age: the key for {entry.get('recipient')} is not an armored age file")
        identities = self.identities()
        if not identities:
            raise KeySourceError(
                "age: no identity found; set SOPS_AGE_KEY_FILE or SOPS_AGE_KEY, or put keys in "
                + _default_key_file().as_posix()
            )
        try:
            return bytes(pyrage.decrypt(enc.encode("ascii"), identities))
        except Exception:  # noqa: BLE001 - any failure means "not one of our keys"
            raise KeySourceError(
                f"age: none of the {len(identities)} identities ({', '.join(self._searched)}) "
                f"decrypts the data key for {entry.get('recipient')}"
            ) from None

    def recipient_of(self, entry: Mapping[str, Any]) -> str:
        return BY_NAME[KIND].recipient(entry)

    def identities(self) -> list[Any]:
        if self._identities is None:
            self._identities = self._load()
        return self._identities

    def _load(self) -> list[Any]:
        found: list[Any] = []
        ssh = os.environ.get("SOPS_AGE_SSH_PRIVATE_KEY_FILE")
        for candidate in [Path(ssh)] if ssh else [Path.home() / ".ssh" / "id_ed25519"]:
            if candidate.is_file():
                found.extend(_ssh_identity(candidate))
                self._searched.append(str(candidate))
        if os.environ.get("SOPS_AGE_KEY"):
            found.extend(_parse_keys(os.environ["SOPS_AGE_KEY"], "SOPS_AGE_KEY"))
            self._searched.append("SOPS_AGE_KEY")
        key_file = os.environ.get("SOPS_AGE_KEY_FILE")
        if key_file:
            found.extend(_parse_keys(_read_key_file(Path(key_file), "SOPS_AGE_KEY_FILE"), key_file))
            self._searched.append(key_file)
        cmd = os.environ.get("SOPS_AGE_KEY_CMD")
        if cmd:
            found.extend(_parse_keys(_run_cmd(cmd), "SOPS_AGE_KEY_CMD"))
            self._searched.append("SOPS_AGE_KEY_CMD")
        default = _default_key_file()
        if default.is_file():
            found.extend(_parse_keys(_read_key_file(default, "the age key file"), str(default)))
            self._searched.append(str(default))
        return found


def _read_key_file(path: Path, what: str) -> str:
    """A key file's text: a regular file (never a FIFO or device), UTF-8; every failure names the file."""
    from generator.errors import InputError
    from generator.fsio import read_input

    try:
        data = read_input(path, what=what)
    except InputError as err:
        raise KeySourceError(f"age: {err}") from None
    except OSError as err:
        raise KeySourceError(f"age: {what} {path}: {err.strerror or err}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise KeySourceError(
            f"age: {what} {path}: not UTF-8 text (byte {err.start}); an age key file holds AGE-SECRET-KEY-1… lines"
        ) from None


def _default_key_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "sops" / "age" / "keys.txt"


def _parse_recipient(recipient: str) -> Any:
    import pyrage

    parser = (
        pyrage.x25519.Recipient
        if recipient.startswith("age1")
        else pyrage.ssh.Recipient
        if recipient.startswith(("ssh-ed25519 ", "ssh-rsa "))
        else None
    )
    try:
        if parser is not None:
            return parser.from_str(recipient)
    except Exception:  # noqa: BLE001, S110 - fall through to the one message below
        pass
    raise KeySourceError(f"age: {recipient!r} is not a valid age recipient (age1… or ssh-ed25519 …)")


def _parse_keys(text: str, origin: str) -> list[Any]:
    import pyrage

    out = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        for word in line.split():
            try:
                out.append(pyrage.x25519.Identity.from_str(word))
            except Exception:  # noqa: BLE001
                raise KeySourceError(f"age: {origin}:{number}: not an AGE-SECRET-KEY-1… identity") from None
    return out


def _ssh_identity(path: Path) -> list[Any]:
    import pyrage

    try:
        return [pyrage.ssh.Identity.from_buffer(path.read_bytes())]
    except Exception:  # noqa: BLE001 - encrypted or unsupported SSH keys are skipped, as sops warns
        return []


def _run_cmd(cmd: str) -> str:
    import shlex
    import subprocess  # here: only SOPS_AGE_KEY_CMD runs a program (not on every decrypt's start-up)

    try:
        done = subprocess.run(shlex.split(cmd), capture_output=True, text=True, check=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as err:
        raise KeySourceError(f"age: SOPS_AGE_KEY_CMD failed: {type(err).__name__}") from None
    return done.stdout


def make_source(options: KeyOptions) -> AgeSource:  # noqa: ARG001 - age needs no options
    return AgeSource()
