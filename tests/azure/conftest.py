"""Fixtures: one emulator (and one namespace sandbox) per session, a fresh standard world per test.

Where ``unshare -mn`` is not permitted the session falls back to ``Loopback`` (IP URLs, ADFS authority);
tests that need production host names then skip, which CI=true turns into a failure.
Helpers live in ``azworld`` (a uniquely named module: test modules import it, not ``conftest``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from azworld import CONTROLLER_NS, CONTROLLER_SA, KEY, VAULT, World

from tests.emulator import Emulator, Loopback, Runner, Sandbox, sandbox_mode

MODE = sandbox_mode()


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    loopback = MODE == "loopback"
    vaults = (VAULT,) if loopback else (VAULT, "othervault")
    emu = Emulator(tmp_path_factory.mktemp("emulator"), vaults=vaults, loopback=loopback).start()
    yield emu
    emu.stop()


@pytest.fixture(scope="session")
def sandbox(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    """Where commands (sops, fluxforge) run: the namespace sandbox, or the loopback fallback."""
    box: Runner = Sandbox(emulator, tmp_path_factory.mktemp("sandbox")) if MODE == "namespace" else Loopback(emulator)
    with box:
        yield box


@pytest.fixture
def production_names() -> None:
    """For tests whose point is the production host names: they need the namespace sandbox."""
    if MODE != "namespace":  # the top-level conftest turns this skip into a failure under CI=true
        pytest.skip(f"needs production host names; unshare -mn is not permitted here: {Sandbox.available()}")


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
