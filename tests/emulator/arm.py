"""Azure Resource Manager (management.azure.com): authentication, api-version, path parsing, authorization.

The resource providers live in ``arm_msi`` (user-assigned identities, federated credentials),
``arm_authz`` (role assignments and definitions), ``arm_keyvault`` (vaults, keys) and ``arm_aks``
(managed clusters); this module parses the request into a ``Call`` and checks, like ARM's gateway does,
that the caller's token is a management token and that one of the caller's role assignments grants the
control-plane action on the scope (``AuthorizationFailed`` with Azure's message otherwise).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import jwt
from .entra import TokenClaims
from .wire import Request, Response

if TYPE_CHECKING:
    from .cloud import Emulator

MGMT_HOST = "management.azure.com"
AUDIENCES = ("https://management.azure.com", "https://management.core.windows.net")
API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview|-beta|-alpha|-privatepreview)?$")


class ArmError(Exception):
    """An ARM error response: ``{"error": {"code", "message"}}`` with the HTTP status."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}

    def response(self) -> Response:
        return Response(
            self.status,
            {"error": {"code": self.code, "message": self.message}},
            dict(self.headers),
            note={"error": self.code},
        )


def not_found(type_name: str, name: str, resource_group: str) -> ArmError:
    return ArmError(
        404,
        "ResourceNotFound",
        f"The Resource '{type_name}/{name}' under resource group "
        f"'{resource_group}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    )


@dataclass(frozen=True)
class ResourceGroup:
    name: str
    location: str
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Call:
    """One ARM request, parsed. ``types``/``names`` are the resource type chain under ``namespace``."""

    req: Request
    claims: TokenClaims
    api_version: str
    subscription: str
    resource_group: ResourceGroup | None
    namespace: str
    types: list[str]
    names: list[str]
    scope: str = ""  # Microsoft.Authorization: the scope before /providers/Microsoft.Authorization
    arm: Arm | None = None

    @property
    def method(self) -> str:
        return self.req.method

    def body(self) -> dict[str, Any]:
        return self.req.json()

    def authorize(self, action: str, scope: str) -> None:
        assert self.arm is not None
        self.arm.authorize(self.claims, action, scope)

    @property
    def rg_id(self) -> str:
        assert self.resource_group is not None
        return f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group.name}"


Provider = Callable[["Arm", Call], Response]
# does /subscriptions/S/resourceGroups/RG/providers/NS/type1/name1[/type2/name2...] exist?
Resolver = Callable[["Arm", ResourceGroup, list[str], list[str]], bool]


