"""Applications reading Key Vault objects with workload identity (issue 13, items 1-2): the rendered
Component (ServiceAccount, SecretProviderClass, patch of the workload by name) validated against the schemas
written from the Secrets Store CSI driver's CRD and the Azure provider's types, and built with the real
``kubectl kustomize`` (the pod-template label, serviceAccountName, CSI volume and mounts land; a wrong workload
or container name fails the build instead of patching nothing).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from generator.config.load import parse_config
from generator.errors import RenderError
from generator.flux.federation import federated_credentials
from generator.render.files import render_tree
from generator.render.workloads import built_workload_problems, workload_gates, workload_notes
from generator.yamlio import load_all_rt, load_plain
from tests.helpers import REPO_ROOT, SAMPLE_REPO

pytestmark = pytest.mark.interop

SAMPLE_DIR = SAMPLE_REPO
SAMPLE = (SAMPLE_DIR / "fluxforge.yaml").read_text(encoding="utf-8")
SCHEMAS = REPO_ROOT / "schemas" / "secrets-store"
TENANT_ID = "95513a0e-a568-46f4-8d76-53e5279cb558"
APP_ID = "4f0c2b7e-93d1-4c5a-8e6f-1a2b3c4d5e6f"
USE = "azure.workload.identity/use"
COMPONENT = "apps/staging/workload-identity/podinfo"

SPC = jsonschema.Draft202012Validator(json.loads((SCHEMAS / "secretproviderclass-v1.json").read_text()))
_AZURE = json.loads((SCHEMAS / "azure-provider-parameters.json").read_text())
PARAMETERS = jsonschema.Draft202012Validator(_AZURE)
OBJECTS = jsonschema.Draft202012Validator({**_AZURE["$defs"]["objects"], "$defs": _AZURE["$defs"]})
OBJECT = jsonschema.Draft202012Validator({**_AZURE["$defs"]["keyVaultObject"], "$defs": _AZURE["$defs"]})
ACCOUNT = jsonschema.Draft202012Validator(
    json.loads((REPO_ROOT / "schemas" / "workload-identity" / "serviceaccount-v1.json").read_text())
)

RICH = """
    workloads:
      - name: ledger
        kind: StatefulSet
        namespace: ledger
        serviceAccount: ledger-reader
        path: apps/staging/ledger
        containers: [ledger, audit-sidecar]
        mountPath: /var/run/secrets/ledger
        identity: {name: id-ledger, clientId: 0d4e6f1a-2b3c-4d5e-8f9a-0b1c2d3e4f5a, resourceGroup: rg-apps}
        keyVault: {name: kv-ledger}
        objects:
          - name: db-password
            syncAs: {secret: ledger-db, key: password}
          - name: db-user
            version: 0123456789abcdef0123456789ABCDEF
            syncAs: {secret: ledger-db, key: username}
          - name: signing
            type: key
            alias: signing.pem
          - name: ingress-tls
            type: cert
            alias: tls.crt
            syncAs: {secret: ledger-tls, key: tls.crt, type: kubernetes.io/tls}
"""

STATEFULSET = """\
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: ledger
  namespace: ledger
spec:
  serviceName: ledger
  selector:
    matchLabels: {app: ledger}
  template:
    metadata:
      labels: {app: ledger}
    spec:
      containers:
        - name: ledger
          image: example.invalid/ledger:1
        - name: audit-sidecar
          image: example.invalid/audit:1
