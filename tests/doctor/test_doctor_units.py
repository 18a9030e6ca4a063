"""The pure pieces of doctor: reading the controller patches, feature gates, role scopes and data-action
wildcards, the error → gate table, annotation times; hostile files are not opened."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from generator.doctor.live_azure import allows, covers
from generator.doctor.live_cluster import annotated_at
from generator.doctor.repo import kustomizations_in, patch_facts
from generator.doctor.static import feature_gate_on
from generator.sops.keys.azure_gates import gate_for

KUSTOMIZATION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [gotk-components.yaml, gotk-sync.yaml]
patches:
  - target: {kind: ServiceAccount, name: "kustomize-controller|helm-controller"}
    patch: |
      - op: add
        path: /metadata/annotations/azure.workload.identity~1client-id
        value: 11111111-1111-1111-1111-111111111111
  - target: {kind: Deployment, name: kustomize-controller}
    path: label.yaml
  - target: {kind: Deployment, name: source-controller}
    patch: |
      - op: add
        path: /spec/template/spec/containers/0/args/-
        value: --feature-gates=ObjectLevelWorkloadIdentity=true
  - target: {kind: Deployment, name: kustomize-controller}
    patch: |
      - op: add
        path: /spec/template/spec/containers/0/args/-
        value: --feature-gates=ObjectLevelWorkloadIdentity=true
"""
LABEL = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: kustomize-controller}
spec:
  template:
    metadata:
      labels: {azure.workload.identity/use: "true"}
