"""Real files written by sops (../shared/vectors): we decrypt each one, MAC verified, to exactly what
sops 3.11 prints. The pgp-wrapped vectors get their data key from gpg in a throw-away GNUPGHOME
(fluxforge has no pgp key source; this only tests the value layer, the stores and the MAC)."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from generator.errors import SopsError
from generator.sops import api, engine, metadata
from generator.sops.keys import KeyOptions
from tests.helpers import VECTORS, require_vectors
from tests.helpers.sops import require, run_sops

KC = VECTORS / "kustomize-controller"
SOPS_VECTORS = VECTORS / "sops"


AGE_VECTORS = [
    ("algorithms__age.yaml", "keys__age.txt"),
    ("global__secret.yaml", "keys__age-global.txt"),
    ("patches__merge1.yaml", "keys__age.txt"),
    ("patches__merge2.yaml", "keys__age.txt"),
    ("envs__env.env", "keys__age.txt"),
    ("component__env.env", "keys__age.txt"),
    ("files__file.txt", "keys__age.txt"),
]


@pytest.mark.interop
@pytest.mark.parametrize(("name", "keyfile"), AGE_VECTORS)
def test_flux_age_vectors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, keyfile: str) -> None:
    require_vectors()
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(KC / keyfile))
    shutil.copy(KC / name, tmp_path / name)
    fmt = api.detect_format(name)
    ours = api.decrypt_bytes((KC / name).read_bytes(), fmt=fmt, path_for_errors=name)
    expected = run_sops(
        "decrypt", "--input-type", fmt, "--output-type", fmt, name, cwd=tmp_path, key_file=KC / keyfile
    ).stdout
    assert ours == expected
    if name == "files__file.txt":
        assert ours == b"value"


@pytest.mark.interop
def test_flux_secret_with_sops_json_inside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_vectors()
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(KC / "keys__age.txt"))
    from generator.yamlio import load_rt

    secret = load_rt((KC / "inside__secret.yaml").read_text())
    inner = base64.b64decode(secret["data"]["key"])
    assert api.is_encrypted(inner, "json")
    assert api.decrypt_bytes(inner, fmt="binary") == b"value"


def test_post_quantum_age_is_refused_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    require_vectors()
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(KC / "keys__age-pq.txt"))
    with pytest.raises(SopsError) as err:
        api.decrypt_bytes((KC / "algorithms__age-pq.yaml").read_bytes(), fmt="yaml", path_for_errors="pq.yaml")
    assert "pq.yaml" in str(err.value)


@pytest.fixture(scope="module")
def gnupghome(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_vectors()
    require("gpg")
    home = tmp_path_factory.mktemp("gnupg")
    home.chmod(0o700)
    subprocess.run(
        [
            "gpg",
            "--homedir",
            str(home),
            "--batch",
            "--quiet",
            "--import",
            str(SOPS_VECTORS / "pgp__sops_functional_tests_key.asc"),
        ],
        check=True,
        capture_output=True,
    )
    return home


def _pgp_data_key(raw: bytes, fmt: str, name: str, home: Path) -> bytes:
    _, meta_raw = engine.store_for(fmt).load_encrypted(raw, name)
    meta = metadata.from_mapping(meta_raw, name)
    enc = next(e.fields["enc"] for g in meta.groups for e in g if e.kind == "pgp")
    done = subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", "--quiet", "--decrypt"],
        input=enc.encode(),
        capture_output=True,
        check=True,
    )
    assert len(done.stdout) == 32
    return done.stdout


PGP_VECTORS = [
    ("example.yaml", "yaml"),
    ("example.json", "json"),
    ("example.txt", "binary"),
    ("functional-tests__res__comments.enc.yaml", "yaml"),
    ("functional-tests__res__format.enc.yaml", "yaml"),
    ("functional-tests__res__format.enc.json", "json"),
    ("functional-tests__res__format.enc.env", "dotenv"),
    ("functional-tests__res__multiple_keys.yaml", "yaml"),
]


@pytest.mark.interop
@pytest.mark.parametrize(("name", "fmt"), PGP_VECTORS)
def test_sops_pgp_vectors(tmp_path: Path, gnupghome: Path, name: str, fmt: str) -> None:
    raw = (SOPS_VECTORS / name).read_bytes()
    key = _pgp_data_key(raw, fmt, name, gnupghome)
    opened = engine.open_file(raw, fmt=fmt, name=name, cache={}, options=KeyOptions(), data_key=key)
    ours = opened.store.emit_plain(opened.docs)
    env_home = {"GNUPGHOME": str(gnupghome)}
    shutil.copy(SOPS_VECTORS / name, tmp_path / name)
    old = os.environ.copy()
    os.environ.update(env_home)
    try:
        expected = run_sops(
            "decrypt", "--input-type", "json" if fmt == "binary" else fmt, "--output-type", fmt, name, cwd=tmp_path
        ).stdout
    finally:
        os.environ.clear()
        os.environ.update(old)
    assert ours == expected


@pytest.mark.interop
def test_no_mac_vector_is_refused(gnupghome: Path) -> None:
    name = "functional-tests__res__no_mac.yaml"
    raw = (SOPS_VECTORS / name).read_bytes()
    key = _pgp_data_key(raw, "yaml", name, gnupghome)
    with pytest.raises(SopsError, match=f"{name}: .*no MAC"):
        engine.open_file(raw, fmt="yaml", name=name, cache={}, options=KeyOptions(), data_key=key)
    opened = engine.open_file(
        raw, fmt="yaml", name=name, cache={}, options=KeyOptions(), data_key=key, verify_mac=False
    )
    assert opened.docs


def test_pgp_only_file_names_the_unsupported_key_type() -> None:
    require_vectors()
    with pytest.raises(SopsError) as err:
        api.decrypt_bytes((SOPS_VECTORS / "example.yaml").read_bytes(), fmt="yaml", path_for_errors="example.yaml")
    text = str(err.value)
    assert "example.yaml" in text and "pgp" in text
