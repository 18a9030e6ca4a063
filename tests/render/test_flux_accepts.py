"""What Flux needs to accept the rendered tree the first time (issue 10), proven with the real
``kubectl kustomize`` (stand-in gotk-components.yaml) and the real ``sops``:

* the sync Kustomization decrypts what ``.sops.yaml`` lets the hook encrypt under ``clusters/<name>/``;
* ``flux.defaultDecryptionServiceAccount`` comes with its ServiceAccounts and federated-credential subjects;
* a non-default Flux namespace names the sync folder and objects as ``flux bootstrap`` does;
* object-level identity carries the upstream stability note; a missing gotk-components.yaml is a note.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from generator.config.load import parse_config
from generator.flux.federation import federated_credentials
from generator.render.files import render_tree
from generator.yamlio import load_all_rt
from tests.helpers import FIXTURES, REPO_ROOT, kustomize, unlocked

pytestmark = pytest.mark.interop

FIXTURE = FIXTURES / "gotk-components.yaml"
AGE_KEY = FIXTURES / "sample-repo.agekey"
# the sample without flux.lockdown: these tests set flux.defaultDecryptionServiceAccount themselves
SAMPLE = unlocked((REPO_ROOT / "sample-repo" / "fluxforge.yaml").read_text(encoding="utf-8"))
LOCKDOWN = SAMPLE.replace(
    "  namespace: flux-system\n", "  namespace: flux-system\n  defaultDecryptionServiceAccount: sops\n", 1
)
STAGING_ID, PRODUCTION_ID = "c5e055dd-c1c8-4bc7-8cf2-a7eb2667c772", "076209d5-a8fa-459c-8632-6a041c3b87e1"
TENANT_ID = "95513a0e-a568-46f4-8d76-53e5279cb558"
UNSTABLE = "https://fluxcd.io/flux/integrations/azure/#at-the-object-level"
SECRET = (
    "apiVersion: v1\nkind: Secret\nmetadata:\n    name: root-db\n    namespace: flux-system\ntype: Opaque\n"
    "stringData:\n    password: root-s3cr3t\n"
)


def age_only(text: str) -> str:
    """The sample config with only the (test) age recipient: the real sops encrypts without Azure."""
    return text.replace(
        "  keyVault:\n    - vault: kv-contoso-fleet\n      key: sops-flux\n"
        "      version: bad6639b7a09782fb620e036242cb891\n",
        "",
    )


def write_tree(root: Path, text: str) -> dict[str, bytes]:
    (root / "fluxforge.yaml").write_text(text)
    files = render_tree(parse_config(text))
    for relpath, data in files.items():
        (root / relpath).parent.mkdir(parents=True, exist_ok=True)
        (root / relpath).write_bytes(data)
    return files


def sops(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SOPS_", "AZURE_"))}
    return subprocess.run(
        ["sops", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={**base, "SOPS_DISABLE_VERSION_CHECK": "1", **(env or {})},
    )


def flux_requires_decryption(ks: dict[str, Any], root: Path) -> list[str]:
    """kustomize-controller's refusal (kustomization_controller.go: "<Secret> is SOPS encrypted, configuring
    decryption is required"): the SOPS-encrypted Secrets under the Kustomization's path, when it has no
    spec.decryption."""
    if "decryption" in ks["spec"]:
        return []
    folder = root / str(ks["spec"]["path"]).removeprefix("./")
    return [
        str(p.relative_to(root))
        for p in sorted(folder.rglob("*.yaml"))
        if "kind: Secret" in p.read_text() and "\nsops:\n" in p.read_text()
    ]


# --- item 1: the sync Kustomization decrypts ------------------------------------------------------


def test_an_encrypted_secret_in_the_cluster_folder_is_decrypted_by_the_sync_kustomization(tmp_path: Path) -> None:
    files = write_tree(tmp_path, age_only(SAMPLE))
    secret = tmp_path / "clusters" / "staging" / "root-db.yaml"
    secret.write_text(SECRET)
    done = sops(tmp_path, "encrypt", "-i", "clusters/staging/root-db.yaml")  # the rule from .sops.yaml
    assert done.returncode == 0, done.stderr
    assert "root-s3cr3t" not in secret.read_text() and "ENC[AES256_GCM," in secret.read_text()
    # gotk-sync.yaml stays exactly what `flux bootstrap` writes (no decryption in it) ...
    sync = load_all_rt(files["clusters/staging/flux-system/gotk-sync.yaml"].decode())[1]
    assert "decryption" not in sync["spec"]
    # ... and the built flux-system folder gives the sync Kustomization decryption, by a name-targeted patch
    built = kustomize(tmp_path / "clusters" / "staging" / "flux-system")
    root_ks = built[("Kustomization", "flux-system", "flux-system")]
    # age-only config: the age private key comes from the sops-age Secret (issue 9)
    assert root_ks["spec"]["decryption"] == {"provider": "sops", "secretRef": {"name": "sops-age"}}
    assert root_ks["spec"]["path"] == "./clusters/staging"
    assert flux_requires_decryption(sync, tmp_path) == ["clusters/staging/root-db.yaml"]  # what the patch fixes
    assert flux_requires_decryption(root_ks, tmp_path) == []
    # and Flux's sops can read it with the cluster's key
    done = sops(tmp_path, "decrypt", "clusters/staging/root-db.yaml", env={"SOPS_AGE_KEY_FILE": str(AGE_KEY)})
    assert done.returncode == 0, done.stderr
    assert done.stdout == SECRET


# --- item 2: flux.defaultDecryptionServiceAccount ---------------------------------------------------


def test_lockdown_renders_the_default_service_account_in_every_decrypting_namespace(tmp_path: Path) -> None:
    text = LOCKDOWN.replace(
        "      - name: apps\n        path: apps/production\n",
        "      - name: apps\n        path: apps/production\n        namespace: apps\n",
    )
    files = write_tree(tmp_path, text)
    for cluster, client_id in (("staging", STAGING_ID), ("production", PRODUCTION_ID)):
        built = kustomize(tmp_path / "clusters" / cluster / "flux-system")
        account = built[("ServiceAccount", "flux-system", "sops")]
        assert dict(account["metadata"]["annotations"]) == {
            "azure.workload.identity/client-id": client_id,
            "azure.workload.identity/tenant-id": TENANT_ID,
        }
        args = built[("Deployment", "flux-system", "kustomize-controller")]["spec"]["template"]["spec"]["containers"][0]
        assert "--default-decryption-service-account=sops" in args["args"]
    # a Kustomization without a tenant in another namespace: its file carries that namespace's account
    namespace, account, ks = (d for d in load_all_rt(files["clusters/production/apps.yaml"].decode()) if d)
    assert (namespace["kind"], namespace["metadata"]["name"]) == ("Namespace", "apps")
    assert (account["kind"], account["metadata"]["namespace"], account["metadata"]["name"]) == (
        "ServiceAccount",
        "apps",
        "sops",
    )
    assert account["metadata"]["annotations"]["azure.workload.identity/client-id"] == PRODUCTION_ID
    assert ks["spec"]["decryption"] == {"provider": "sops"}  # no serviceAccountName: the default applies
    # a tenant's namespace gets no default account (its Kustomization names its own)
    assert [d["kind"] for d in load_all_rt(files["clusters/staging/team-a.yaml"].decode()) if d] == [
        "Namespace",
        "ServiceAccount",
        "RoleBinding",
        "Kustomization",
    ]
    assert "name: sops\n" not in files["clusters/staging/team-a.yaml"].decode()
    # the subjects Azure must trust, in the rendered comments (with the az command) and in the list
    config = parse_config(text)
    subjects = {c.subject: c.identity.client_id for c in federated_credentials(config, config.cluster("production"))}
    assert subjects == {
        "system:serviceaccount:flux-system:kustomize-controller": PRODUCTION_ID,
        "system:serviceaccount:flux-system:sops": PRODUCTION_ID,
        "system:serviceaccount:apps:sops": PRODUCTION_ID,
    }
    assert (
        "--subject system:serviceaccount:apps:sops --audiences api://AzureADTokenExchange"
        in files["clusters/production/apps.yaml"].decode()
    )
    assert (
        "--subject system:serviceaccount:flux-system:sops --audiences"
        in files["clusters/production/flux-system/decryption-service-account.yaml"].decode()
    )


def test_without_lockdown_no_default_service_account(tmp_path: Path) -> None:
    files = write_tree(tmp_path, SAMPLE)
    assert not any(p.endswith("decryption-service-account.yaml") for p in files)
    built = kustomize(tmp_path / "clusters" / "production" / "flux-system")
    assert [k for k in built if k[0] == "ServiceAccount" and not k[2].endswith("-controller")] == []


# --- item 3: a non-default Flux namespace -----------------------------------------------------------


def test_a_non_default_namespace_names_the_sync_folder_and_objects_like_flux_bootstrap(tmp_path: Path) -> None:
    text = SAMPLE.replace("  namespace: flux-system\n", "  namespace: flux\n", 1)
    files = write_tree(tmp_path, text)
    assert "clusters/staging/flux/gotk-sync.yaml" in files and "clusters/staging/flux/kustomization.yaml" in files
    assert not any("/flux-system/" in p for p in files)
    # flux bootstrap -n flux: pkg/manifestgen/sync with Name = Namespace = "flux"; the secret keeps its default
    assert files["clusters/staging/flux/gotk-sync.yaml"] == (
        b"# This manifest was generated by flux. DO NOT EDIT.\n---\n"
        b"apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: flux\n"
        b"  namespace: flux\nspec:\n  interval: 1m0s\n  ref:\n    branch: main\n  secretRef:\n"
        b"    name: flux-system\n  url: ssh://git@github.com/contoso/fleet\n---\n"
        b"apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: flux\n"
        b"  namespace: flux\nspec:\n  interval: 10m0s\n  path: ./clusters/staging\n  prune: true\n"
        b"  sourceRef:\n    kind: GitRepository\n    name: flux\n"
    )
    built = kustomize(tmp_path / "clusters" / "staging" / "flux")
    assert built[("Kustomization", "flux", "flux")]["spec"]["decryption"] == {"provider": "sops"}
    for relpath in ("clusters/staging/apps.yaml", "clusters/staging/team-a.yaml"):
        ks = next(d for d in load_all_rt(files[relpath].decode()) if d and d["kind"] == "Kustomization")
        assert ks["spec"]["sourceRef"]["name"] == "flux", relpath
    assert (
        "--subject system:serviceaccount:flux:kustomize-controller"
        in files["clusters/staging/flux/kustomization.yaml"].decode()
    )


def test_moving_the_namespace_moves_the_generated_files(tmp_path: Path, run_cli: Any) -> None:
    write_tree(tmp_path, SAMPLE)
    assert run_cli("render", str(tmp_path), "--force").exit_code == 0
    (tmp_path / "fluxforge.yaml").write_text(SAMPLE.replace("  namespace: flux-system\n", "  namespace: flux\n", 1))
    result = run_cli("render", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "removed clusters/staging/flux-system/kustomization.yaml" in result.output
    assert (tmp_path / "clusters/staging/flux/gotk-sync.yaml").is_file()
    assert not (tmp_path / "clusters/staging/flux-system/gotk-sync.yaml").exists()


# --- item 7: object-level identity is marked unstable upstream ---------------------------------------


def test_tenant_comment_and_readme_carry_the_upstream_stability_note_once() -> None:
    files = render_tree(parse_config(SAMPLE))
    team = files["clusters/staging/team-a.yaml"].decode()
    assert team.count(UNSTABLE) == 1 and "fluxcd/flux2#5359" in team and "unstable" in team
    assert all(UNSTABLE not in data.decode() for path, data in files.items() if not path.endswith("team-a.yaml"))
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert readme.count("fluxcd/flux2#5359") == 1 and readme.count(UNSTABLE) == 1


# --- item 8: a missing gotk-components.yaml is a note -------------------------------------------------


def test_render_and_check_note_a_missing_gotk_components(tmp_path: Path, run_cli: Any) -> None:
    (tmp_path / "fluxforge.yaml").write_text(SAMPLE)
    result = run_cli("render", str(tmp_path))
    assert result.exit_code == 0
    note = (
        "note: clusters/staging/flux-system/gotk-components.yaml does not exist yet: `flux bootstrap` writes it, "
        "or `flux install --export > clusters/staging/flux-system/gotk-components.yaml`; until then "
        "`kubectl kustomize clusters/staging/flux-system` fails"
    )
    assert note in result.stderr and "clusters/production/flux-system/gotk-components.yaml" in result.stderr
    check = run_cli("render", str(tmp_path), "--check")
    assert check.exit_code == 0 and note in check.stderr  # a note, not a failure
    for cluster in ("staging", "production"):
        shutil.copy(FIXTURE, tmp_path / "clusters" / cluster / "flux-system" / "gotk-components.yaml")
    check = run_cli("render", str(tmp_path), "--check")
    assert check.exit_code == 0 and "gotk-components.yaml" not in check.stderr
    # the sample's workload folder is not here: that is a note too (render never writes the user's file)
    assert check.stderr.splitlines() == [
        (
            "note: workload podinfo (cluster staging): apps/staging/kustomization.yaml does not exist; "
            "create it with its resources and `components: [workload-identity/podinfo]` "
            "(Flux's generated kustomization cannot use a Component)"
        )
    ]


# --- Should: bootstrap's --recurse-submodules / --sparse-checkout as config keys ----------------------


def test_recurse_submodules_and_sparse_checkout_render_as_flux_bootstrap_writes_them(tmp_path: Path) -> None:
    text = SAMPLE.replace(
        "  secretRef: flux-system      # created by `flux bootstrap`\n",
        "  secretRef: flux-system\n  recurseSubmodules: true\n"
        "  sparseCheckout: [clusters, ./apps/, infrastructure, tenants]\n",
    )
    assert text != SAMPLE
    files = write_tree(tmp_path, text)
    # pkg/manifestgen/sync with RecurseSubmodules/SparseCheckout: sigs.k8s.io/yaml sorts the keys and does
    # not indent sequences (flux bootstrap git --recurse-submodules --sparse-checkout=clusters,apps,...)
    assert files["clusters/production/flux-system/gotk-sync.yaml"] == (
        b"# This manifest was generated by flux. DO NOT EDIT.\n---\n"
        b"apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: flux-system\n"
        b"  namespace: flux-system\nspec:\n  interval: 1m0s\n  recurseSubmodules: true\n  ref:\n    branch: main\n"
        b"  secretRef:\n    name: flux-system\n  sparseCheckout:\n  - clusters\n  - apps\n  - infrastructure\n"
        b"  - tenants\n  url: ssh://git@github.com/contoso/fleet\n---\n"
        b"apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: flux-system\n"
        b"  namespace: flux-system\nspec:\n  interval: 10m0s\n  path: ./clusters/production\n  prune: true\n"
        b"  sourceRef:\n    kind: GitRepository\n    name: flux-system\n"
    )
    built = kustomize(tmp_path / "clusters" / "production" / "flux-system")
    repo = built[("GitRepository", "flux-system", "flux-system")]
    assert repo["spec"]["sparseCheckout"] == ["clusters", "apps", "infrastructure", "tenants"]
    assert repo["spec"]["recurseSubmodules"] is True
    # neither key: the bytes stay exactly what bootstrap writes without the flags
    assert b"recurseSubmodules" not in render_tree(parse_config(SAMPLE))["clusters/staging/flux-system/gotk-sync.yaml"]
