"""``fluxforge rotate-key`` end to end against the emulated Key Vault (the real azure-keyvault-keys client in
process) and the real sops in the sandbox: a new key version is pinned in fluxforge.yaml (comments kept),
.sops.yaml is re-rendered, every encrypted file is re-wrapped for it; the old version is then disabled and the
real sops still decrypts every file as kustomize-controller (without the rotation it no longer does, and the
doctor check names the file). Also: --dry-run writes nothing, a rerun is a no-op, a file that fails keeps the
config unchanged and a rerun continues, --rotate-data-keys, and the refusals."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

import pytest
from azure.identity import ClientSecretCredential
from azure.keyvault.keys import KeyClient
from azworld import KEY, VAULT, World, base_env

from tests.emulator import Principal, Runner

pytestmark = pytest.mark.interop

ADMIN_SECRET = "rotate-admin-secret"
SECRETS = {
    "apps/staging/db.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n    name: db\n    namespace: apps\n"
    "stringData:\n    password: rotate-hunter2\n",
    "apps/staging/api.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n    name: api\n    namespace: apps\n"
    "stringData:\n    token: rotate-token-42\n",
    "clusters/staging/git.json": '{\n\t"kind": "Secret",\n\t"data": {\n\t\t"identity": "cm90YXRlLWdpdA=="\n\t}\n}',
}


def _config(w: World, version: str | None) -> str:
    pinned = f"\n      version: {version}   # pinned: rotate-key moves it" if version else ""
    return f"""\
# fluxforge.yaml for the rotate-key test: comments and layout must survive the version write-back
flux:
  version: "2.9.4"

git:
  url: ssh://git@github.com/contoso/fleet

azure:
  tenantId: {w.emu.tenant_id}

sops:
  keyVault:
    - vault: {VAULT}
      key: {KEY}{pinned}

clusters:
  - name: staging
    oidcIssuer: {w.emu.issuer.url}
    identity:
      clientId: {w.controller.client_id}   # kustomize-controller
    kustomizations:
      - name: apps
        path: apps/staging
        namespace: apps
