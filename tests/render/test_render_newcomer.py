"""render/upgrade/lint find fluxforge.yaml in parent folders (as git finds its repository), and an
age-only config renders what Flux needs to decrypt in the cluster (decryption.secretRef to the
sops-age Secret) and says, when it writes such a Kustomization, how to create that Secret."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from generator.yamlio import load_all_rt
from tests.helpers import REPO_ROOT, kustomize

AGE = "age1lfc652rhtrfqg2mhuj3edtv38wdrgpk7fwgt2zdexvnj3923nuqqd0g2rh"
SAMPLE = REPO_ROOT / "sample-repo" / "fluxforge.yaml"


def _kustomization(path: Path) -> dict:
    return next(d for d in load_all_rt(path.read_text()) if d and d.get("kind") == "Kustomization")


def test_age_only_renders_secret_ref_and_says_how_to_create_the_secret(chdir_tmp: Path, run_cli) -> None:
    assert run_cli("init", "fleet", "--cluster", "staging", "--age", AGE).exit_code == 0
    first = run_cli("render", "fleet")
    assert first.exit_code == 0, first.output
    age_note = (
        "note: cluster staging: its SOPS keys are age only, so Flux decrypts with the age private key from "
        "Secret sops-age (decryption.secretRef, rendered); create it once in the cluster, never in Git: "
        "kubectl -n flux-system create secret generic sops-age --from-file=age.agekey=KEYFILE"
    )
    assert age_note in first.stderr.splitlines()
    for name in ("apps", "infrastructure"):
        spec = _kustomization(chdir_tmp / f"fleet/clusters/staging/{name}.yaml")["spec"]
        assert dict(spec["decryption"]) == {"provider": "sops", "secretRef": {"name": "sops-age"}}
    # the sync Kustomization too, through its name-targeted patch (built with the real kubectl kustomize)
    built = kustomize(chdir_tmp / "fleet/clusters/staging/flux-system")
    sync = built[("Kustomization", "flux-system", "flux-system")]
    assert sync["spec"]["decryption"] == {"provider": "sops", "secretRef": {"name": "sops-age"}}
    again = run_cli("render", "fleet")
    assert again.exit_code == 0 and age_note not in again.stderr  # said once, when the Kustomizations were written
    assert run_cli("render", "fleet", "--check").exit_code == 0


def test_key_vault_configs_need_no_secret(tmp_path: Path, run_cli) -> None:
    shutil.copy(SAMPLE, tmp_path / "fluxforge.yaml")  # Key Vault and a break-glass age recipient
    result = run_cli("render", str(tmp_path))
    assert result.exit_code == 0 and "sops-age" not in result.stderr
    spec = _kustomization(tmp_path / "clusters/staging/apps.yaml")["spec"]
    assert "secretRef" not in spec["decryption"]


@pytest.fixture
def nested(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    fleet = tmp_path / "fleet"
    fleet.mkdir()
    shutil.copy(SAMPLE, fleet / "fluxforge.yaml")
    deep = fleet / "apps" / "staging"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    return fleet


def test_render_finds_the_config_in_a_parent_folder(nested: Path, run_cli) -> None:
    result = run_cli("render")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1].endswith("(../..)")
    assert (nested / "clusters/staging/apps.yaml").is_file() and (nested / "fluxforge.lock").is_file()
    assert not Path("clusters").exists()
    assert run_cli("render", "--check").exit_code == 0


def test_upgrade_and_lint_find_it_too(nested: Path, run_cli) -> None:
    config = nested / "fluxforge.yaml"
    config.write_text(config.read_text().replace('version: "2.9.4"', 'version: "2.8.0"'))
    assert run_cli("render").exit_code == 0
    upgraded = run_cli("upgrade", "--to", "2.9.4")
    assert upgraded.exit_code == 0, upgraded.output
    assert 'version: "2.9.4"' in config.read_text()
    (nested / "infrastructure").mkdir()
    (nested / "infrastructure/old.yaml").write_text(
        "apiVersion: kustomize.toolkit.fluxcd.io/v1beta2\nkind: Kustomization\nmetadata:\n  name: old\n"
    )
    lint = run_cli("lint")
    assert lint.exit_code == 1
    assert lint.stdout.startswith("infrastructure/old.yaml:1: error:")  # linted from the repository root


def test_no_config_here_or_above_names_one_below(chdir_tmp: Path, run_cli) -> None:
    (chdir_tmp / "fleet").mkdir()
    shutil.copy(SAMPLE, chdir_tmp / "fleet" / "fluxforge.yaml")
    for command in ("render", "upgrade"):
        result = run_cli(command)
        assert result.exit_code == 1
        assert result.stderr == (
            "fluxforge.yaml: not found here or in a parent folder; fleet/fluxforge.yaml is in a "
            "subfolder: name its folder as the argument (fleet)\n"
        )
    assert sorted(p.name for p in chdir_tmp.iterdir()) == ["fleet"]