"""


def test_patch_facts_reads_json_patches_files_and_regex_targets(tmp_path: Path) -> None:
    folder = tmp_path / "clusters" / "c" / "flux-system"
    folder.mkdir(parents=True)
    (folder / "kustomization.yaml").write_text(KUSTOMIZATION)
    (folder / "label.yaml").write_text(LABEL)
    facts = patch_facts(tmp_path, "clusters/c/flux-system")
    assert facts.exists
    assert facts.annotations == {"azure.workload.identity/client-id": "11111111-1111-1111-1111-111111111111"}
    assert facts.labels == {"azure.workload.identity/use": "true"}
    assert facts.args == ["--feature-gates=ObjectLevelWorkloadIdentity=true"]  # source-controller's not counted
    assert not patch_facts(tmp_path, "clusters/other/flux-system").exists


def test_patch_facts_names_labels_and_annotations_in_the_wrong_place(tmp_path: Path) -> None:
    folder = tmp_path / "flux-system"
    folder.mkdir()
    (folder / "kustomization.yaml").write_text(
        "patches:\n"
        "  - target: {kind: ServiceAccount, name: kustomize-controller}\n"
        "    patch: |\n      apiVersion: v1\n      kind: ServiceAccount\n"
        "      metadata:\n        name: kustomize-controller\n"
        "        labels:\n          azure.workload.identity/client-id: x\n"
        "  - target: {kind: Deployment, name: kustomize-controller}\n"
        "    patch: |\n      apiVersion: apps/v1\n      kind: Deployment\n"
        "      metadata:\n        name: kustomize-controller\n"
        "      spec:\n        template:\n          metadata:\n            annotations:\n"
        '              azure.workload.identity/use: "true"\n'
    )
    facts = patch_facts(tmp_path, "flux-system")
    assert facts.wrong_place == [
        "label azure.workload.identity/client-id on the ServiceAccount (it must be an annotation)",
        "annotation azure.workload.identity/use on the pod template (it must be a label)",
    ]
    assert facts.labels == {} and facts.annotations == {}


@pytest.mark.parametrize(
    ("args", "on"),
    [
        (["--feature-gates=ObjectLevelWorkloadIdentity=true"], True),
        (["--feature-gates=Other=true,ObjectLevelWorkloadIdentity=true"], True),
        (
            ["--feature-gates=ObjectLevelWorkloadIdentity=true", "--feature-gates=ObjectLevelWorkloadIdentity=false"],
            False,
        ),
        (["--feature-gates=ObjectLevelWorkloadIdentity=True"], True),
        (["--watch-all-namespaces=true"], False),
    ],
)
def test_feature_gates(args: list[str], on: bool) -> None:
    assert feature_gate_on(args) is on


KEY = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv/keys/sops"


@pytest.mark.parametrize(
    ("scope", "held"),
    [
        (KEY, True),
        (KEY.rsplit("/keys/", 1)[0], True),
        ("/subscriptions/s/resourceGroups/RG", True),
        ("/", True),
        ("/subscriptions/s", True),
        (KEY + "-other", False),
        (KEY.replace("/vaults/kv/", "/vaults/kv2/"), False),
        ("/subscriptions/s/resourceGroups/rg2", False),
    ],
)
def test_role_scopes(scope: str, held: bool) -> None:
    assert covers(scope, KEY) is held


@pytest.mark.parametrize(
    ("data", "not_data", "held"),
    [
        (("Microsoft.KeyVault/vaults/keys/decrypt/action",), (), True),
        (("Microsoft.KeyVault/vaults/keys/*",), (), True),
        (("Microsoft.KeyVault/vaults/*",), (), True),
        (("microsoft.keyvault/vaults/keys/*/action",), (), True),
        (("Microsoft.KeyVault/vaults/*/read",), (), False),  # Key Vault Reader
        (("Microsoft.KeyVault/vaults/keys/encrypt/action", "Microsoft.KeyVault/vaults/keys/read"), (), False),
        (("Microsoft.KeyVault/vaults/keys/*",), ("Microsoft.KeyVault/vaults/keys/decrypt/action",), False),
        (("*",), (), True),
    ],
)
def test_decrypt_data_actions(data: tuple[str, ...], not_data: tuple[str, ...], held: bool) -> None:
    assert allows(data, not_data) is held


@pytest.mark.parametrize(
    ("message", "gate"),
    [
        ("AADSTS70021: No matching federated identity record found for presented assertion.", "azure.fic"),
        ("AADSTS700211: No matching federated identity record found for presented assertion issuer", "azure.fic"),
        ("AADSTS700016: Application with identifier 'x' was not found", "azure.identity"),
        ("AADSTS700027: Client assertion failed signature validation.", "cluster.issuer"),
        ("Caller is not authorized to perform action on resource. (ForbiddenByRbac)", "azure.role"),
        ("Key Vault refused the operation (403 KeyDisabled): the key version is disabled", "azure.key"),
        (
            (
                "WorkloadIdentityCredential: missing environment variables for workload identity. "
                "Check webhook and pod configuration"
            ),
            "cluster.pod",
        ),
        (
            (
                "to use spec.decryption.serviceAccountName for decryption authentication please enable the "
                "ObjectLevelWorkloadIdentity feature gate in the controller"
            ),
            "cluster.feature-gate",
        ),
        (
            "azure tenant ID is not set in the service account annotation azure.workload.identity/tenant-id",
            "cluster.tenant-sa",
        ),
        ('Error from server (NotFound): serviceaccounts "team-a-sops" not found', "cluster.tenant-sa"),
        ("failed to decrypt: MAC mismatch", "static.encrypted"),
        ("some other failure", ""),
    ],
)
def test_error_messages_map_onto_gates(message: str, gate: str) -> None:
    assert gate_for(message) == gate


def test_annotation_time_from_managed_fields() -> None:
    sa = {
        "metadata": {
            "managedFields": [
                {
                    "manager": "kubectl-client-side-apply",
                    "time": "2026-01-01T10:00:00Z",
                    "fieldsV1": {"f:metadata": {"f:annotations": {"f:azure.workload.identity/client-id": {}}}},
                },
                {
                    "manager": "kubectl-label",
                    "time": "2026-01-01T12:00:00Z",
                    "fieldsV1": {"f:metadata": {"f:labels": {}}},
                },
                {
                    "manager": "kubectl-annotate",
                    "time": "2026-01-01T11:00:00Z",
                    "fieldsV1": {"f:metadata": {"f:annotations": {"f:azure.workload.identity/client-id": {}}}},
                },
            ]
        }
    }
    assert annotated_at(sa) == dt.datetime(2026, 1, 1, 11, tzinfo=dt.UTC)
    assert annotated_at({"metadata": {}}) is None


def test_a_fifo_among_the_cluster_files_is_not_opened(tmp_path: Path) -> None:
    folder = tmp_path / "clusters" / "c"
    folder.mkdir(parents=True)
    (folder / "apps.yaml").write_text(
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata: {name: apps}\nspec: {path: ./apps, decryption: {provider: sops}}\n"
    )
    os.mkfifo(folder / "trap.yaml")
    found = kustomizations_in(tmp_path, "clusters/c", "flux-system")
    assert [(k.name, k.namespace, k.path, k.decryption) for k in found] == [("apps", "flux-system", "apps", True)]
