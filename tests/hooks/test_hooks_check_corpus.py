"""`fluxforge check` on the corpus: every good file passes, every bad file prints its expected lines."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hooks_helpers import CORPUS, REPO_ROOT, git

from generator.yamlio import load_rt

EXPECTED: dict[str, list[str]] = {str(k): [str(x) for x in v]
                                  for k, v in load_rt((CORPUS / "expected.yaml").read_text()).items()}
GOOD = sorted(str(p.relative_to(CORPUS)) for p in (CORPUS / "good").rglob("*") if p.is_file())
BAD = sorted(str(p.relative_to(CORPUS)) for p in (CORPUS / "bad").rglob("*") if p.is_file())


def test_corpus_is_large_enough_and_fully_described() -> None:
    assert len(GOOD) >= 10 and len(BAD) >= 10 and len(GOOD) + len(BAD) >= 20
    assert sorted(EXPECTED) == BAD


@pytest.fixture
def in_corpus(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(CORPUS)
    return CORPUS


@pytest.mark.parametrize("rel", GOOD)
def test_good_file_passes(rel: str, in_corpus: Path, run_cli) -> None:
    result = run_cli("check", rel)
    assert result.exit_code == 0, result.output
    assert result.output == ""


@pytest.mark.parametrize("rel", BAD)
def test_bad_file_reports_expected_lines(rel: str, in_corpus: Path, run_cli) -> None:
    result = run_cli("check", rel)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == len(EXPECTED[rel]), result.stderr
    for fragment, line in zip(EXPECTED[rel], lines, strict=True):
        assert line.startswith(f"{rel}:{fragment}"), (line, fragment)


def test_plaintext_never_printed(in_corpus: Path, run_cli) -> None:
    result = run_cli("check", "bad", "good")
    assert result.exit_code == 1
    assert "corpus-secret" not in result.output and "Y29ycHVz" not in result.output


@pytest.mark.interop
def test_good_encrypted_files_are_real_sops_files(in_corpus: Path) -> None:
    """The good ciphertext decrypts with the real sops binary (MAC verified) and the corpus key."""
    encrypted = [rel for rel in GOOD if b"ENC[AES256_GCM" in (CORPUS / rel).read_bytes()]
    assert len(encrypted) >= 6
    for rel in encrypted:
        key = "key2.txt" if rel.startswith("good/other/") else "key1.txt"
        env = {**os.environ, "SOPS_AGE_KEY_FILE": str(CORPUS / key)}
        out = subprocess.run(["sops", "decrypt", rel], check=False, cwd=CORPUS, env=env, capture_output=True, text=True)
        assert out.returncode == 0, (rel, out.stderr)
        assert "corpus-secret" in out.stdout


def test_whole_repo_mode_checks_tracked_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli) -> None:
    """Without PATH, every tracked file is checked: the same lines as for the bad files, untracked ignored."""
    repo = tmp_path / "corpus"
    shutil.copytree(CORPUS, repo)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    (repo / "untracked-secret.yaml").write_text((CORPUS / "bad/plain/secret.yaml").read_text())
    monkeypatch.chdir(repo)
    result = run_cli("check")
    assert result.exit_code == 1
    printed = sorted({line.split(":", 1)[0] for line in result.stderr.splitlines()})
    assert printed == BAD
    assert len(result.stderr.splitlines()) == sum(len(v) for v in EXPECTED.values())


def test_directory_argument_walks_it(in_corpus: Path, run_cli) -> None:
    result = run_cli("check", "good")
    assert result.exit_code == 0, result.output


def test_missing_path_is_an_error(in_corpus: Path, run_cli) -> None:
    result = run_cli("check", "nope.yaml")
    assert result.exit_code == 1
    assert result.stderr == "nope.yaml: no such file or directory\n"


def test_no_sops_yaml_still_catches_plaintext_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      run_cli) -> None:
    """Without .sops.yaml nothing must be encrypted, but a plaintext Secret is still reported."""
    shutil.copy(CORPUS / "bad/secrets/plain-secret.yaml", tmp_path / "secret.yaml")
    shutil.copy(CORPUS / "bad/json/plain.json", tmp_path / "plain.json")
    shutil.copy(CORPUS / "good/secrets/app.yaml", tmp_path / "sealed.yaml")
    monkeypatch.chdir(tmp_path)
    result = run_cli("check", "secret.yaml", "plain.json", "sealed.yaml")
    assert result.exit_code == 1
    tail = "outside any .sops.yaml rule; add a creation rule for this file and encrypt it"
    assert result.stderr.splitlines() == [
        f"secret.yaml:8:13: Secret 'app': plaintext stringData.password {tail}",
        f"secret.yaml:9:9: Secret 'app': plaintext stringData.user {tail}",
    ]


def test_catch_all_rule_does_not_require_every_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   run_cli) -> None:
    """A rule without path_regex supplies keys for `sops -e`; only plaintext Secrets are flagged."""
    pub = "age1w6natlasagt5e5cs3d3ducgk8deu6drhszjn7msrjdyn0f0x2qrqfxkppj"
    (tmp_path / ".sops.yaml").write_text(f"creation_rules:\n  - age: {pub}\n")
    (tmp_path / "values.yaml").write_text("replicas: 3\n")
    shutil.copy(CORPUS / "bad/plain/secret.yaml", tmp_path / "secret.yaml")
    monkeypatch.chdir(tmp_path)
    result = run_cli("check", "values.yaml", "secret.yaml", ".sops.yaml")
    assert result.exit_code == 1
    assert all(line.startswith("secret.yaml:") for line in result.stderr.splitlines())
    assert "only the catch-all .sops.yaml creation_rules[0] (no path_regex) covers" in result.stderr


def test_real_sops_and_flux_vectors(monkeypatch: pytest.MonkeyPatch, run_cli) -> None:
    """Files written by real sops (3.5-3.13) and Flux's test data pass; only the MAC-less vector fails.

    inside__secret.yaml is a Secret whose data value is a base64 sops document: Flux decrypts it, so
    it is not plaintext.
    """
    vectors = REPO_ROOT.parent / "shared" / "vectors"
    assert vectors.is_dir(), f"{vectors} is missing: the shared vectors must sit next to the repository"
    monkeypatch.chdir(vectors)
    result = run_cli("check", "sops", "kustomize-controller")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        ("sops/functional-tests__res__no_mac.yaml:2:1: sops metadata has no MAC (sops refuses to decrypt it): "
        "re-encrypt the file")]
