"""The emulated Kubernetes API server, driven by the real ``kubectl`` (discovery, get, apply, create token,
--raw, rollout restart) over HTTPS with the test CA and a bearer token from the kubeconfig."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from azworld import World, kubectl, mgmt_as

from tests.emulator import WI_AUDIENCE, ManagedCluster, Runner
from tests.emulator.jwt import verify

pytestmark = pytest.mark.interop

FLUX = """\
apiVersion: v1
kind: Namespace
metadata:
  name: flux-system
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: kustomize-controller
  namespace: flux-system
  annotations:
    azure.workload.identity/client-id: {client_id}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: kustomize-controller
  namespace: flux-system
spec:
  replicas: 1
  selector:
    matchLabels:
      app: kustomize-controller
  template:
    metadata:
      labels:
        app: kustomize-controller
        azure.workload.identity/use: "true"
    spec:
      serviceAccountName: kustomize-controller
      containers:
        - name: manager
          image: ghcr.io/fluxcd/kustomize-controller:v1.6.0
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  interval: 10m
  path: ./apps/staging
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
  decryption:
    provider: sops
"""


@pytest.fixture
def cluster(world: World) -> ManagedCluster:
    return world.emu.add_cluster("staging")


@pytest.fixture
def kubeconfig(world: World, cluster: ManagedCluster) -> Path:
    return world.emu.kubeconfig(cluster, world.tmp / "kubeconfig")


def _ok(kubeconfig: Path, *args: str, stdin: str | None = None) -> str:
    done = kubectl(kubeconfig, *args, stdin=stdin)
    assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done.stdout


def _flux(kubeconfig: Path, client_id: str = "11111111-2222-3333-4444-555555555555") -> str:
    return _ok(kubeconfig, "apply", "-f", "-", stdin=FLUX.format(client_id=client_id))


def _pod(kubeconfig: Path, ns: str = "flux-system") -> dict[str, object]:
    pods = json.loads(_ok(kubeconfig, "get", "pods", "-n", ns, "-o", "json"))["items"]
    assert len(pods) == 1
    return pods[0]  # type: ignore[no-any-return]


def _env(pod: dict[str, object]) -> dict[str, str]:
    container = pod["spec"]["containers"][0]  # type: ignore[index]
    return {e["name"]: e.get("value", "") for e in container.get("env", [])}


def test_discovery_and_get(kubeconfig: Path) -> None:
    resources = _ok(kubeconfig, "api-resources", "-o", "name")
    for name in (
        "serviceaccounts",
        "pods",
        "deployments.apps",
        "mutatingwebhookconfigurations.admissionregistration.k8s.io",
        "kustomizations.kustomize.toolkit.fluxcd.io",
        "customresourcedefinitions.apiextensions.k8s.io",
    ):
        assert name in resources.split()
    assert _ok(kubeconfig, "get", "ns", "-o", "name").split() == [
        "namespace/default",
        "namespace/kube-node-lease",
        "namespace/kube-public",
        "namespace/kube-system",
    ]
    table = _ok(kubeconfig, "get", "mutatingwebhookconfigurations")
    assert "azure-wi-webhook-mutating-webhook-configuration" in table and "WEBHOOKS" in table
    assert "kustomizations.kustomize.toolkit.fluxcd.io" in _ok(kubeconfig, "get", "crd")
    missing = kubectl(kubeconfig, "get", "sa", "nope", "-n", "default")
    assert missing.returncode == 1 and 'serviceaccounts "nope" not found' in missing.stderr


def test_apply_is_idempotent_and_records_managed_fields(kubeconfig: Path) -> None:
    created = _flux(kubeconfig)
    assert "serviceaccount/kustomize-controller created" in created
    assert "kustomization.kustomize.toolkit.fluxcd.io/apps created" in created
    again = _flux(kubeconfig)
    assert again.count("unchanged") == 4
    changed = _flux(kubeconfig, client_id="99999999-2222-3333-4444-555555555555")
    assert (
        "serviceaccount/kustomize-controller configured" in changed
        and "deployment.apps/kustomize-controller unchanged" in changed
    )
    sa = json.loads(
        _ok(kubeconfig, "get", "sa", "kustomize-controller", "-n", "flux-system", "-o", "json", "--show-managed-fields")
    )
    assert sa["metadata"]["annotations"]["azure.workload.identity/client-id"] == "99999999-2222-3333-4444-555555555555"
    managers = {m["manager"]: m for m in sa["metadata"]["managedFields"]}
    assert "kubectl-client-side-apply" in managers and managers["kubectl-client-side-apply"]["time"].endswith("Z")
    ks = json.loads(_ok(kubeconfig, "get", "kustomization", "apps", "-n", "flux-system", "-o", "json"))
    assert ks["spec"]["decryption"] == {"provider": "sops"} and ks["metadata"]["generation"] == 1
    server_side = _ok(kubeconfig, "apply", "--server-side", "-f", "-", stdin=FLUX.format(client_id="x-y-z"))
    assert "serviceaccount/kustomize-controller serverside-applied" in server_side


def test_workload_identity_webhook_injects_at_pod_creation_only(
    world: World, cluster: ManagedCluster, kubeconfig: Path
) -> None:
    _flux(kubeconfig, client_id="")
    before = _pod(kubeconfig)
    env = _env(before)
    assert "AZURE_CLIENT_ID" not in env and env["AZURE_FEDERATED_TOKEN_FILE"].endswith("/azure-identity-token")
    assert env["AZURE_TENANT_ID"] == world.emu.tenant_id
    _ok(
        kubeconfig,
        "annotate",
        "sa",
        "kustomize-controller",
        "-n",
        "flux-system",
        "--overwrite",
        "azure.workload.identity/client-id=abc",
    )
    assert "AZURE_CLIENT_ID" not in _env(_pod(kubeconfig))  # the running pod started before the annotation
    time.sleep(1.1)  # RFC 3339 timestamps have whole seconds
    _ok(kubeconfig, "rollout", "restart", "deployment/kustomize-controller", "-n", "flux-system")
    after = _pod(kubeconfig)
    assert _env(after)["AZURE_CLIENT_ID"] == "abc"
    assert after["status"]["startTime"] > before["status"]["startTime"]  # type: ignore[index]
    volumes = after["spec"]["volumes"]  # type: ignore[index]
    assert volumes[-1]["projected"]["sources"][0]["serviceAccountToken"]["audience"] == WI_AUDIENCE
    _ok(kubeconfig, "delete", "mutatingwebhookconfiguration", "azure-wi-webhook-mutating-webhook-configuration")
    _ok(kubeconfig, "delete", "pod", "-n", "flux-system", after["metadata"]["name"])  # type: ignore[index]
    assert "AZURE_CLIENT_ID" not in _env(_pod(kubeconfig))  # replaced without the webhook: nothing injected
    assert cluster.kube.get("MutatingWebhookConfiguration", "azure-wi-webhook-mutating-webhook-configuration") is None


def test_create_token_is_signed_by_the_cluster_issuer(world: World, cluster: ManagedCluster, kubeconfig: Path) -> None:
    _flux(kubeconfig)
    token = _ok(
        kubeconfig,
        "create",
        "token",
        "kustomize-controller",
        "-n",
        "flux-system",
        "--audience",
        WI_AUDIENCE,
        "--duration",
        "20m",
    ).strip()
    claims = verify(token, cluster.issuer.jwks())
    sa = json.loads(_ok(kubeconfig, "get", "sa", "kustomize-controller", "-n", "flux-system", "-o", "json"))
    assert claims["iss"] == cluster.issuer.url and claims["aud"] == [WI_AUDIENCE]
    assert claims["sub"] == "system:serviceaccount:flux-system:kustomize-controller"
    assert claims["kubernetes.io"]["serviceaccount"]["uid"] == sa["metadata"]["uid"]
    assert 1190 <= claims["exp"] - claims["iat"] <= 1200
    short = kubectl(kubeconfig, "create", "token", "kustomize-controller", "-n", "flux-system", "--duration", "5m")
    assert short.returncode == 1 and "may not specify a duration less than 10 minutes" in short.stderr
    missing = kubectl(kubeconfig, "create", "token", "ghost", "-n", "flux-system")
    assert missing.returncode == 1 and 'serviceaccounts "ghost" not found' in missing.stderr


def test_raw_oidc_discovery_names_the_issuer(cluster: ManagedCluster, kubeconfig: Path) -> None:
    discovery = json.loads(_ok(kubeconfig, "get", "--raw", "/.well-known/openid-configuration"))
    assert discovery["issuer"] == cluster.issuer.url
    assert json.loads(_ok(kubeconfig, "get", "--raw", "/openid/v1/jwks")) == cluster.issuer.jwks()
    assert json.loads(_ok(kubeconfig, "version", "-o", "json"))["serverVersion"]["gitVersion"] == "v1.32.4"


def test_kustomization_conditions_show_in_kubectl(cluster: ManagedCluster, kubeconfig: Path) -> None:
    _flux(kubeconfig)
    message = "decryption failed for 'db-secret': failed to get the data key: azure_kv: 403 ForbiddenByRbac"
    cluster.kube.set_condition(
        "Kustomization", "flux-system", "apps", status="False", reason="DecryptionFailed", message=message
    )
    table = _ok(kubeconfig, "get", "ks", "-n", "flux-system")
    assert "apps" in table and "False" in table and "decryption failed" in table
    ready = _ok(
        kubeconfig,
        "get",
        "kustomization",
        "apps",
        "-n",
        "flux-system",
        "-o",
        "jsonpath={.status.conditions[?(@.type=='Ready')].reason}",
    )
    assert ready == "DecryptionFailed"


def test_a_wrong_token_is_unauthorized(world: World, cluster: ManagedCluster) -> None:
    config = world.tmp / "bad-kubeconfig"
    config.write_text(world.emu.kubeconfig(cluster, world.tmp / "k").read_text().replace(cluster.kube.token, "nope"))
    done = kubectl(config, "get", "ns")
    assert done.returncode == 1 and "You must be logged in to the server" in done.stderr


def test_kubeconfig_from_arm_reaches_the_cluster_by_its_aks_name(
    in_process: World, cluster: ManagedCluster, sandbox: Runner, production_names: None
) -> None:
    """listClusterUserCredential's kubeconfig names the AKS FQDN; inside the sandbox kubectl reaches it by name."""
    world = in_process
    admin = mgmt_as(world, "platform-admin")
    creds = admin.aks().managed_clusters.list_cluster_user_credentials("rg-fluxforge", "staging")
    config = world.tmp / "aks-kubeconfig"
    config.write_bytes(bytes(creds.kubeconfigs[0].value))  # the SDK decodes the base64 for us
    assert f"https://{cluster.kube.host}" in config.read_text()
    done = sandbox.run(["kubectl", "--kubeconfig", str(config), "get", "ns", "-o", "name"])
    assert done.returncode == 0, done.stderr
    assert "namespace/kube-system" in done.stdout.split()


