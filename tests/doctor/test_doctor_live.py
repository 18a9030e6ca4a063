"""Live doctor beyond the drill: the probe alone names the gate when Azure cannot be read, the cluster is
found by its issuer, unreadable layers are skipped (never reported as holding), and JSON for a broken
world validates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from doctorworld import AUDITOR_SECRET, DoctorWorld
from test_doctor_drill import DECRYPTER, key_disabled, no_fic, role_removed, tenant_subject_wrong_sa

from generator.doctor.kubectl import Kubectl
from generator.doctor.model import BROKEN, OK, SKIPPED
from generator.doctor.output import as_json, as_text
from generator.resources import load_schema
from tests.emulator import Sandbox, sandbox_mode

pytestmark = pytest.mark.interop


@pytest.mark.parametrize(
    ("breaker", "step", "means"),
    [
        (no_fic, "probe.exchange", "azure.fic"),
        (role_removed, "probe.decrypt", "azure.role"),
        (key_disabled, "probe.decrypt", "azure.key"),
    ],
)
def test_without_azure_access_the_probe_names_the_gate(
    world: DoctorWorld, breaker: object, step: str, means: str
) -> None:
    breaker(world)  # type: ignore[operator]
    nobody = world.emu.add_identity("no-arm-access", secret="no-arm-access-secret")  # no role: ARM says no
    report = world.doctor(azure=world.azure_reader(nobody, "no-arm-access-secret"))
    text = as_text(report, "fluxforge.yaml")
    azure = [f for f in report.findings if f.gate.startswith("azure.")]
    assert azure and all(f.status == SKIPPED for f in azure), text
    assert "cannot read: list managed identities: AuthorizationFailed" in azure[0].reason, text
    assert {f.reason for f in azure if f.gate != "azure.identity"} == {
        "cannot read Azure (gate azure.identity says why)"
    }
    first = report.first_broken
    assert first is not None and first.gate == step and first.means == means, text
    assert first.subject == DECRYPTER  # the sample's lockdown: platform files decrypt as flux-decryption
    assert f"  means: gate {means} " in text and f"fix gate {means}" in first.fix


def test_the_probe_exchanges_a_tenant_token_too(world: DoctorWorld) -> None:
    """The probe runs the tenant's own exchange (team-a-sops' token for id-team-a-staging): with Azure unreadable, a
    tenant credential that trusts another ServiceAccount is still named, at the tenant's ServiceAccount."""
    tenant_subject_wrong_sa(world)
    nobody = world.emu.add_identity("no-arm-access", secret="no-arm-access-secret")
    report = world.doctor(azure=world.azure_reader(nobody, "no-arm-access-secret"))
    first = report.first_broken
    assert first is not None and first.gate == "probe.exchange", as_text(report, "fluxforge.yaml")
    assert first.subject == "staging: team-a/team-a-sops" and first.means == "azure.fic"
    assert "AADSTS70021" in first.reason
    controller = [f for f in report.findings if f.gate.startswith("probe.") and f.subject == DECRYPTER]
    assert [f.status for f in controller] == [OK, OK, OK]


def test_the_cluster_is_found_by_its_issuer(world: DoctorWorld) -> None:
    report = world.doctor(cluster=None)
    issuer = next(f for f in report.findings if f.gate == "cluster.issuer")
    assert issuer.status == OK and issuer.cluster == "staging", issuer
    # Azure gates then cover every cluster of the config (production's identity exists too)
    assert {f.cluster for f in report.findings if f.gate == "azure.identity"} == {"staging", "production"}
    assert report.ok, as_text(report, "fluxforge.yaml")


def test_a_cluster_of_another_config_is_named(world: DoctorWorld) -> None:
    report = world.doctor(cluster="production")  # the kube context points at staging
    first = report.first_broken
    assert first is not None and first.gate == "cluster.issuer", as_text(report, "fluxforge.yaml")
    assert "the config says" in first.reason and "oidcIssuer" in first.fix


def test_an_unreachable_cluster_is_skipped_not_passed(world: DoctorWorld, tmp_path: Path) -> None:
    config = tmp_path / "nowhere.kubeconfig"
    config.write_text(world.kubeconfig.read_text().replace(world.staging.direct_url, "https://127.0.0.1:9"))
    report = world.doctor(kube=Kubectl(kubeconfig=config), probe=False)
    cluster = [f for f in report.findings if f.gate.startswith(("cluster.", "status."))]
    assert cluster and all(f.status == SKIPPED for f in cluster)
    assert "cannot read: kubectl get --raw" in cluster[0].reason
    assert report.ok  # nothing checked is broken; the skips say what was not checked
    assert "skipped" in as_text(report, "fluxforge.yaml").splitlines()[-1]


def test_json_of_a_broken_world(world: DoctorWorld) -> None:
    no_fic(world)
    data = json.loads(as_json(world.doctor(), "fluxforge.yaml"))
    jsonschema.validate(data, load_schema("doctor.schema.json"))
    assert data["ok"] is False and data["exitCode"] == 1
    first = data["firstBroken"]
    assert first["gate"] == "azure.fic" and first["status"] == BROKEN and first["layer"] == "azure"
    assert first["fix"].startswith("az identity federated-credential create ")
    exchange = [f for f in data["findings"] if f["gate"] == "probe.exchange" and f["status"] == BROKEN]
    assert exchange and exchange[0]["means"] == "azure.fic" and "AADSTS70021" in exchange[0]["reason"]


