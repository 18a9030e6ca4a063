""".sops.yaml covers what the decrypting Kustomizations build (issue 10, Should: shared bases), and only
that: a base pulled in by kustomize references gets a rule for every cluster whose build reads it (proven
with the real sops and each cluster's age key); a Kustomization with ``decryption: false`` gets none."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from generator.config.load import load_config, parse_config
from generator.flux.sops_coverage import shared_folders
from generator.render.context import sops_rules
from generator.render.files import render_tree
from generator.yamlio import load_rt
from tests.helpers import SAMPLE_REPO

CONFIG = """\
git:
  url: ssh://git@github.com/contoso/fleet
azure: {{tenantId: 95513a0e-a568-46f4-8d76-53e5279cb558}}
clusters:
  - name: staging
    oidcIssuer: https://issuer.example/s/
    identity: {{clientId: c5e055dd-c1c8-4bc7-8cf2-a7eb2667c772}}
    sops: {{age: [{staging}]}}
    kustomizations:
      - {{name: apps, path: apps/staging}}
      - {{name: public, path: public/staging, decryption: false}}
  - name: production
    oidcIssuer: https://issuer.example/p/
    identity: {{clientId: 076209d5-a8fa-459c-8632-6a041c3b87e1}}
    sops: {{age: [{production}]}}
    kustomizations:
      - {{name: apps, path: apps/production}}
"""

SECRET = (
    "apiVersion: v1\nkind: Secret\nmetadata:\n    name: shared-db\ntype: Opaque\n"
    "stringData:\n    password: base-s3cr3t\n"
)


def _age_key(tmp: Path, name: str) -> tuple[str, Path]:
    out = subprocess.run(["age-keygen"], capture_output=True, text=True, check=True).stdout
    public = next(line.split(": ")[1] for line in out.splitlines() if line.startswith("# public key"))
    key = tmp / f"{name}.agekey"
    key.write_text(out)
    return public, key


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def _sops(cwd: Path, *args: str, key: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOPS_", "AZURE_"))}
    env |= {"SOPS_DISABLE_VERSION_CHECK": "1", **({"SOPS_AGE_KEY_FILE": str(key)} if key else {})}
    return subprocess.run(["sops", *args], cwd=cwd, capture_output=True, text=True, check=False, env=env)


@pytest.fixture
def fleet(tmp_path: Path) -> dict[str, Any]:
    staging, staging_key = _age_key(tmp_path, "staging")
    production, production_key = _age_key(tmp_path, "production")
    repo = tmp_path / "repo"
    _write(
        repo,
        {
            "fluxforge.yaml": CONFIG.format(staging=staging, production=production),
            "apps/staging/kustomization.yaml": "resources:\n  - ../base\n  - ../../common/staging-only\n",
            "apps/production/kustomization.yaml": "resources:\n  - ../base\n  - ../../remote-looking\n",
            "apps/base/kustomization.yaml": "resources:\n  - deploy.yaml\n  - db/\n",
            "apps/base/deploy.yaml": "kind: Deployment\n",
            "apps/base/db/kustomization.yaml": "resources:\n  - secret.yaml\n",
            "common/staging-only/cm.yaml": "kind: ConfigMap\n",
            "public/staging/kustomization.yaml": "resources:\n  - ../../apps/base\n",
        },
    )
    return {"repo": repo, "staging": (staging, staging_key), "production": (production, production_key)}


def test_a_shared_base_gets_one_rule_for_every_cluster_that_builds_it(fleet: dict[str, Any], run_cli: Any) -> None:
    repo: Path = fleet["repo"]
    config = load_config(repo)
    assert shared_folders(repo, config) == {
        "apps/base": frozenset({"staging", "production"}),  # apps/base/db is under it, same readers
        "common/staging-only": frozenset({"staging"}),
    }  # public/staging does not decrypt: what it pulls in needs no rule for it
    result = run_cli("render", str(repo))
    assert result.exit_code == 0, result.output
    rules = load_rt((repo / ".sops.yaml").read_text())["creation_rules"]
    by_regex = {r["path_regex"]: r for r in rules}
    staging, production = fleet["staging"][0], fleet["production"][0]
    assert by_regex["^apps/base/"]["age"] == f"{staging},{production}"
    assert by_regex["^common/staging-only/"]["age"] == staging
    assert "^public/staging/" not in by_regex  # decryption: false: Flux would refuse a Secret there
    assert (
        "# apps/base/ (clusters staging, production; pulled in by their kustomize builds)"
        in (repo / ".sops.yaml").read_text()
    )
    # the real sops encrypts a Secret in the base for both clusters, and each cluster's key opens it
    (repo / "apps/base/db/secret.yaml").write_text(SECRET)
    done = _sops(repo, "encrypt", "-i", "apps/base/db/secret.yaml")
    assert done.returncode == 0, done.stderr
    assert "base-s3cr3t" not in (repo / "apps/base/db/secret.yaml").read_text()
    for cluster in ("staging", "production"):
        opened = _sops(repo, "decrypt", "apps/base/db/secret.yaml", key=fleet[cluster][1])
        assert opened.returncode == 0, opened.stderr
        assert opened.stdout == SECRET
    assert run_cli("render", str(repo), "--check").exit_code == 0


def test_a_new_base_reference_makes_the_sops_config_stale(fleet: dict[str, Any], run_cli: Any) -> None:
    repo: Path = fleet["repo"]
    assert run_cli("render", str(repo)).exit_code == 0
    _write(repo, {"apps/production/kustomization.yaml": "resources:\n  - ../base\n  - ../../common/staging-only\n"})
    check = run_cli("render", str(repo), "--check")
    assert check.exit_code == 1 and ".sops.yaml: stale" in check.stderr
    assert run_cli("render", str(repo)).exit_code == 0
    rules = {r["path_regex"]: r for r in load_rt((repo / ".sops.yaml").read_text())["creation_rules"]}
    assert rules["^common/staging-only/"]["age"] == f"{fleet['staging'][0]},{fleet['production'][0]}"


def test_a_folder_of_another_environment_gets_both_clusters(tmp_path: Path) -> None:
    """staging builds apps/production/common: the production rule alone would lock staging out."""
    text = CONFIG.format(staging="age1" + "q" * 58, production="age1" + "p" * 58)
    _write(
        tmp_path,
        {
            "apps/staging/kustomization.yaml": "resources:\n  - ../production/common\n",
            "apps/production/common/cm.yaml": "kind: ConfigMap\n",
        },
    )
    config = parse_config(text)
    shared = shared_folders(tmp_path, config)
    assert shared == {"apps/production/common": frozenset({"staging"})}
    rules = sops_rules(config, shared)
    common = next(r for r in rules if r.path == "apps/production/common")
    assert common.clusters == ("staging", "production") and common.shared  # and it precedes ^apps/production/
    assert [r.path for r in rules].index("apps/production/common") < [r.path for r in rules].index("apps/production")


def test_without_references_nothing_changes() -> None:
    sample = SAMPLE_REPO
    config = load_config(sample)
    assert shared_folders(sample, config) == {}
    assert render_tree(config, shared=shared_folders(sample, config)) == render_tree(config)
