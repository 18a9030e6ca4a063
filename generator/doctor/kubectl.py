"""The cluster reader: the real ``kubectl`` (``--context``/``--kubeconfig`` as given), JSON output only.

Read-only (``get``, ``get --raw``) except ``create token``, which mints a short-lived token for the probe
(the token never leaves memory). A failure is a :class:`ReadError` with kubectl's first error line.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from generator.doctor.readers import ReadError

__all__ = ["Kubectl", "kubectl_missing"]

_TIMEOUT = 60


def kubectl_missing() -> str:
    """Why the cluster gates cannot run here ("" when kubectl is on PATH)."""
    return "" if shutil.which("kubectl") else "kubectl is not on PATH"


class Kubectl:
    def __init__(self, context: str | None = None, kubeconfig: Path | None = None) -> None:
        self.context = context
        self.kubeconfig = kubeconfig
        self.label = context or (
            f"current context of {kubeconfig.name}" if kubeconfig is not None else "current context"
        )

    def _base(self) -> list[str]:
        cmd = ["kubectl"]
        if self.kubeconfig is not None:
            cmd += ["--kubeconfig", str(self.kubeconfig)]
        if self.context:
            cmd += ["--context", self.context]
        return cmd

    def _run(self, *args: str) -> str:
        try:
            done = subprocess.run(
                [*self._base(), *args],
                capture_output=True,
                text=True,
                timeout=_TIMEOUT,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            raise ReadError(f"kubectl {args[0]}: {err}") from None
        if done.returncode != 0:
            lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
            raise ReadError(f"kubectl {' '.join(args[:2])} ({self.label}): {lines[-1] if lines else 'failed'}")
        return done.stdout

    def _json(self, *args: str) -> Any:
        out = self._run(*args)
        try:
            return json.loads(out)
        except ValueError:
            raise ReadError(f"kubectl {' '.join(args[:2])}: the answer is not JSON") from None

    def contexts(self) -> list[str]:
        """The context names of the kubeconfig (``kubectl config get-contexts -o name``)."""
        cmd = ["kubectl"] + (["--kubeconfig", str(self.kubeconfig)] if self.kubeconfig is not None else [])
        try:
            done = subprocess.run(
                [*cmd, "config", "get-contexts", "-o", "name"],
                capture_output=True,
                text=True,
                timeout=_TIMEOUT,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            raise ReadError(f"kubectl config: {err}") from None
        if done.returncode != 0:
            lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
            raise ReadError(f"kubectl config get-contexts: {lines[-1] if lines else 'failed'}")
        return [line.strip() for line in done.stdout.splitlines() if line.strip()]

    def discovery_issuer(self) -> str:
        doc = self._json("get", "--raw", "/.well-known/openid-configuration")
        issuer = doc.get("issuer") if isinstance(doc, dict) else None
        if not isinstance(issuer, str) or not issuer:
            raise ReadError("the cluster's /.well-known/openid-configuration names no issuer (is the OIDC issuer on?)")
        return issuer

    def get(self, kind: str, name: str, namespace: str = "") -> dict[str, Any] | None:
        args = ["get", kind, name, "-o", "json", "--ignore-not-found", "--show-managed-fields"]
        if namespace:
            args += ["-n", namespace]
        out = self._run(*args)
        if not out.strip():
            return None
        try:
            found = json.loads(out)
        except ValueError:
            raise ReadError(f"kubectl get {kind}: the answer is not JSON") from None
        return found if isinstance(found, dict) else None

    def list(self, kind: str, namespace: str = "", selector: str = "") -> list[dict[str, Any]]:
        args = ["get", kind, "-o", "json"] + (["-n", namespace] if namespace else ["-A"])
        if selector:
            args += ["-l", selector]
        doc = self._json(*args)
        items = doc.get("items") if isinstance(doc, dict) else None
        return [i for i in items or [] if isinstance(i, dict)]

    def create_token(self, namespace: str, service_account: str, audience: str) -> str:
        token = self._run(
            "create", "token", service_account, "-n", namespace, "--audience", audience, "--duration", "10m"
        ).strip()
        if not token:
            raise ReadError(f"kubectl create token {service_account}: no token returned")
        return token
