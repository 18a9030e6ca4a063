"""Fixtures: one emulator (and one namespace sandbox) per session, a fresh standard world per test.

Helpers live in ``azworld`` (a uniquely named module: test modules import it, not ``conftest``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from azworld import CONTROLLER_NS, CONTROLLER_SA, KEY, VAULT, World

from tests.emulator import Emulator, Sandbox


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    emu = Emulator(tmp_path_factory.mktemp("emulator"), vaults=(VAULT, "othervault")).start()
    yield emu
    emu.stop()


@pytest.fixture(scope="session")
def sandbox(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    reason = Sandbox.available()
    if reason is not None:  # conftest turns this skip into a failure under CI=true
        pytest.skip(f"network namespace sandbox unavailable: {reason}")
    with Sandbox(emulator, tmp_path_factory.mktemp("sandbox")) as box:
        yield box


@pytest.fixture
def world(emulator: Emulator, tmp_path: Path) -> World:
    emulator.reset()
    version = emulator.vault().create_key(KEY)
    developer = emulator.add_identity("developer", roles=["SOPS Encrypt Only"], secret="dev-secret-value")
    controller = emulator.add_identity("id-flux-kustomize-controller", roles=["Key Vault Crypto User"])
    emulator.federate(controller, CONTROLLER_NS, CONTROLLER_SA)
    return World(emulator, tmp_path, version, developer, controller)


@pytest.fixture
def in_process(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """Production host names resolve to the emulator inside this process; the test CA is trusted."""
    for name, value in world.emu.tls_env().items():
        monkeypatch.setenv(name, value)
    with world.emu.patch_resolver():
        yield world
