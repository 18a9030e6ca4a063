"""Helpers shared by the whole test suite (one importable package: ``from tests.helpers import ...``).

``sops`` (age keys, the real sops binary, rules), ``hooks`` (real git repositories), ``upgrade`` (a
sample repository at an older Flux version), ``user_patches`` (an edit users make to generated files),
``arm_facts`` (what ARM holds, for the pure plan tests), ``azure_fleet`` (a fleet repository against the
emulator, its platform admin, a ServiceAccount token exchanged at Entra ID).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from generator.yamlio import load_all_rt

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_REPO = REPO_ROOT / "sample-repo"
FIXTURES = REPO_ROOT / "tests" / "fixtures"
SHARED = REPO_ROOT.parent / "shared"
VECTORS = SHARED / "vectors"
VECTORS_ORIGIN = (
    "third-party sops test vectors (files written by upstream sops: getsops/sops test data and "
    "fluxcd/kustomize-controller internal/controller/testdata/sops, with their keys) are not in the "
    "repository; put them in ../shared/vectors/ next to the clone to run these tests"
)


SAMPLE_LOCKDOWN = (
    "  lockdown: true              # multi-tenancy lockdown: no cross-namespace refs, no remote bases, tenants\n"
    "                              # apply as their own ServiceAccount; platform Kustomizations decrypt as "
    "flux-decryption\n"
)
"""The sample's ``flux.lockdown`` lines (issue 14: the sample shows a locked-down tenant)."""


SAMPLE_TENANT_TARGET = (
    "        targetNamespace: team-a   # no dependsOn on infrastructure: the lockdown refuses a cross-namespace one\n"
)


def unlocked(text: str) -> str:
    """The sample's fluxforge.yaml without ``flux.lockdown`` (so without the flux-decryption default) and with
    team-a's ``dependsOn: [infrastructure]`` back, which the lockdown refuses: the fleet as it is without the
    lockdown, for tests of what such a tree renders."""
    assert SAMPLE_LOCKDOWN in text and SAMPLE_TENANT_TARGET in text, "the sample's fluxforge.yaml lost its lockdown"
    return text.replace(SAMPLE_LOCKDOWN, "", 1).replace(
        SAMPLE_TENANT_TARGET, "        targetNamespace: team-a\n        dependsOn: [infrastructure]\n", 1
    )


def require_vectors() -> Path:
    """``../shared/vectors``, the upstream sops files the interop tests decrypt. Not part of a clone:
    outside CI a test that needs them is skipped with a reason saying where they come from; under
    ``CI=true`` their absence fails the test (a skip would fail the run anyway)."""
    if not VECTORS.is_dir():
        message = f"{VECTORS} missing: {VECTORS_ORIGIN}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return VECTORS


def snapshot(root: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every file below ``root`` with its bytes, inode and mtime: equal snapshots mean nothing was written
    (not even the same bytes again, which an atomic replace would show as a new inode)."""
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_ino, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def kustomize(folder: Path) -> dict[tuple[str, str, str], Any]:
    """``kubectl kustomize`` of ``folder`` (with the gotk-components fixture copied in): objects by
    (kind, namespace, name)."""
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is required (scripts/test.sh checks for it)"
    shutil.copy(FIXTURES / "gotk-components.yaml", folder / "gotk-components.yaml")
    proc = subprocess.run([kubectl, "kustomize", str(folder)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    docs = [d for d in load_all_rt(proc.stdout) if d is not None]
    return {(d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"]): d for d in docs}