"""


@pytest.fixture
def repo(in_process: World, tmp_path: Path, run_cli: Any, production_names: None) -> dict[str, Any]:
    """A rendered repository whose secrets are encrypted (by fluxforge) for version 1 of the key."""
    w = in_process
    admin = w.emu.add_identity("platform-admin", roles=["Key Vault Crypto Officer"], secret=ADMIN_SECRET)
    root = tmp_path / "fleet"
    root.mkdir()
    (root / "fluxforge.yaml").write_text(_config(w, w.version))
    assert run_cli("render", str(root)).exit_code == 0
    for rel, text in SECRETS.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    env = w.emu.secret_env(admin)
    done = run_cli(
        "encrypt", "-i", *(str(root / rel) for rel in SECRETS), "--sops-config", str(root / ".sops.yaml"), env=env
    )
    assert done.exit_code == 0, done.output
    return {"w": w, "root": root, "admin": admin, "env": env}


def _versions(path: Path) -> list[str]:
    return re.findall(r'version["\s:=]+([0-9a-f]{32})', path.read_text())


def _enc_values(path: Path) -> list[str]:
    return re.findall(r"ENC\[AES256_GCM,data:[^,]+", path.read_text())


def _disable(w: World, admin: Principal, version: str) -> None:
    """Through the Key Vault data plane, as an operator would (az keyvault key set-attributes --enabled false)."""
    client = KeyClient(w.emu.vault().url, ClientSecretCredential(w.emu.tenant_id, admin.client_id, ADMIN_SECRET))
    assert client.update_key_properties(KEY, version, enabled=False).properties.enabled is False


def _sops_as_flux(box: Runner, w: World, root: Path, rel: str) -> Any:
    return box.run(["sops", "decrypt", str(root / rel)], env=w.controller_env(), base_env=base_env(w), cwd=root)


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_rotate_then_disable_the_old_version_and_flux_still_decrypts_every_file(
    repo: dict[str, Any], run_cli: Any, sandbox: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    w, root, env = repo["w"], repo["root"], repo["env"]
    v1 = w.version
    before = (root / "fluxforge.yaml").read_text()
    values = {rel: _enc_values(root / rel) for rel in SECRETS}
    v2 = w.emu.vault().create_key(KEY)  # the rotation policy (or az keyvault key rotate) made a new version
    done = run_cli("rotate-key", str(root), env=env)
    assert done.exit_code == 0, done.output
    out = done.stdout.splitlines()
    assert out[0] == f"key {VAULT}/{KEY}: version {v2} (latest; the config had {v1})"
    assert out[1] == f"set {root / 'fluxforge.yaml'}:15: sops.keyVault[0].version: {v1} -> {v2}"
    assert f"wrote {root / '.sops.yaml'}" in out
    for rel in SECRETS:
        assert f"re-wrapped {rel}: + azure_kv {w.emu.vault().key_url(KEY, v2)}; - azure_kv {w.key_url}" in out
    assert "3 file(s) re-wrapped, 0 already on the new version" in done.stderr
    note = (
        f"note: version {v1} of {VAULT}/{KEY}: no file and no cluster in this repository uses it any more; once "
        "this change is committed and pushed to main and every cluster has reconciled it (flux get kustomizations "
        f"-A shows the new revision), disable it: az keyvault key set-attributes --vault-name {VAULT} --name {KEY} "
        f"--version {v1} --enabled false"
    )
    assert note in done.stderr.splitlines()
    # fluxforge.yaml: one value changed, every comment and the layout kept
    changed = [
        line
        for line in difflib.ndiff(before.splitlines(), (root / "fluxforge.yaml").read_text().splitlines())
        if line[:1] in "+-"
    ]
    assert changed == [
        f"-       version: {v1}   # pinned: rotate-key moves it",
        f"+       version: {v2}   # pinned: rotate-key moves it",
    ]
    assert f"{KEY}/{v2}" in (root / ".sops.yaml").read_text() and v1 not in (root / ".sops.yaml").read_text()
    assert run_cli("render", str(root), "--check").exit_code == 0  # .sops.yaml and the lock agree with the config
    for rel in SECRETS:
        assert _versions(root / rel) == [v2]
        assert _enc_values(root / rel) == values[rel]  # re-wrapped only: the data key and the values are as they were
    # the old version is disabled: Flux decrypts every file with the new one
    _disable(w, repo["admin"], v1)
    for rel, plain in SECRETS.items():
        decrypted = _sops_as_flux(sandbox, w, root, rel)
        assert decrypted.returncode == 0, decrypted.stderr
        assert decrypted.stdout.rstrip("\n") == plain.rstrip("\n").replace("\t", "    ") or rel.endswith(".json")
    # doctor: every file is wrapped for a usable version (the old one's state does not matter any more)
    assert _gate(_doctor(w, root, monkeypatch), "azure.key-files") == [
        (
            "staging: 3 encrypted file(s)",
            "ok",
            ("each is wrapped for a Key Vault key version that is enabled and not expired"),
            "",
        )
    ]
    # a second run: nothing to do, nothing written
    snapshot = _tree(root)
    again = run_cli("rotate-key", str(root), env=env)
    assert again.exit_code == 0, again.output
    assert "0 file(s) re-wrapped, 3 already on the new version" in again.stderr
    assert _tree(root) == snapshot


def _doctor(w: World, root: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """fluxforge doctor's Azure gates, reading ARM as an auditor with Reader (no cluster: KUBECONFIG empty)."""
    from azure.identity import ClientSecretCredential as Credential

    from generator.azure.arm import Arm
    from generator.doctor import DoctorOptions, run_doctor
    from generator.doctor.azure_reader import ArmReader

    auditor = w.emu.add_identity(
        "rotate-auditor", secret="rotate-auditor-secret", roles=["Reader"], scope=w.emu.arm.subscription_id
    )
    monkeypatch.setenv("KUBECONFIG", str(root / "no-such-kubeconfig"))
    reader = ArmReader(
        Arm(w.emu.arm.subscription, credential=Credential(w.emu.tenant_id, auditor.client_id, "rotate-auditor-secret"))
    )
    return run_doctor(DoctorOptions(config=root / "fluxforge.yaml", subscription=w.emu.arm.subscription), azure=reader)


