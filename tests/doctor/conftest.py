"""The drill's world: sample-repo's Azure side and its staging cluster, healthy, in the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from doctorworld import DoctorWorld, build_world

from tests.azure.sample_secrets import key_material  # the sample's Key Vault key version (test-only)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DoctorWorld]:
    """A fresh healthy world per test (production host names resolve to the emulator in this process)."""
    built = build_world(tmp_path, key_material())
    try:
        for name, value in built.emu.tls_env().items():
            monkeypatch.setenv(name, value)
        with built.emu.patch_resolver():
            yield built
    finally:
        built.emu.stop()
