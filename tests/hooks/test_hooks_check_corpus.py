"""`fluxforge check` on the corpus: every good file passes, every bad file prints its expected lines."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from generator.yamlio import load_rt
from tests.helpers import require_vectors
from tests.helpers.hooks import CORPUS, git

EXPECTED: dict[str, list[str]] = {
    str(k): [str(x) for x in v] for k, v in load_rt((CORPUS / "expected.yaml").read_text()).items()
}
GOOD = sorted(str(p.relative_to(CORPUS)) for p in (CORPUS / "good").rglob("*") if p.is_file())
BAD = sorted(str(p.relative_to(CORPUS)) for p in (CORPUS / "bad").rglob("*") if p.is_file())


def test_corpus_is_large_enough_and_fully_described() -> None:
    assert len(GOOD) >= 10 and len(BAD) >= 10 and len(GOOD) + len(BAD) >= 20
    assert sorted(EXPECTED) == BAD


SUMMARY = re.compile(
    r"^checked (\d+) file\(s\) (against \S+|without a \.sops\.yaml): (\d+) encrypted, (\d+) problem\(s\)$"
)


def problems_of(stderr: str) -> list[str]:
    """The problem lines of `fluxforge check`, after asserting that the last line is its summary with the
    matching problem count."""
    *lines, last = stderr.splitlines()
    match = SUMMARY.match(last)
    assert match, last
    assert int(match.group(4)) == len(lines), stderr
    return lines


@pytest.fixture
def in_corpus(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(CORPUS)
    return CORPUS


@pytest.mark.parametrize("rel", GOOD)
def test_good_file_passes(rel: str, in_corpus: Path, run_cli) -> None:
    result = run_cli("check", rel)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    encrypted = int(b"ENC[AES256_GCM" in (CORPUS / rel).read_bytes())
    assert result.stderr == f"checked 1 file(s) against .sops.yaml: {encrypted} encrypted, 0 problem(s)\n"


@pytest.mark.parametrize("rel", BAD)
def test_bad_file_reports_expected_lines(rel: str, in_corpus: Path, run_cli) -> None:
    result = run_cli("check", rel)
    assert result.exit_code == 1
    lines = problems_of(result.stderr)
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
    lines = problems_of(result.stderr)
    printed = sorted({line.split(":", 1)[0] for line in lines})
    assert printed == BAD
    assert len(lines) == sum(len(v) for v in EXPECTED.values())
    assert result.stderr.splitlines()[-1].startswith(f"checked {len(GOOD) + len(BAD) + 3} file(s) against .sops.yaml:")


def test_directory_argument_walks_it(in_corpus: Path, run_cli) -> None:
    result = run_cli("check", "good")
    assert result.exit_code == 0, result.output
    encrypted = sum(b"ENC[AES256_GCM" in (CORPUS / rel).read_bytes() for rel in GOOD)
    assert result.stderr == f"checked {len(GOOD)} file(s) against .sops.yaml: {encrypted} encrypted, 0 problem(s)\n"


def test_missing_path_is_an_error(in_corpus: Path, run_cli) -> None:
    result = run_cli("check", "nope.yaml")
    assert result.exit_code == 1
    assert result.stderr == "nope.yaml: no such file or directory\n"


NO_RULES = (
    "no .sops.yaml in the current directory or its parents (found as sops finds it): no rule says which "
    "files must be encrypted, so only plaintext Kubernetes Secrets were looked for; "
)


def test_no_sops_yaml_still_catches_plaintext_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli) -> None:
    """Without .sops.yaml nothing must be encrypted, but a plaintext Secret is still reported, and the
    missing rules are a problem of their own (no silent pass)."""
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
        NO_RULES + "run `fluxforge render` (it writes .sops.yaml from fluxforge.yaml) or pass --sops-config FILE; "
        "or pass --allow-missing-rules if that is all you want",
        "checked 3 file(s) without a .sops.yaml: 1 encrypted, 3 problem(s)",
    ]
    allowed = run_cli("check", "--allow-missing-rules", "secret.yaml", "plain.json", "sealed.yaml")
    assert allowed.exit_code == 1
    assert allowed.stderr.splitlines()[-1] == "checked 3 file(s) without a .sops.yaml: 1 encrypted, 2 problem(s)"


def test_no_rules_fail_unless_allowed_and_name_a_nearby_sops_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli
) -> None:
    """A clean folder but no rules: exit 1 (nothing said what to encrypt); --allow-missing-rules passes.
    A .sops.yaml below the working directory, above the files, is named with the way to use it."""
    fleet = tmp_path / "fleet"
    (fleet / "apps").mkdir(parents=True)
    (fleet / "apps/values.yaml").write_text("replicas: 3\n")
    monkeypatch.chdir(tmp_path)
    result = run_cli("check", "fleet/apps")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == "checked 1 file(s) without a .sops.yaml: 0 encrypted, 1 problem(s)"
    allowed = run_cli("check", "--allow-missing-rules", "fleet/apps")
    assert (allowed.exit_code, allowed.stderr) == (
        0,
        ("checked 1 file(s) without a .sops.yaml: 0 encrypted, 0 problem(s)\n"),
    )
    (fleet / ".sops.yaml").write_text("creation_rules: []\n")
    near = run_cli("check", "fleet/apps")
    assert near.exit_code == 1
    assert near.stderr.splitlines()[0] == (
        NO_RULES + "fleet/.sops.yaml is the .sops.yaml nearest to fleet/apps: run from fleet/ or pass --sops-config "
        "fleet/.sops.yaml; or pass --allow-missing-rules if that is all you want"
    )
    empty = run_cli("check", "--sops-config", "fleet/.sops.yaml", "fleet/apps")
    assert empty.exit_code == 1
    assert empty.stderr.splitlines() == [
        (
            "fleet/.sops.yaml has no creation_rules: no rule says which files must be encrypted, so only plaintext "
            "Kubernetes Secrets were looked for; run `fluxforge render` (it writes .sops.yaml from fluxforge.yaml) or "
            "pass --sops-config FILE; or pass --allow-missing-rules if that is all you want"
        ),
        "checked 1 file(s) against fleet/.sops.yaml: 0 encrypted, 1 problem(s)",
    ]


def test_catch_all_rule_does_not_require_every_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli) -> None:
    """A rule without path_regex supplies keys for `sops -e`; only plaintext Secrets are flagged."""
    pub = "age1w6natlasagt5e5cs3d3ducgk8deu6drhszjn7msrjdyn0f0x2qrqfxkppj"
    (tmp_path / ".sops.yaml").write_text(f"creation_rules:\n  - age: {pub}\n")
    (tmp_path / "values.yaml").write_text("replicas: 3\n")
    shutil.copy(CORPUS / "bad/plain/secret.yaml", tmp_path / "secret.yaml")
    monkeypatch.chdir(tmp_path)
    result = run_cli("check", "values.yaml", "secret.yaml", ".sops.yaml")
    assert result.exit_code == 1
    assert all(line.startswith("secret.yaml:") for line in problems_of(result.stderr))
    assert "only the catch-all .sops.yaml creation_rules[0] (no path_regex) covers" in result.stderr


def test_real_sops_and_flux_vectors(monkeypatch: pytest.MonkeyPatch, run_cli) -> None:
    """Files written by real sops (3.5-3.13) and Flux's test data pass; only the MAC-less vector fails.

    inside__secret.yaml is a Secret whose data value is a base64 sops document: Flux decrypts it, so
    it is not plaintext.
    """
    vectors = require_vectors()
    monkeypatch.chdir(vectors)
    result = run_cli("check", "--allow-missing-rules", "sops", "kustomize-controller")
    assert result.exit_code == 1
    assert problems_of(result.stderr) == [
        (
            "sops/functional-tests__res__no_mac.yaml:2:1: sops metadata has no MAC (sops refuses to decrypt it): "
            "re-encrypt the file"
        )
    ]
