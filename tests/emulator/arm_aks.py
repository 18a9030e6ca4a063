"""Microsoft.ContainerService/managedClusters: what ``azure-mgmt-containerservice`` reads of an AKS cluster
(OIDC issuer profile, workload identity, FQDN, versions), the update ``az aks update --enable-oidc-issuer
--enable-workload-identity`` sends, and ``listClusterUserCredential`` (a kubeconfig for the emulated
Kubernetes API server of that cluster, trusting the test CA).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .arm import Arm, ArmError, Call, ResourceGroup, listing, not_found
from .wire import Response

if TYPE_CHECKING:
    from .kube import KubeCluster
    from .oidc import ClusterIssuer

CLUSTER_TYPE = "Microsoft.ContainerService/managedClusters"


@dataclass
class ManagedCluster:
    name: str
    resource_group: str
    location: str
    issuer: ClusterIssuer  # the cluster's service-account issuer (served publicly only when oidc_issuer)
    kube: KubeCluster
    subscription: str
    workload_identity: bool = True
    kubernetes_version: str = "1.32.4"
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def oidc_issuer(self) -> bool:
        """Whether the OIDC issuer is enabled (Entra can then fetch its discovery document and keys)."""
        return self.issuer.enabled

    @oidc_issuer.setter
    def oidc_issuer(self, value: bool) -> None:
        self.issuer.enabled = value

    @property
    def resource_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}/providers/"
            f"{CLUSTER_TYPE}/{self.name}"
        )

    def body(self, tenant_id: str) -> dict[str, Any]:
        security: dict[str, Any] = {"workloadIdentity": {"enabled": True}} if self.workload_identity else {}
        oidc: dict[str, Any] = {"enabled": self.oidc_issuer}
        if self.oidc_issuer:
            oidc["issuerURL"] = self.issuer.url
        return {
            "id": self.resource_id,
            "name": self.name,
            "type": CLUSTER_TYPE,
            "location": self.location,
            "tags": self.tags,
            "sku": {"name": "Base", "tier": "Free"},
            "identity": {"type": "SystemAssigned", "tenantId": tenant_id},
            "properties": {
                "provisioningState": "Succeeded",
                "powerState": {"code": "Running"},
                "kubernetesVersion": self.kubernetes_version,
                "currentKubernetesVersion": self.kubernetes_version,
                "dnsPrefix": self.kube.host.split(".", 1)[0].removesuffix("-dns"),
                "fqdn": self.kube.host,
                "azurePortalFQDN": f"portal-{self.kube.host}",
                "enableRBAC": True,
                "nodeResourceGroup": f"MC_{self.resource_group}_{self.name}_{self.location}",
                "agentPoolProfiles": [
                    {
                        "name": "nodepool1",
                        "count": 1,
                        "vmSize": "Standard_D2s_v3",
                        "mode": "System",
                        "osType": "Linux",
                        "provisioningState": "Succeeded",
                        "orchestratorVersion": self.kubernetes_version,
                    }
                ],
                "oidcIssuerProfile": oidc,
                "securityProfile": security,
            },
        }


def _cluster_in(arm: Arm, group: ResourceGroup, name: str) -> ManagedCluster | None:
    cluster = arm.emu.clusters.get(name.lower())
    return cluster if cluster is not None and cluster.resource_group.lower() == group.name.lower() else None


def resolve(arm: Arm, group: ResourceGroup, types: list[str], names: list[str]) -> bool:
    return [t.lower() for t in types] == ["managedclusters"] and _cluster_in(arm, group, names[0]) is not None


def handle(arm: Arm, call: Call) -> Response:
    kinds = [t.lower() for t in call.types]
    if kinds == ["managedclusters"] and not call.names:
        scope = call.rg_id if call.resource_group else arm.subscription_id
        call.authorize(f"{CLUSTER_TYPE}/read", scope)
        return listing(
            [
                c.body(arm.emu.tenant_id)
                for c in arm.emu.clusters.values()
                if c.resource_id.lower().startswith(scope.lower() + "/")
            ]
        )
    if kinds[:1] != ["managedclusters"] or call.resource_group is None or not call.names:
        raise ArmError(
            400,
            "InvalidResourceType",
            f"The resource type '{'/'.join(call.types)}' could not be found in "
            "the namespace 'Microsoft.ContainerService'.",
        )
    name = call.names[0]
    cluster = _cluster_in(arm, call.resource_group, name)
    rid = f"{call.rg_id}/providers/{CLUSTER_TYPE}/{name}"
    tail = [t.lower() for t in call.types[1:]] + [n.lower() for n in call.names[1:]]
    if (
        call.method == "POST"
        and len(call.names) == 1
        and tail in (["listclusterusercredential"], ["listclusteradmincredential"])
    ):
        action = "listClusterUserCredential" if tail[0].endswith("usercredential") else "listClusterAdminCredential"
        call.authorize(f"{CLUSTER_TYPE}/{action}/action", rid)
        if cluster is None:
            raise not_found(CLUSTER_TYPE, name, call.resource_group.name)
        kubeconfig = cluster.kube.kubeconfig(
            arm.emu.pki.ca_pem.read_bytes(), user=f"clusterUser_{cluster.resource_group}_{cluster.name}"
        )
        return Response(
            200, {"kubeconfigs": [{"name": "clusterUser", "value": base64.b64encode(kubeconfig.encode()).decode()}]}
        )
    if tail:
        raise ArmError(400, "InvalidResourceType", f"'{'/'.join(tail)}' is not served by this emulator")
    if call.method == "GET":
        call.authorize(f"{CLUSTER_TYPE}/read", rid)
        if cluster is None:
            raise not_found(CLUSTER_TYPE, name, call.resource_group.name)
        return Response(200, cluster.body(arm.emu.tenant_id))
    if call.method == "PUT":
        call.authorize(f"{CLUSTER_TYPE}/write", rid)
        return _put(arm, call, name, cluster)
    raise ArmError(405, "MethodNotAllowed", f"{call.method} is not supported on {CLUSTER_TYPE}")


def _put(arm: Arm, call: Call, name: str, cluster: ManagedCluster | None) -> Response:
    assert call.resource_group is not None
    body = call.body()
    props = body.get("properties") or {}
    oidc = bool((props.get("oidcIssuerProfile") or {}).get("enabled"))
    workload = bool(((props.get("securityProfile") or {}).get("workloadIdentity") or {}).get("enabled"))
    if workload and not oidc:
        raise ArmError(
            400,
            "BadRequest",
            "Enabling workload identity requires enabling the OIDC issuer (oidcIssuerProfile.enabled).",
        )
    if cluster is not None and cluster.oidc_issuer and not oidc:
        raise ArmError(400, "BadRequest", "The OIDC issuer cannot be disabled once it is enabled.")
    if cluster is None:
        if not body.get("location"):
            raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
        cluster = arm.emu.add_cluster(
            name,
            resource_group=call.resource_group.name,
            location=str(body["location"]),
            oidc_issuer=oidc,
            workload_identity=workload,
        )
        return Response(201, cluster.body(arm.emu.tenant_id))
    cluster.oidc_issuer, cluster.workload_identity = oidc, workload
    if "tags" in body:
        cluster.tags = dict(body.get("tags") or {})
    return Response(200, cluster.body(arm.emu.tenant_id))
