"""Run commands where production Azure host names resolve to the emulator, with nothing else reachable.

``unshare -mn`` gives a private network and mount namespace; the relay bind-mounts a hosts file there and
forwards 127.0.0.1:443 to the emulator's Unix socket. Commands join it with ``nsenter``. The host's
/etc/hosts and network are untouched. Needs root (CAP_SYS_ADMIN); ``Sandbox.available()`` says if it works.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Self

from .cloud import Emulator

RELAY = Path(__file__).with_name("relay.py")


class SandboxUnavailable(RuntimeError):
    """``unshare -mn`` (or nsenter) is not permitted on this machine."""


class Sandbox:
    def __init__(self, emulator: Emulator, workdir: Path) -> None:
        self.emulator = emulator
        self.workdir = workdir
        self.socket = workdir / "emulator.sock"
        self._relay: subprocess.Popen[str] | None = None

    @staticmethod
    def available() -> str | None:
        """None when the sandbox can run here, else the reason it cannot."""
        for tool in ("unshare", "nsenter", "mount", "ip"):
            if shutil.which(tool) is None:
                return f"{tool} not found"
        probe = subprocess.run(
            ["unshare", "-mn", "sh", "-c", "mount --bind /etc/hosts /etc/hosts && ip link set lo up"],
            capture_output=True,
            text=True,
            check=False,
        )
        return None if probe.returncode == 0 else f"unshare -mn refused: {probe.stderr.strip()}"

    def start(self) -> Self:
        reason = self.available()
        if reason:
            raise SandboxUnavailable(reason)
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.emulator.running:
            self.emulator.start()
        self.emulator.listen_unix(self.socket)
        hosts = self.emulator.hosts_file(self.workdir / "hosts")
        self._relay = subprocess.Popen(
            ["unshare", "-mn", "--", sys.executable, str(RELAY), str(hosts), str(self.socket)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self._relay.stdout is not None
        line = self._relay.stdout.readline()
        if line.strip() != "ready":
            err = self._relay.stderr.read() if self._relay.stderr else ""
            self.stop()
            raise SandboxUnavailable(f"relay did not start: {line.strip()} {err.strip()}")
        return self

    def stop(self) -> None:
        if self._relay is not None:
            stdin: IO[str] | None = self._relay.stdin
            if stdin:
                stdin.close()
            try:
                self._relay.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._relay.kill()
                self._relay.wait()
            self._relay = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def command(self, argv: Sequence[str], cwd: Path | None = None) -> list[str]:
        """``argv`` wrapped to run inside the namespace."""
        assert self._relay is not None, "sandbox not started"
        wd = str(cwd or Path.cwd())
        # chdir by path *inside* the namespace: nsenter --wd keeps a directory handle from the old mount
        # namespace (gVisor: renames there fail with EXDEV, getcwd with ENOENT)
        return ["nsenter", "-t", str(self._relay.pid), "-n", "-m", "--", "sh", "-c", 'cd "$0" && exec "$@"', wd, *argv]

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        input: str | None = None,
        timeout: float = 120,
        base_env: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in the namespace; ``env`` is added to ``base_env`` (default: this process's env)."""
        return _run(self.command(argv, cwd), env, cwd, input, timeout, base_env, **kwargs)


class Loopback:
    """The fallback where ``unshare`` is not permitted: same ``run`` API, commands run directly.

    The emulator must be built with ``Emulator(..., loopback=True)``: URLs are ``https://127.0.0.1:<port>``
    and Entra is reached as an ADFS authority, so nothing needs a host name (less faithful than Sandbox).
    """

    def __init__(self, emulator: Emulator) -> None:
        if not emulator.loopback:
            raise ValueError("Loopback needs Emulator(..., loopback=True)")
        self.emulator = emulator

    def start(self) -> Self:
        if not self.emulator.running:
            self.emulator.start()
        return self

    def stop(self) -> None:
        return

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        input: str | None = None,
        timeout: float = 120,
        base_env: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> subprocess.CompletedProcess[str]:
        return _run(list(argv), env, cwd, input, timeout, base_env, **kwargs)


def _run(
    command: list[str],
    env: Mapping[str, str] | None,
    cwd: Path | None,
    input: str | None,
    timeout: float,
    base_env: Mapping[str, str] | None,
    **kwargs: Any,
) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ if base_env is None else base_env)
    full.update(env or {})
    full["PWD"] = str(cwd or Path.cwd())  # Go's os.Getwd prefers a $PWD that matches "."
    return subprocess.run(
        command, env=full, cwd=cwd, input=input, capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )


Runner = Sandbox | Loopback


def sandbox_mode() -> str:
    """``namespace`` where unshare is permitted, else ``loopback``; FLUXFORGE_AZURE_SANDBOX overrides."""
    forced = os.environ.get("FLUXFORGE_AZURE_SANDBOX", "")
    if forced in ("namespace", "loopback"):
        return forced
    return "namespace" if Sandbox.available() is None else "loopback"
