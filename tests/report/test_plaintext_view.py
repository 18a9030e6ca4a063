"""The reviewer's view of each sops store: structure kept, encrypted values masked, the sops block dropped;
markers equal for equal values under one key, different for different values; keyless: <encrypted>."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from generator.commands.diff import Masker, plaintext_view, textconv
from generator.sops import api
from tests.helpers.sops import make_age_key, run_sops

PLAIN = {
    "yaml": b"kind: Secret\nstringData:\n  password: pw-SECRET\n  user: admin\n",
    "json": b'{"kind": "Secret", "stringData": {"password": "pw-SECRET", "user": "admin"}}',
    "dotenv": b"PASSWORD=pw-SECRET\nUSER=admin\n",
    "binary": b"raw pw-SECRET bytes\n",
}


_NAMES = {"yaml": "a.yaml", "json": "a.json", "dotenv": "a.env", "binary": "a.bin"}


@pytest.fixture
def recipient(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    key = make_age_key(tmp_path)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.key_file))
    return key.recipient, tmp_path


def _encrypt(fmt: str, recipient: tuple[str, Path]) -> bytes:
    """The real sops encrypts (every value: no rule, the default selector)."""
    plain = recipient[1] / f"plain-{_NAMES[fmt]}"
    plain.write_bytes(PLAIN[fmt])
    return run_sops(
        "encrypt", "--age", recipient[0], "--input-type", fmt, "--output-type", fmt, str(plain), cwd=recipient[1]
    ).stdout


@pytest.mark.parametrize("fmt", ["yaml", "json", "dotenv", "binary"])
def test_every_store_is_masked(fmt: str, recipient: tuple[str, Path]) -> None:
    data = _encrypt(fmt, recipient)
    mask = Masker(os.urandom(32))
    view = plaintext_view(data, fmt, api.decrypt_bytes(data, fmt=fmt), mask)
    assert "pw-SECRET" not in view and "ENC[" not in view and "sops" not in view.lower()
    assert "<masked:" in view
    assert plaintext_view(data, fmt, api.decrypt_bytes(data, fmt=fmt), mask) == view  # same key: same markers
    shown = plaintext_view(data, fmt, api.decrypt_bytes(data, fmt=fmt), Masker(None, show_values=True))
    assert "pw-SECRET" in shown
    keyless = plaintext_view(data, fmt, None, Masker(None))
    assert "pw-SECRET" not in keyless and "<encrypted>" in keyless


def test_textconv_by_file_name(tmp_path: Path, recipient: tuple[str, Path]) -> None:
    for fmt, name in (("yaml", "a.yaml"), ("json", "a.json"), ("dotenv", "a.env")):
        path = tmp_path / name
        path.write_bytes(_encrypt(fmt, recipient))
        out = textconv(path, b"k" * 32)
        assert b"pw-SECRET" not in out and b"<masked:" in out, name
