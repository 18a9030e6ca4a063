"""Retries and failure handling of the azure_kv key source against injected faults (in process)."""

from __future__ import annotations

import os

import pytest
from azworld import World

from generator.errors import KeyVaultError
from generator.sops.keys import KeyOptions, KeySource, source_for


@pytest.fixture
def wrapped(in_process: World, monkeypatch: pytest.MonkeyPatch) -> tuple[World, dict[str, str], bytes]:
    """An entry wrapped by the developer; the process then runs as the Flux identity."""
    w = in_process
    for name, value in w.dev_env().items():
        monkeypatch.setenv(name, value)
    data_key = os.urandom(32)
    entry = source_for("azure_kv", KeyOptions(), {}).wrap(w.key_url, data_key)
    monkeypatch.delenv("AZURE_CLIENT_SECRET")
    for name, value in w.controller_env().items():
        monkeypatch.setenv(name, value)
    return w, entry, data_key


def _decrypt_statuses(w: World, mark: int) -> list[int]:
    return [e.status for e in w.emu.log.since(mark, "kv") if e.operation == "decrypt" and e.authorized]


def test_429_is_retried_after_the_retry_after_delay(wrapped: tuple[World, dict[str, str], bytes]) -> None:
    w, entry, data_key = wrapped
    source: KeySource = source_for("azure_kv", KeyOptions(), {})
    source.unwrap(entry)  # warm up: challenge, token, key read
    fault = w.emu.faults.status(429, retry_after=1, service="kv", path="/decrypt$", times=1)
    mark = w.emu.log.mark()
    assert source.unwrap(entry) == data_key
    calls = [e for e in w.emu.log.since(mark, "kv") if e.operation == "decrypt"]
    assert [e.status for e in calls] == [429, 200] and fault.fired == 1
    assert calls[1].at - calls[0].at >= 0.9  # the Retry-After header was honoured


@pytest.mark.parametrize("kind", ["500", "503", "reset"])
def test_transient_failures_are_retried(wrapped: tuple[World, dict[str, str], bytes], kind: str) -> None:
    w, entry, data_key = wrapped
    if kind == "reset":
        w.emu.faults.reset(service="kv", path="/decrypt$", times=2)
    else:
        w.emu.faults.status(int(kind), service="kv", path="/decrypt$", times=2)
    mark = w.emu.log.mark()
    assert source_for("azure_kv", KeyOptions(), {}).unwrap(entry) == data_key
    assert _decrypt_statuses(w, mark)[-3:] == [0 if kind == "reset" else int(kind)] * 2 + [200]


def test_a_vault_that_stays_down_gives_one_clear_error_then_fails_fast(
    wrapped: tuple[World, dict[str, str], bytes],
) -> None:
    w, entry, _ = wrapped
    w.emu.faults.status(503, retry_after=0.05, service="kv", path="/decrypt$", times=None)
    source = source_for("azure_kv", KeyOptions(), {})
    mark = w.emu.log.mark()
    with pytest.raises(KeyVaultError) as first:
        source.unwrap(entry)
    assert "Key Vault kept answering 503 (unavailable) after retries" in str(first.value)
    attempts = len(_decrypt_statuses(w, mark))
    assert attempts > 3  # it did retry
    mark = w.emu.log.mark()
    with pytest.raises(KeyVaultError, match="not retried: this vault already failed earlier in this run"):
        source.unwrap(entry)
    assert w.emu.log.since(mark, "kv") == []


def test_forbidden_is_not_retried(wrapped: tuple[World, dict[str, str], bytes]) -> None:
    w, entry, _ = wrapped
    w.emu.rbac.revoke(w.controller.object_id)
    mark = w.emu.log.mark()
    with pytest.raises(KeyVaultError, match="role assignment missing"):
        source_for("azure_kv", KeyOptions(), {}).unwrap(entry)
    assert _decrypt_statuses(w, mark) == [403]


def test_a_refused_token_is_asked_for_once_per_run(wrapped: tuple[World, dict[str, str], bytes]) -> None:
    """A broken federated credential costs one Entra round trip per run, not one per file."""
    w, entry, _ = wrapped
    w.controller.federated.clear()
    source = source_for("azure_kv", KeyOptions(), {})
    mark = w.emu.log.mark()
    for _ in range(5):
        with pytest.raises(KeyVaultError, match="AADSTS70021"):
            source.unwrap(entry)
    tokens = [e for e in w.emu.log.since(mark, "entra") if e.path.endswith("/token")]
    assert [e.status for e in tokens] == [400]