def test_a_deployment_whose_service_account_is_missing_runs_no_pod(kubeconfig: Path) -> None:
    """As on a real cluster the Deployment is accepted and its ReplicaSet cannot create pods (FailedCreate)."""
    manifest = FLUX.format(client_id="abc").split("---\n")
    _ok(kubeconfig, "apply", "-f", "-", stdin="---\n".join([manifest[0], manifest[2]]))  # no ServiceAccount
    deploy = json.loads(_ok(kubeconfig, "get", "deploy", "kustomize-controller", "-n", "flux-system", "-o", "json"))
    failure = next(c for c in deploy["status"]["conditions"] if c["type"] == "ReplicaFailure")
    assert (
        failure["reason"] == "FailedCreate" and 'serviceaccount "kustomize-controller" not found' in failure["message"]
    )
    assert "0/1" in _ok(kubeconfig, "get", "deploy", "-n", "flux-system")
    assert "No resources found" in kubectl(kubeconfig, "get", "pods", "-n", "flux-system").stderr
    _flux(kubeconfig)
    _ok(kubeconfig, "rollout", "restart", "deployment/kustomize-controller", "-n", "flux-system")
    assert _env(_pod(kubeconfig))["AZURE_CLIENT_ID"] == "11111111-2222-3333-4444-555555555555"