def _gate(report: Any, gate: str) -> list[tuple[str, str, str, str]]:
    return [(f.subject, f.status, f.reason, f.fix) for f in report.findings if f.gate == gate]


def test_without_the_rotation_disabling_breaks_flux_and_doctor_names_each_file(
    repo: dict[str, Any], sandbox: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    w, root = repo["w"], repo["root"]
    w.emu.vault().create_key(KEY)
    _disable(w, repo["admin"], w.version)
    refused = _sops_as_flux(sandbox, w, root, "apps/staging/db.yaml")
    assert refused.returncode != 0 and "rotate-hunter2" not in refused.stdout
    found = _gate(_doctor(w, root, monkeypatch), "azure.key-files")
    applied = sorted(SECRETS)  # the JSON file is in the cluster folder: the sync Kustomization applies it
    assert [subject for subject, *_ in found] == [f"staging: {rel}" for rel in applied]
    for _, status, reason, fix in found:
        assert status == "broken"
        assert reason == (
            f"its only Key Vault recipient is unusable: {VAULT}/{KEY}/{w.version} is disabled (Key Vault "
            "refuses to decrypt with it); it has no other recipient this cluster holds"
        )
        assert fix == (
            f"az keyvault key set-attributes --vault-name {VAULT} --name {KEY} --version {w.version} "
            "--enabled true && fluxforge rotate-key"
        )


def test_dry_run_resolves_and_shows_everything_and_writes_nothing(repo: dict[str, Any], run_cli: Any) -> None:
    w, root, env = repo["w"], repo["root"], repo["env"]
    v1, v2 = w.version, w.emu.vault().create_key(KEY)
    snapshot = _tree(root)
    done = run_cli("rotate-key", str(root), "--dry-run", env=env)
    assert done.exit_code == 0, done.output
    assert _tree(root) == snapshot
    out = done.stdout
    assert f"would set {root / 'fluxforge.yaml'}:15: sops.keyVault[0].version: {v1} -> {v2}" in out
    assert (
        f"-    azure_keyvault: {w.key_url}" in out and f"+    azure_keyvault: {w.emu.vault().key_url(KEY, v2)}" in out
    )
    assert sum(line.startswith("would re-wrap ") for line in out.splitlines()) == 3
    assert "3 file(s) would be re-wrapped, 0 already on the new version; nothing written (--dry-run)" in done.stderr
    assert "rotate-hunter2" not in done.output and "rotate-token-42" not in done.output


def test_rotate_data_keys_gives_every_file_a_new_data_key_that_flux_decrypts(
    repo: dict[str, Any], run_cli: Any, sandbox: Runner
) -> None:
    w, root, env = repo["w"], repo["root"], repo["env"]
    values = {rel: _enc_values(root / rel) for rel in SECRETS}
    v2 = w.emu.vault().create_key(KEY)
    done = run_cli("rotate-key", str(root), "--key", KEY, "--to-version", v2, "--rotate-data-keys", env=env)
    assert done.exit_code == 0, done.output
    assert f"key {VAULT}/{KEY}: version {v2} ({v2}; the config had {w.version})" in done.stdout
    for rel, plain in SECRETS.items():
        assert "new data key (every value re-encrypted)" in done.stdout
        assert _versions(root / rel) == [v2]
        assert set(_enc_values(root / rel)).isdisjoint(values[rel])  # every value re-encrypted
        decrypted = _sops_as_flux(sandbox, w, root, rel)
        assert decrypted.returncode == 0, decrypted.stderr
        assert decrypted.stdout.rstrip("\n") == plain.rstrip("\n").replace("\t", "    ") or rel.endswith(".json")
    _disable(w, repo["admin"], w.version)
    assert _sops_as_flux(sandbox, w, root, "apps/staging/db.yaml").returncode == 0


def test_a_failing_file_keeps_the_config_and_a_rerun_continues(repo: dict[str, Any], run_cli: Any) -> None:
    w, root, env = repo["w"], repo["root"], repo["env"]
    v1, v2 = w.version, w.emu.vault().create_key(KEY)
    config, rules = (root / "fluxforge.yaml").read_bytes(), (root / ".sops.yaml").read_bytes()
    broken = root / "apps/staging/api.yaml"
    original = broken.read_bytes()
    broken.write_bytes(
        re.sub(rb"mac: ENC\[AES256_GCM,data:[A-Za-z0-9+/]{4}", b"mac: ENC[AES256_GCM,data:AAAA", original)
    )
    failed = run_cli("rotate-key", str(root), env=env)
    assert failed.exit_code == 1
    err = failed.stderr.splitlines()
    assert any(line.startswith(f"{broken}: ") for line in err), failed.stderr
    assert "still wrapped only for an old version (1 file(s)):" in err
    assert f"  apps/staging/api.yaml: wrapped only for {VAULT}/{KEY}/{v1}" in err
    assert err[-1].startswith("fluxforge.yaml and .sops.yaml are unchanged")
    assert (root / "fluxforge.yaml").read_bytes() == config and (root / ".sops.yaml").read_bytes() == rules
    assert _versions(root / "apps/staging/db.yaml") == [v2]  # one transaction per file: the others are done
    assert "rotate-hunter2" not in failed.output
    broken.write_bytes(original)
    again = run_cli("rotate-key", str(root), env=env)
    assert again.exit_code == 0, again.output
    assert again.stdout.count("re-wrapped ") == 1 and "re-wrapped apps/staging/api.yaml" in again.stdout
    assert "1 file(s) re-wrapped, 2 already on the new version" in again.stderr
    assert all(_versions(root / rel) == [v2] for rel in SECRETS)
    assert f"version: {v2}" in (root / "fluxforge.yaml").read_text()


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["--to-version", "v2"], 2, "--to-version v2: a Key Vault key version is 32 hexadecimal digits (or: latest)"),
        (["--key", "nope"], 2, f"--key nope: no such Key Vault key in the config; it has: {VAULT}/{KEY}"),
        (
            ["--to-version", "0" * 32],
            1,
            (
                f"key {VAULT}/{KEY}: vault {VAULT} has no version {'0' * 32} of key {KEY}; see "
                f"its versions: az keyvault key list-versions --vault-name {VAULT} --name {KEY}"
            ),
        ),
    ],
)
def test_bad_requests_change_nothing(repo: dict[str, Any], run_cli: Any, args: list[str], code: int, says: str) -> None:
    root = repo["root"]
    snapshot = _tree(root)
    done = run_cli("rotate-key", str(root), *args, env=repo["env"])
    assert done.exit_code == code, done.output
    assert says in done.stderr and "Traceback" not in done.output
    assert _tree(root) == snapshot


def test_a_disabled_target_version_or_a_stale_tree_is_refused(repo: dict[str, Any], run_cli: Any) -> None:
    w, root, env = repo["w"], repo["root"], repo["env"]
    v2 = w.emu.vault().create_key(KEY, enabled=False)
    snapshot = _tree(root)
    done = run_cli("rotate-key", str(root), env=env)
    assert done.exit_code == 1
    assert done.stderr.startswith(f"key {VAULT}/{KEY}: its current version {v2} is disabled")
    assert f"az keyvault key rotate --vault-name {VAULT} --name {KEY}" in done.stderr
    assert _tree(root) == snapshot
    w.emu.vault().create_key(KEY)
    text = (root / "fluxforge.yaml").read_text().replace("namespace: apps", "namespace: apps2")
    (root / "fluxforge.yaml").write_text(text)
    snapshot = _tree(root)
    stale = run_cli("rotate-key", str(root), env=env)
    assert stale.exit_code == 1
    assert "the generated tree is not up to date with fluxforge.yaml" in stale.stderr
    assert "run `fluxforge render` (and commit) first" in stale.stderr
    assert _tree(root) == snapshot