class Arm:
    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.subscription = str(uuid.uuid5(uuid.NAMESPACE_DNS, emu.tenant_id))  # the vaults' subscription too
        self.resource_groups: dict[str, ResourceGroup] = {}
        self.providers: dict[str, Provider] = {}
        self.resolvers: dict[str, Resolver] = {}

    # -- configuration ---------------------------------------------------------------------------
    def add_resource_group(self, name: str, location: str = "westeurope") -> ResourceGroup:
        group = self.resource_groups.setdefault(name.lower(), ResourceGroup(name, location))
        return group

    @property
    def subscription_id(self) -> str:
        return f"/subscriptions/{self.subscription}"

    def register(self, namespace: str, provider: Provider, resolver: Resolver | None = None) -> None:
        self.providers[namespace.lower()] = provider
        if resolver is not None:
            self.resolvers[namespace.lower()] = resolver

    def check_scope(self, scope: str) -> None:
        """Raise ARM's 404 unless ``scope`` is the root, the subscription, a resource group or an existing resource."""
        parts = [p for p in scope.split("/") if p]
        if not parts:
            return
        if [p.lower() for p in parts[:1]] != ["subscriptions"] or len(parts) < 2:
            raise ArmError(400, "InvalidScope", f"The scope '{scope}' is not valid.")
        self._subscription_guard(parts[1])
        if len(parts) == 2:
            return
        if parts[2].lower() != "resourcegroups" or len(parts) < 4:
            raise ArmError(400, "InvalidScope", f"The scope '{scope}' is not valid.")
        group = self.resource_groups.get(parts[3].lower())
        if group is None:
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{parts[3]}' could not be found.")
        if len(parts) == 4:
            return
        if len(parts) < 8 or parts[4].lower() != "providers" or len(parts[6:]) % 2:
            raise ArmError(400, "InvalidScope", f"The scope '{scope}' is not valid.")
        resolver = self.resolvers.get(parts[5].lower())
        types, names = parts[6::2], parts[7::2]
        if resolver is None or not resolver(self, group, types, names):
            raise not_found(f"{parts[5]}/{'/'.join(types)}", "/".join(names), group.name)

    # -- authorization -----------------------------------------------------------------------------
    def authorize(self, claims: TokenClaims, action: str, scope: str) -> None:
        if self.emu.rbac.allows_control(claims.object_id, action, scope):
            return
        raise ArmError(
            403,
            "AuthorizationFailed",
            f"The client '{claims.object_id}' with object id '{claims.object_id}' does not have "
            f"authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. If "
            "access was recently granted, please refresh your credentials.",
            {"x-ms-failure-cause": "gateway"},
        )

    # -- HTTP --------------------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        try:
            claims = self._authenticate(req)
            api_version = req.query.get("api-version", "")
            if not api_version:
                raise ArmError(
                    400,
                    "MissingApiVersionParameter",
                    "The api-version query parameter (?api-version=) is required for all requests.",
                )
            if not API_VERSION.match(api_version):
                raise ArmError(
                    400,
                    "InvalidApiVersionParameter",
                    f"The api-version '{api_version}' is invalid. The "
                    "supported versions are in the format 'yyyy-mm-dd' or 'yyyy-mm-dd-preview'.",
                )
            resp = self._dispatch(req, claims, api_version)
        except ArmError as exc:
            resp = exc.response()
        except (ValueError, KeyError, TypeError, AttributeError) as exc:  # a request the emulator cannot parse
            resp = ArmError(400, "InvalidRequestContent", f"The request content was invalid: {exc!r}").response()
        resp.headers.setdefault("x-ms-request-id", str(uuid.uuid4()))
        resp.note.setdefault("api-version", req.query.get("api-version", ""))
        return resp

    def _authenticate(self, req: Request) -> TokenClaims:
        token = req.bearer()
        if token is None:
            raise ArmError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
        try:
            claims = self.emu.entra.validate(token)
        except jwt.JwtError as exc:
            code = "ExpiredAuthenticationToken" if "expired" in str(exc) else "InvalidAuthenticationToken"
            raise ArmError(401, code, f"The access token is invalid ({exc}).") from None
        if claims.audience.rstrip("/") not in AUDIENCES:
            allowed = "','".join(f"{a}/','{a}" for a in reversed(AUDIENCES))
            raise ArmError(
                401,
                "InvalidAuthenticationTokenAudience",
                f"The access token has been obtained for wrong audience or resource '{claims.audience}'. It "
                f"should exactly match with one of the allowed audiences '{allowed}'.",
            )
        return claims

    def _dispatch(self, req: Request, claims: TokenClaims, api_version: str) -> Response:
        parts = [p for p in req.path.split("/") if p]
        lower = [p.lower() for p in parts]
        auth_at = max(
            (i for i in range(len(lower) - 1) if lower[i] == "providers" and lower[i + 1] == "microsoft.authorization"),
            default=-1,
        )
        if auth_at >= 0:
            scope = "/" + "/".join(parts[:auth_at])
            sub = parts[1] if lower[:1] == ["subscriptions"] and len(parts) > 1 else self.subscription
            call = Call(
                req,
                claims,
                api_version,
                sub,
                None,
                "Microsoft.Authorization",
                parts[auth_at + 2 :][:1],
                parts[auth_at + 3 :],
                scope=scope,
                arm=self,
            )
            return self._provider(call)
        if lower[:1] != ["subscriptions"] or len(parts) < 2:
            raise ArmError(404, "InvalidResourceType", f"no ARM route for {req.path}")
        self._subscription_guard(parts[1])
        rest, lrest = parts[2:], lower[2:]
        if not rest:
            self.authorize(claims, "Microsoft.Resources/subscriptions/read", self.subscription_id)
            return Response(200, self.subscription_body())
        if lrest[0] == "resourcegroups":
            return self._resource_groups(req, claims, api_version, rest[1:])
        if lrest[0] == "providers" and len(rest) >= 3:
            call = Call(req, claims, api_version, parts[1], None, rest[1], rest[2:3], rest[3:], arm=self)
            return self._provider(call)
        raise ArmError(404, "InvalidResourceType", f"no ARM route for {req.path}")

    def _subscription_guard(self, subscription: str) -> None:
        if subscription.lower() != self.subscription:
            raise ArmError(404, "SubscriptionNotFound", f"The subscription '{subscription}' could not be found.")

    def subscription_body(self) -> dict[str, Any]:
        return {
            "id": self.subscription_id,
            "subscriptionId": self.subscription,
            "tenantId": self.emu.tenant_id,
            "displayName": "fluxforge emulator",
            "state": "Enabled",
            "subscriptionPolicies": {
                "locationPlacementId": "Public_2014-09-01",
                "quotaId": "PayAsYouGo_2014-09-01",
                "spendingLimit": "Off",
            },
            "authorizationSource": "RoleBased",
        }

    def _provider(self, call: Call) -> Response:
        provider = self.providers.get(call.namespace.lower())
        if provider is None or not call.types:
            raise ArmError(
                400,
                "NoRegisteredProviderFound",
                f"No registered resource provider found for location "
                f"'westeurope' and API version '{call.api_version}' for type "
                f"'{'/'.join(call.types) or call.namespace}'.",
            )
        return provider(self, call)

    def _resource_groups(self, req: Request, claims: TokenClaims, api_version: str, rest: list[str]) -> Response:
        if not rest:
            self.authorize(claims, "Microsoft.Resources/subscriptions/resourceGroups/read", self.subscription_id)
            return Response(200, {"value": [self._rg_body(g) for g in self.resource_groups.values()]})
        name = rest[0]
        rg_id = f"{self.subscription_id}/resourceGroups/{name}"
        group = self.resource_groups.get(name.lower())
        if len(rest) >= 3 and rest[1].lower() == "providers":
            if group is None:
                raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")
            call = Call(req, claims, api_version, self.subscription, group, rest[2], rest[3::2], rest[4::2], arm=self)
            return self._provider(call)
        if len(rest) != 1:
            raise ArmError(404, "InvalidResourceType", f"no ARM route for {req.path}")
        return self._resource_group(req, claims, name, rg_id, group)

    def _resource_group(
        self, req: Request, claims: TokenClaims, name: str, rg_id: str, group: ResourceGroup | None
    ) -> Response:
        if req.method in ("GET", "HEAD"):
            self.authorize(claims, "Microsoft.Resources/subscriptions/resourceGroups/read", rg_id)
            if group is None:
                if req.method == "HEAD":
                    return Response(404)
                raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")
            return Response(204) if req.method == "HEAD" else Response(200, self._rg_body(group))
        if req.method == "PUT":
            self.authorize(claims, "Microsoft.Resources/subscriptions/resourceGroups/write", rg_id)
            body = req.json()
            if not body.get("location"):
                raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
            created = group is None
            group = ResourceGroup(group.name if group else name, body["location"], dict(body.get("tags") or {}))
            self.resource_groups[name.lower()] = group
            return Response(201 if created else 200, self._rg_body(group))
        raise ArmError(405, "MethodNotAllowed", f"{req.method} is not supported on resource groups by this emulator")

    def _rg_body(self, group: ResourceGroup) -> dict[str, Any]:
        return {
            "id": f"{self.subscription_id}/resourceGroups/{group.name}",
            "name": group.name,
            "type": "Microsoft.Resources/resourceGroups",
            "location": group.location,
            "tags": group.tags,
            "properties": {"provisioningState": "Succeeded"},
        }


def listing(items: list[dict[str, Any]]) -> Response:
    return Response(200, {"value": items})