"""


def _kubectl() -> str:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is required for the kustomize build tests (scripts/test.sh checks for it)"
    return kubectl


def _rich_config() -> str:
    """The sample plus a StatefulSet workload with two containers, a key, a certificate and two synced Secrets."""
    return SAMPLE.replace(
        "\n  - name: production", RICH.rstrip("\n").replace("    workloads:\n", "", 1) + "\n\n  - name: production", 1
    )


def _docs(data: bytes) -> list[Any]:
    return [d for d in load_all_rt(data.decode()) if d is not None]


def _validate_spc(doc: Any) -> list[Any]:
    """Validate a SecretProviderClass and its provider parameters, down to each object string; return the
    parsed objects."""
    plain = json.loads(json.dumps(doc))
    SPC.validate(plain)
    PARAMETERS.validate(plain["spec"]["parameters"])
    objects = load_plain(plain["spec"]["parameters"]["objects"])
    OBJECTS.validate(objects)
    parsed = [load_plain(entry) for entry in objects["array"]]
    for entry in parsed:
        OBJECT.validate(entry)
    return parsed


def _build(folder: Path) -> dict[tuple[str, str], Any]:
    proc = subprocess.run([_kubectl(), "kustomize", str(folder)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return {(d["kind"], d["metadata"]["name"]): d for d in load_all_rt(proc.stdout) if d is not None}


def _build_error(folder: Path) -> str:
    proc = subprocess.run([_kubectl(), "kustomize", str(folder)], capture_output=True, text=True, check=False)
    assert proc.returncode != 0, proc.stdout
    return proc.stderr


def _write(root: Path, files: dict[str, bytes]) -> None:
    for relpath, data in files.items():
        (root / relpath).parent.mkdir(parents=True, exist_ok=True)
        (root / relpath).write_bytes(data)


# --- render + schemas ------------------------------------------------------------------------------------


def test_sample_component_objects_match_the_schemas_and_the_provider_spelling() -> None:
    files = render_tree(parse_config(SAMPLE))
    assert sorted(p for p in files if p.startswith(COMPONENT)) == [
        f"{COMPONENT}/check/kustomization.yaml",
        f"{COMPONENT}/kustomization.yaml",
        f"{COMPONENT}/secret-provider-class.yaml",
        f"{COMPONENT}/service-account.yaml",
    ]
    (spc,) = _docs(files[f"{COMPONENT}/secret-provider-class.yaml"])
    objects = _validate_spc(spc)
    params = spc["spec"]["parameters"]
    assert (spc["spec"]["provider"], params["usePodIdentity"], params["clientID"], params["keyvaultName"]) == (
        "azure",
        "false",
        APP_ID,
        "kv-contoso-staging",
    )
    assert params["tenantID"] == TENANT_ID and "tenantId" not in params  # tenantId is the deprecated spelling
    assert objects == [
        {"objectName": "podinfo-api-key", "objectType": "secret", "objectAlias": "api-key", "objectVersion": ""}
    ]
    assert json.loads(json.dumps(spc["spec"]["secretObjects"])) == [
        {"secretName": "podinfo-api", "type": "Opaque", "data": [{"objectName": "api-key", "key": "api-key"}]}
    ]
    (account,) = _docs(files[f"{COMPONENT}/service-account.yaml"])
    assert (account["kind"], account["metadata"]["namespace"], account["metadata"]["name"]) == (
        "ServiceAccount",
        "podinfo",
        "podinfo",
    )
    assert dict(account["metadata"]["annotations"]) == {
        "azure.workload.identity/client-id": APP_ID,
        "azure.workload.identity/tenant-id": TENANT_ID,
    }
    assert "labels" not in account["metadata"]  # the label belongs on the pod template
    ACCOUNT.validate(json.loads(json.dumps(account)))
    (component,) = _docs(files[f"{COMPONENT}/kustomization.yaml"])
    assert (component["apiVersion"], component["kind"]) == ("kustomize.config.k8s.io/v1alpha1", "Component")
    assert all("/0" not in json.dumps(p) and "op:" not in p["patch"] for p in component["patches"])  # never by index


def test_schemas_refuse_the_usual_mistakes() -> None:
    (spc,) = _docs(render_tree(parse_config(SAMPLE))[f"{COMPONENT}/secret-provider-class.yaml"])
    good = json.loads(json.dumps(spc))
    for mutate in (
        lambda d: d["spec"]["parameters"].update(usePodIdentity="true"),  # left over from pod identity
        lambda d: d["spec"]["parameters"].update(tenantId=TENANT_ID),  # the deprecated spelling
        lambda d: d["spec"]["parameters"].pop("clientID"),
        lambda d: d["spec"].update(secretObject=[]),  # a typo the API server prunes silently
        lambda d: d.update(apiVersion="secrets-store.csi.x-k8s.io/v1alpha1"),
    ):
        bad = json.loads(json.dumps(good))
        mutate(bad)
        errors = list(SPC.iter_errors(bad)) + list(PARAMETERS.iter_errors(bad["spec"]["parameters"]))
        assert errors, bad
    assert list(OBJECT.iter_errors({"objectName": "x", "objectType": "key", "objectFormat": "pfx"}))
    assert list(OBJECT.iter_errors({"objectName": "x", "objectType": "secret", "objectAlias": "../etc/passwd"}))
    assert list(OBJECT.iter_errors({"objectName": "x", "objectType": "certificate"}))
    (account,) = _docs(render_tree(parse_config(SAMPLE))[f"{COMPONENT}/service-account.yaml"])
    sa = json.loads(json.dumps(account))
    for mutate in (
        lambda d: d["metadata"].update(labels={USE: "true"}),  # the label on the ServiceAccount
        lambda d: d["metadata"]["annotations"].pop("azure.workload.identity/client-id"),
        lambda d: d["metadata"]["annotations"].update({"azure.workload.identity/client-id": "id-podinfo"}),
        lambda d: d.update(automountServiceAccountTokens=False),  # a typo the API server drops
    ):
        bad = json.loads(json.dumps(sa))
        mutate(bad)
        assert list(ACCOUNT.iter_errors(bad)), bad


def test_rich_workload_renders_valid_objects_byte_stable() -> None:
    text = _rich_config()
    files = render_tree(parse_config(text))
    assert files == render_tree(parse_config(text))
    base = "apps/staging/ledger/workload-identity/ledger"
    (spc,) = _docs(files[f"{base}/secret-provider-class.yaml"])
    objects = _validate_spc(spc)
    assert objects == [
        {"objectName": "db-password", "objectType": "secret", "objectVersion": ""},
        {"objectName": "db-user", "objectType": "secret", "objectVersion": "0123456789abcdef0123456789abcdef"},
        {"objectName": "signing", "objectType": "key", "objectAlias": "signing.pem", "objectVersion": ""},
        {"objectName": "ingress-tls", "objectType": "cert", "objectAlias": "tls.crt", "objectVersion": ""},
    ]
    assert json.loads(json.dumps(spc["spec"]["secretObjects"])) == [
        {
            "secretName": "ledger-db",
            "type": "Opaque",
            "data": [{"objectName": "db-password", "key": "password"}, {"objectName": "db-user", "key": "username"}],
        },
        {
            "secretName": "ledger-tls",
            "type": "kubernetes.io/tls",
            "data": [{"objectName": "tls.crt", "key": "tls.crt"}],
        },
    ]
    account = files[f"{base}/service-account.yaml"].decode()
    (doc,) = _docs(files[f"{base}/service-account.yaml"])
    ACCOUNT.validate(json.loads(json.dumps(doc)))
    assert "Key Vault Secrets User on secret kv-ledger/db-password, kv-ledger/db-user" in account
    assert "Key Vault Reader on key kv-ledger/signing" in account and "Key Vault Reader on vault kv-ledger" in account
    assert "--subject system:serviceaccount:ledger:ledger-reader --audiences api://AzureADTokenExchange" in account


# --- kustomize build --------------------------------------------------------------------------------------


def test_sample_folder_builds_with_label_account_volume_and_mount() -> None:
    built = _build(SAMPLE_DIR / "apps" / "staging")
    deploy = built[("Deployment", "podinfo")]
    template = deploy["spec"]["template"]
    assert template["metadata"]["labels"][USE] == "true"
    assert USE not in deploy["metadata"].get("labels", {})  # the pod template, not the Deployment
    spec = template["spec"]
    assert spec["serviceAccountName"] == "podinfo"
    (volume,) = spec["volumes"]
    assert json.loads(json.dumps(volume)) == {
        "name": "fluxforge-secrets-store",
        "csi": {
            "driver": "secrets-store.csi.k8s.io",
            "readOnly": True,
            "volumeAttributes": {"secretProviderClass": "podinfo"},
        },
    }
    (container,) = spec["containers"]
    assert container["image"] == "ghcr.io/stefanprodan/podinfo:6.7.1"  # patched, not replaced
    assert json.loads(json.dumps(container["volumeMounts"])) == [
        {"name": "fluxforge-secrets-store", "mountPath": "/mnt/secrets-store", "readOnly": True}
    ]
    account = built[("ServiceAccount", "podinfo")]
    assert account["metadata"]["namespace"] == "podinfo" and "labels" not in account["metadata"]
    assert account["metadata"]["annotations"]["azure.workload.identity/client-id"] == APP_ID
    ACCOUNT.validate(json.loads(json.dumps(account)))
    spc = built[("SecretProviderClass", "podinfo")]
    assert spc["metadata"]["namespace"] == "podinfo"
    _validate_spc(spc)


def test_statefulset_with_two_containers_and_its_own_namespace_builds(tmp_path: Path) -> None:
    files = render_tree(parse_config(_rich_config()))
    _write(tmp_path, {p: d for p, d in files.items() if p.startswith("apps/staging/ledger/")})
    folder = tmp_path / "apps" / "staging" / "ledger"
    (folder / "statefulset.yaml").write_text(STATEFULSET)  # the namespace in the manifest, none in kustomization
    (folder / "kustomization.yaml").write_text(
        "resources:\n  - statefulset.yaml\ncomponents:\n  - workload-identity/ledger\n"
    )
    built = _build(folder)
    spec = built[("StatefulSet", "ledger")]["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == "ledger-reader"
    assert [c["name"] for c in spec["containers"]] == ["ledger", "audit-sidecar"]
    for container in spec["containers"]:
        assert container["image"].startswith("example.invalid/")
        assert json.loads(json.dumps(container["volumeMounts"])) == [
            {"name": "fluxforge-secrets-store", "mountPath": "/var/run/secrets/ledger", "readOnly": True}
        ]
    assert (
        built[("SecretProviderClass", "ledger")]["metadata"]["annotations"]["fluxforge.io/containers"]
        == "ledger,audit-sidecar"
    )
    # the ServiceAccount's namespace is the config's, in the same namespace as the pods
    assert built[("ServiceAccount", "ledger-reader")]["metadata"]["namespace"] == "ledger"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("  name: podinfo\n  labels", "  name: podinfo-v2\n  labels", "nothing selected by Deployment"),
        (
            "        - name: podinfo\n",
            "        - name: app\n",
            ("fieldPath `spec.template.spec.containers.[name=podinfo].name` is missing"),
        ),
    ],
)
def test_a_wrong_workload_or_container_name_fails_the_build(tmp_path: Path, old: str, new: str, message: str) -> None:
    shutil.copytree(SAMPLE_DIR / "apps" / "staging", tmp_path / "staging")
    deployment = tmp_path / "staging" / "deployment.yaml"
    assert old in deployment.read_text()
    deployment.write_text(deployment.read_text().replace(old, new))
    assert message in _build_error(tmp_path / "staging")


# --- Azure-side data, notes, errors -------------------------------------------------------------------------


def test_the_workload_subject_is_federated_on_its_identity() -> None:
    config = parse_config(SAMPLE)
    creds = {c.subject: c for c in federated_credentials(config, config.cluster("staging"))}
    cred = creds["system:serviceaccount:podinfo:podinfo"]
    assert (cred.identity.name, cred.identity.client_id, cred.name) == (
        "id-podinfo-staging",
        APP_ID,
        "staging-podinfo-podinfo",
    )
    assert cred.issuer == config.cluster("staging").oidc_issuer
    assert not any("podinfo" in c.subject for c in federated_credentials(config, config.cluster("production")))


def test_workload_gates_name_every_link_of_the_app_chain() -> None:
    gates = [(g.gate, g.expect) for g in workload_gates(parse_config(SAMPLE))]
    assert gates == [
        ("pod-label", 'Deployment podinfo/podinfo: pod template label azure.workload.identity/use: "true"'),
        ("sa-annotation", f"ServiceAccount podinfo/podinfo: azure.workload.identity/client-id {APP_ID}"),
        (
            "fic-subject",
            (
                "identity id-podinfo-staging: federated credential issuer "
                f"{parse_config(SAMPLE).cluster('staging').oidc_issuer} subject "
                "system:serviceaccount:podinfo:podinfo"
            ),
        ),
        ("role", "identity id-podinfo-staging: Key Vault Secrets User on secret kv-contoso-staging/podinfo-api-key"),
        ("object", "secret kv-contoso-staging/podinfo-api-key exists and is enabled"),
    ]


def test_notes_when_the_component_is_not_referenced_or_the_namespace_moves(tmp_path: Path) -> None:
    config = parse_config(SAMPLE)
    assert workload_notes(config, SAMPLE_DIR) == []
    folder = tmp_path / "apps" / "staging"
    folder.mkdir(parents=True)
    assert workload_notes(config, tmp_path) == [
        (
            "workload podinfo (cluster staging): apps/staging/kustomization.yaml does not exist; create it with its "
            "resources and `components: [workload-identity/podinfo]` (Flux's generated kustomization cannot use a "
            "Component)"
        )
    ]
    (folder / "kustomization.yaml").write_text("namespace: web\nresources: [deployment.yaml]\n")
    assert workload_notes(config, tmp_path) == [
        (
            "workload podinfo (cluster staging): add `components: [workload-identity/podinfo]` to "
            "apps/staging/kustomization.yaml, or the pods get no label, ServiceAccount or secrets volume"
        ),
        (
            "workload podinfo (cluster staging): apps/staging/kustomization.yaml sets namespace 'web', which moves the "
            "ServiceAccount out of 'podinfo' (the federated subject's namespace); set workloads[].namespace: web or "
            "change the file"
        ),
    ]


def test_render_refuses_a_workload_identity_without_client_id() -> None:
    text = SAMPLE.replace("          clientId: 4f0c2b7e-93d1-4c5a-8e6f-1a2b3c4d5e6f\n", "", 1)
    with pytest.raises(RenderError) as info:
        render_tree(parse_config(text))
    assert info.value.problems == [
        (
            "fluxforge.yaml: clusters[0].workloads[0].identity.clientId: missing, and the ServiceAccount "
            "annotations need it; run `fluxforge azure apply` (it creates identity id-podinfo-staging and "
            "writes its clientId here), or set it "
            "(az identity show -g rg-fleet-staging -n id-podinfo-staging --query clientId -o tsv)"
        )
    ]


def test_render_cli_prints_the_note_and_writes_the_component(tmp_path: Path, run_cli: Any) -> None:
    (tmp_path / "fluxforge.yaml").write_text(SAMPLE)
    result = run_cli("render", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert f"wrote {COMPONENT}/secret-provider-class.yaml" in result.stdout.splitlines()
    assert "note: workload podinfo (cluster staging): apps/staging/kustomization.yaml does not exist" in result.stderr
    assert not (tmp_path / "apps" / "staging" / "kustomization.yaml").exists()  # never written by render


def test_readme_shows_the_app_chain_beside_the_flux_chain() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### The application chain, beside the Flux chain", 1)[1].split("\n## ", 1)[0]
    assert "| gate | Flux decrypting SOPS files | an application mounting Key Vault secrets |" in section
    (spc,) = _docs(render_tree(parse_config(SAMPLE))[f"{COMPONENT}/secret-provider-class.yaml"])
    for key in spc["spec"]["parameters"]:  # every parameter the render writes is named there
        assert f"`{key}" in section, key
    assert "`tenantId`" not in section and "system:serviceaccount:<namespace>:<serviceAccount>" in section


def _built_plain(folder: Path) -> list[Any]:
    proc = subprocess.run([_kubectl(), "kustomize", str(folder)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(json.dumps(d)) for d in load_all_rt(proc.stdout) if d is not None]


def test_built_workload_gates_for_doctor(tmp_path: Path) -> None:
    """The cluster-side gates doctor walks, on the real kustomize build: all hold for the sample; without the
    Component each is named; a kustomization namespace that moves the workload names the subject it breaks."""
    config = parse_config(SAMPLE)
    (workload,) = config.cluster("staging").workloads
    assert built_workload_problems(workload, _built_plain(SAMPLE_DIR / "apps" / "staging"), TENANT_ID) == []
    shutil.copytree(SAMPLE_DIR / "apps" / "staging", tmp_path / "staging")
    kustomization = tmp_path / "staging" / "kustomization.yaml"
    text = kustomization.read_text()
    kustomization.write_text(text.split("components:")[0])
    assert built_workload_problems(workload, _built_plain(tmp_path / "staging"), TENANT_ID) == [
        (
            'Deployment podinfo/podinfo: the pod template lacks the label azure.workload.identity/use: "true" '
            "(the webhook matches pods, not ServiceAccounts or Deployments)"
        ),
        "Deployment podinfo/podinfo: pods run as ServiceAccount 'default', not 'podinfo' (the federated subject)",
        "Deployment podinfo/podinfo: no secrets-store.csi.k8s.io volume with secretProviderClass 'podinfo'",
        "Deployment podinfo/podinfo: container 'podinfo' does not mount the secrets volume",
        (
            "ServiceAccount podinfo/podinfo: not in the build (a kustomization namespace: would move it out of the "
            "federated subject's namespace)"
        ),
    ]
    kustomization.write_text(text.replace("namespace: podinfo", "namespace: web"))
    assert built_workload_problems(workload, _built_plain(tmp_path / "staging"), TENANT_ID) == [
        (
            "Deployment podinfo/podinfo: the build puts it in namespace 'web'; its pods' token then carries subject "
            "system:serviceaccount:web:podinfo, which no credential federates"
        ),
        (
            "ServiceAccount podinfo/podinfo: not in the build (a kustomization namespace: would move it out of the "
            "federated subject's namespace)"
        ),
    ]