def _cli(world: DoctorWorld, box: object, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """``fluxforge doctor`` as a user runs it: the kubeconfig `az aks get-credentials` writes (the AKS host
    name), ARM read with a service principal from the environment (--credential environment)."""
    kubeconfig = world.emu.kubeconfig(world.emu.clusters["staging"], tmp_path / "aks.kubeconfig", direct=False)
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "SOPS_", "KUBE"))}
    args = [
        "doctor",
        "--cluster",
        "staging",
        "--kubeconfig",
        str(kubeconfig),
        "--subscription",
        world.emu.arm.subscription,
        "--credential",
        "environment",
        "--probe",
        *extra,
    ]
    return box.run(
        [sys.executable, "-m", "generator", *args],
        env=world.emu.secret_env(world.auditor),  # type: ignore[attr-defined, no-any-return]
        base_env=keep,
        cwd=world.repo,
    )


def test_the_cli_against_production_host_names(world: DoctorWorld, tmp_path: Path) -> None:
    if sandbox_mode() != "namespace":  # the top-level conftest turns this skip into a failure under CI=true
        pytest.skip(f"needs production host names: {Sandbox.available()}")
    with Sandbox(world.emu, tmp_path / "box") as box:
        healthy = _cli(world, box, tmp_path)
        assert healthy.returncode == 0, healthy.stdout + healthy.stderr
        assert "every checked gate holds" in healthy.stdout and "✘" not in healthy.stdout
        assert "✔ probe.decrypt            staging: team-a/team-a-sops: Key Vault decrypted" in healthy.stdout
        print(healthy.stdout)  # the healthy transcript (pytest -s)
        no_fic(world)
        broken = _cli(world, box, tmp_path)
        print(broken.stdout)  # the broken transcript
        assert broken.returncode == 1 and "first broken gate: azure.fic" in broken.stdout
        as_json_run = _cli(world, box, tmp_path, "--format", "json")
    data = json.loads(as_json_run.stdout)
    jsonschema.validate(data, load_schema("doctor.schema.json"))
    assert as_json_run.returncode == 1 and data["firstBroken"]["gate"] == "azure.fic"
    for secret in (AUDITOR_SECRET, *world.kube_reader.tokens):
        assert secret not in healthy.stdout + healthy.stderr + broken.stdout + as_json_run.stdout


def _two_contexts(world: DoctorWorld, path: Path) -> Path:
    """One kubeconfig with both clusters' contexts (staging, production), current context production: what a user
    with several AKS clusters has after `az aks get-credentials` for each."""
    merged: dict[str, object] = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "current-context": "production",
        "clusters": [],
        "users": [],
        "contexts": [],
    }
    for name in ("staging", "production"):
        one = json.loads(world.emu.kubeconfig(world.emu.clusters[name], path.with_suffix(f".{name}")).read_text())
        one["users"][0]["name"] = one["contexts"][0]["context"]["user"] = f"admin-{name}"
        for part in ("clusters", "users", "contexts"):
            merged[part] += one[part]  # type: ignore[operator]
    path.write_text(json.dumps(merged))
    path.chmod(0o600)
    return path


def test_context_picks_the_cluster(world: DoctorWorld, tmp_path: Path) -> None:
    """--context reads that context's cluster: staging holds; the current context (production, where Flux is not
    installed) is found by its issuer and named broken at its cluster gates."""
    kubeconfig = _two_contexts(world, tmp_path / "fleet.kubeconfig")
    chosen = world.doctor(kube=Kubectl("staging", kubeconfig), cluster=None, probe=False)
    issuer = next(f for f in chosen.findings if f.gate == "cluster.issuer")
    assert issuer.status == OK and issuer.cluster == "staging" and issuer.subject == "staging: context staging"
    assert chosen.ok, as_text(chosen, "fluxforge.yaml")
    current = world.doctor(kube=Kubectl(kubeconfig=kubeconfig), cluster=None, probe=False)
    issuer = next(f for f in current.findings if f.gate == "cluster.issuer")
    assert issuer.status == OK and issuer.cluster == "production"
    first = current.first_broken
    assert first is not None and first.gate == "cluster.sa" and first.cluster == "production", first
    assert "it does not exist" in first.reason


def test_an_unknown_context_or_kubeconfig_is_a_usage_error(world: DoctorWorld, tmp_path: Path) -> None:
    """A context that is not in the kubeconfig is the user's typo (exit 2, the contexts listed), never a run where
    every cluster gate is quietly skipped."""
    kubeconfig = _two_contexts(world, tmp_path / "fleet.kubeconfig")
    base = ["fluxforge", "doctor", "--subscription", world.emu.arm.subscription, "--kubeconfig"]
    done = subprocess.run(
        [*base, str(kubeconfig), "--context", "stagign"], cwd=world.repo, capture_output=True, text=True, check=False
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr == (f"--context stagign: no such context in {kubeconfig} (contexts: production, staging)\n")
    assert done.stdout == ""
    done = subprocess.run(
        [*base, str(tmp_path / "missing.kubeconfig")], cwd=world.repo, capture_output=True, text=True, check=False
    )
    assert done.returncode == 2 and "--kubeconfig" in done.stderr and "no such file" in done.stderr, done.stderr


def test_the_vault_gate_says_each_vault_once(world: DoctorWorld) -> None:
    """The sample's staging cluster decrypts with two keys of one vault (sops-flux and team-a's sops-team-a):
    the permission model is the vault's, so the gate has one line per (cluster, vault)."""
    from generator.config.load import load_config
    from generator.flux.tenancy import cluster_keys

    staging = load_config(world.repo / "fluxforge.yaml").cluster("staging")
    keys = cluster_keys(staging).key_vault
    assert len({k.key for k in keys}) >= 2 and len({k.vault_url for k in keys}) == 1
    vaults = [f for f in world.doctor().findings if f.gate == "azure.vault"]
    assert [f.subject for f in vaults if f.cluster == "staging"] == ["staging: kv-contoso-fleet"]
    assert all(f.status == OK for f in vaults), [f.reason for f in vaults]