HELM_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: helmreleases.helm.toolkit.fluxcd.io
spec:
  group: helm.toolkit.fluxcd.io
  scope: Namespaced
  names: {kind: HelmRelease, listKind: HelmReleaseList, plural: helmreleases, singular: helmrelease, shortNames: [hr]}
  versions:
    - name: v2
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
      subresources: {status: {}}
"""
HELM_OBJECTS = """\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: podinfo, namespace: default}
spec: {interval: 5m, chart: {spec: {chart: podinfo, sourceRef: {kind: HelmRepository, name: podinfo}}}}
---
apiVersion: v1
kind: Service
metadata: {name: notification-controller, namespace: default}
spec: {selector: {app: notification-controller}, ports: [{port: 80, targetPort: 9090}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-egress, namespace: default}
spec: {podSelector: {}, policyTypes: [Egress], egress: [{}]}
"""


def test_an_applied_crd_serves_its_kind(kubeconfig: Path) -> None:
    """What a Flux install does: CRDs first, then objects of the new kinds (plus Services, NetworkPolicies)."""
    before = kubectl(kubeconfig, "apply", "-f", "-", stdin=HELM_OBJECTS)  # kubectl applies what it can map
    assert before.returncode == 1 and 'no matches for kind "HelmRelease"' in before.stderr
    assert "service/notification-controller created" in before.stdout
    assert "networkpolicy.networking.k8s.io/allow-egress created" in before.stdout
    assert "created" in _ok(kubeconfig, "apply", "-f", "-", stdin=HELM_CRD)
    out = _ok(kubeconfig, "apply", "-f", "-", stdin=HELM_OBJECTS)
    assert (
        "helmrelease.helm.toolkit.fluxcd.io/podinfo created" in out
        and "service/notification-controller unchanged" in out
    )
    assert _ok(kubeconfig, "get", "hr", "-o", "name").split() == ["helmrelease.helm.toolkit.fluxcd.io/podinfo"]
    assert "unchanged" in _ok(kubeconfig, "apply", "-f", "-", stdin=HELM_OBJECTS)


def test_a_no_op_write_changes_nothing(cluster: ManagedCluster, kubeconfig: Path) -> None:
    """As on a real API server: the same annotation again keeps resourceVersion and managedFields times (what a
    doctor compares pod start times with)."""
    _flux(kubeconfig)

    def sa() -> dict[str, object]:
        return json.loads(
            _ok(
                kubeconfig,
                "get",
                "sa",
                "kustomize-controller",
                "-n",
                "flux-system",
                "-o",
                "json",
                "--show-managed-fields",
            )
        )  # type: ignore[no-any-return]

    before = sa()
    time.sleep(1.1)
    _ok(
        kubeconfig,
        "annotate",
        "sa",
        "kustomize-controller",
        "-n",
        "flux-system",
        "--overwrite",
        "azure.workload.identity/client-id=11111111-2222-3333-4444-555555555555",
    )
    assert sa() == before
    _ok(
        kubeconfig,
        "annotate",
        "sa",
        "kustomize-controller",
        "-n",
        "flux-system",
        "--overwrite",
        "azure.workload.identity/client-id=changed",
    )
    after = sa()
    assert after["metadata"]["resourceVersion"] != before["metadata"]["resourceVersion"]  # type: ignore[index]
    stamps = {m["manager"]: m["time"] for m in after["metadata"]["managedFields"]}  # type: ignore[index]
    assert stamps["kubectl-annotate"] > max(m["time"] for m in before["metadata"]["managedFields"])  # type: ignore[index]
    assert cluster.kube.get("ServiceAccount", "kustomize-controller", "flux-system") is not None
