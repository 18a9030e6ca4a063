"""The exception hierarchy. The CLI maps these to exit codes in one place (``cli.main``)."""

from __future__ import annotations

from collections.abc import Iterable


class FluxforgeError(Exception):
    """An expected failure whose message is written for the user.

    ``problems`` holds one line per problem (``file:line: key.path: message``); the CLI prints
    each on its own line. Exit code 1.
    """

    exit_code = 1

    def __init__(self, message: str | Iterable[str]) -> None:
        self.problems = [message] if isinstance(message, str) else list(message)
        super().__init__("\n".join(self.problems))


class ConfigError(FluxforgeError):
    """The fluxforge config file is unreadable or invalid."""


class RenderError(FluxforgeError):
    """A template failed to render, or the output tree cannot be written."""


class CheckFailed(FluxforgeError):
    """A ``--check`` found stale, missing or unsafe files."""


class SopsError(FluxforgeError):
    """A SOPS file cannot be encrypted, decrypted, or is malformed or tampered with."""


class KeySourceError(SopsError):
    """A key source (age, Azure Key Vault) could not wrap or unwrap a data key."""


class KeyVaultError(KeySourceError):
    """Azure Key Vault or Entra ID refused an operation; the message names the gate and the fix."""


class GitError(FluxforgeError):
    """A git operation failed or the repository state does not allow it."""


class WriteError(FluxforgeError, OSError):
    """An output file cannot be written (permissions, read-only or full file system, a file where a
    folder belongs); still an ``OSError`` with ``filename``, ``errno`` and ``strerror`` set.

    ``problems[0]`` is the one line ``fsio`` words for every writer: ``PATH: cannot write: REASON;
    FIX``. Callers that wrote several files append what was and was not written.
    """

    def __init__(
        self, message: str | Iterable[str], *, path: object = None, errno: int | None = None, reason: str | None = None
    ) -> None:
        FluxforgeError.__init__(self, message)
        self.filename = path
        self.errno = errno
        self.strerror = reason

    def __str__(self) -> str:
        return "\n".join(self.problems)


class InputError(FluxforgeError):
    """An input is not something fluxforge reads: a FIFO, device, socket or folder, or too big."""


class UsageError(FluxforgeError):
    """Wrong combination of arguments; exit code 2."""

    exit_code = 2
