"""Microsoft.ManagedIdentity: user-assigned identities and their federated identity credentials.

An identity created here is an Entra principal (client ID, object ID) that the token endpoint knows at
once; its federated credentials are the very records the token exchange matches (``Principal.federated``),
so what ``azure-mgmt-msi`` writes is what Entra honours. Validation as the service does it: credential
names (3-120 chars, ``[A-Za-z0-9][A-Za-z0-9-_]*``), issuer an https URL, exactly one audience, at most 20
credentials per identity, an issuer+subject pair once per identity (409), and no concurrent credential
writes on one identity (409, what parallel Bicep deployments hit).
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from .arm import Arm, ArmError, Call, listing, not_found
from .entra import FederatedCredential, Principal
from .wire import Response

NAMESPACE = "Microsoft.ManagedIdentity"
IDENTITY_TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities"
FIC_TYPE = f"{IDENTITY_TYPE}/federatedIdentityCredentials"
MAX_FICS = 20
IDENTITY_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,127}$")
FIC_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,119}$")


class MsiState:
    """Per-emulator knobs: ``fic_write_seconds`` makes a credential write take that long (concurrency tests)."""

    def __init__(self) -> None:
        self.fic_write_seconds = 0.0
        self._writing: set[str] = set()
        self._lock = threading.Lock()

    def begin_write(self, identity_id: str) -> None:
        with self._lock:
            if identity_id.lower() in self._writing:
                raise ArmError(
                    409,
                    "ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity",
                    "Too many Federated Identity Credentials are written concurrently for the managed "
                    f"identity '{identity_id}'. Federated Identity Credentials must be written sequentially.",
                )
            self._writing.add(identity_id.lower())

    def end_write(self, identity_id: str) -> None:
        with self._lock:
            self._writing.discard(identity_id.lower())


def identity_id(subscription: str, resource_group: str, name: str) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/{IDENTITY_TYPE}/{name}"


def find_identity(arm: Arm, resource_id: str) -> Principal | None:
    wanted = resource_id.rstrip("/").lower()
    return next((p for p in arm.emu.entra.principals.values() if p.resource_id.lower() == wanted), None)


def identity_body(arm: Arm, principal: Principal) -> dict[str, Any]:
    return {
        "id": principal.resource_id,
        "name": principal.resource_id.rsplit("/", 1)[-1],
        "type": IDENTITY_TYPE,
        "location": principal.location,
        "tags": principal.tags,
        "properties": {
            "tenantId": arm.emu.tenant_id,
            "principalId": principal.object_id,
            "clientId": principal.client_id,
            "isolationScope": "None",
        },
    }


def fic_body(principal: Principal, credential: FederatedCredential) -> dict[str, Any]:
    return {
        "id": f"{principal.resource_id}/federatedIdentityCredentials/{credential.name}",
        "name": credential.name,
        "type": FIC_TYPE,
        "properties": {
            "issuer": credential.issuer,
            "subject": credential.subject,
            "audiences": list(credential.audiences),
        },
    }


def handle(arm: Arm, call: Call) -> Response:
    kind = [t.lower() for t in call.types]
    if kind == ["userassignedidentities"] and not call.names:
        return _list_identities(arm, call)
    if kind[:1] != ["userassignedidentities"] or call.resource_group is None:
        raise ArmError(
            400,
            "InvalidResourceType",
            f"The resource type '{'/'.join(call.types)}' could not be found in "
            f"the namespace '{NAMESPACE}' for api version '{call.api_version}'.",
        )
    rid = identity_id(call.subscription, call.resource_group.name, call.names[0])
    if len(kind) == 1:
        return _identity(arm, call, rid)
    if kind[1] == "federatedidentitycredentials":
        principal = find_identity(arm, rid)
        if principal is None:
            raise not_found(IDENTITY_TYPE, call.names[0], call.resource_group.name)
        return _fic(arm, call, principal)
    raise ArmError(400, "InvalidResourceType", f"The resource type '{'/'.join(call.types)}' could not be found.")


def _list_identities(arm: Arm, call: Call) -> Response:
    scope = call.rg_id if call.resource_group else arm.subscription_id
    call.authorize(f"{IDENTITY_TYPE}/read", scope)
    found = [
        identity_body(arm, p)
        for p in arm.emu.entra.principals.values()
        if p.resource_id and p.resource_id.lower().startswith(scope.lower() + "/")
    ]
    return listing(found)


def _identity(arm: Arm, call: Call, rid: str) -> Response:
    principal = find_identity(arm, rid)
    assert call.resource_group is not None
    if call.method == "GET":
        call.authorize(f"{IDENTITY_TYPE}/read", rid)
        if principal is None:
            raise not_found(IDENTITY_TYPE, call.names[0], call.resource_group.name)
        return Response(200, identity_body(arm, principal))
    if call.method in ("PUT", "PATCH"):
        call.authorize(f"{IDENTITY_TYPE}/write", rid)
        return _put_identity(arm, call, rid, principal)
    if call.method == "DELETE":
        call.authorize(f"{IDENTITY_TYPE}/delete", rid)
        if principal is None:
            return Response(204)
        arm.emu.entra.remove_principal(principal)
        return Response(200)
    raise ArmError(405, "MethodNotAllowed", f"{call.method} is not supported on {IDENTITY_TYPE}")


def _put_identity(arm: Arm, call: Call, rid: str, principal: Principal | None) -> Response:
    name = call.names[0]
    if not IDENTITY_NAME.match(name):
        raise ArmError(
            400,
            "InvalidResourceName",
            f"Resource name '{name}' is invalid. The name can be between 3 and "
            "128 characters long, can contain only letters, numbers, underscores and hyphens, and must "
            "start with a letter or number.",
        )
    body = call.body()
    if principal is None:
        if call.method == "PATCH":
            raise not_found(IDENTITY_TYPE, name, call.resource_group.name if call.resource_group else "")
        if not body.get("location"):
            raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
        principal = arm.emu.entra.add_principal(name, "managed_identity")
        principal.resource_id, principal.location = rid, str(body["location"])
        principal.tags = dict(body.get("tags") or {})
        return Response(201, identity_body(arm, principal))
    if "tags" in body:
        principal.tags = dict(body.get("tags") or {})
    return Response(200, identity_body(arm, principal))


def _fic(arm: Arm, call: Call, principal: Principal) -> Response:
    if len(call.names) == 1:
        call.authorize(f"{FIC_TYPE}/read", principal.resource_id)
        return _list_fics(call, principal)
    name = call.names[1]
    fid = f"{principal.resource_id}/federatedIdentityCredentials/{name}"
    current = next((c for c in principal.federated if c.name.lower() == name.lower()), None)
    if call.method == "GET":
        call.authorize(f"{FIC_TYPE}/read", fid)
        if current is None:
            raise ArmError(
                404,
                "NotFound",
                f"Federated Identity Credential '{name}' not found under managed identity '{principal.resource_id}'.",
            )
        return Response(200, fic_body(principal, current))
    if call.method == "DELETE":
        call.authorize(f"{FIC_TYPE}/delete", fid)
        if current is None:
            return Response(204)
        principal.federated.remove(current)
        return Response(200)
    if call.method == "PUT":
        call.authorize(f"{FIC_TYPE}/write", fid)
        state: MsiState = arm.emu.msi
        state.begin_write(principal.resource_id)
        try:
            if state.fic_write_seconds:
                time.sleep(state.fic_write_seconds)
            return _put_fic(call, principal, name, current)
        finally:
            state.end_write(principal.resource_id)
    raise ArmError(405, "MethodNotAllowed", f"{call.method} is not supported on {FIC_TYPE}")


def _list_fics(call: Call, principal: Principal) -> Response:
    items = [fic_body(principal, c) for c in principal.federated]
    top = call.req.query.get("$top")
    start = int(call.req.query.get("$skiptoken") or 0)
    size = int(top) if top and top.isdigit() and int(top) > 0 else len(items) or 1
    body: dict[str, Any] = {"value": items[start : start + size]}
    if start + size < len(items):
        base = f"https://management.azure.com{principal.resource_id}/federatedIdentityCredentials"
        body["nextLink"] = f"{base}?api-version={call.api_version}&$top={size}&$skiptoken={start + size}"
    return Response(200, body)


def _validated(name: str, body: dict[str, Any]) -> FederatedCredential:
    if not FIC_NAME.match(name):
        raise ArmError(
            400,
            "BadRequest",
            f"Federated Identity Credential name '{name}' is invalid. The name must be "
            "3 to 120 characters long, start with a letter or number, and contain only letters, numbers, "
            "hyphens and underscores.",
        )
    props = body.get("properties") or {}
    issuer, subject, audiences = props.get("issuer"), props.get("subject"), props.get("audiences")
    if not issuer or not subject or not audiences:
        raise ArmError(
            400,
            "BadRequest",
            "The request format was unexpected. Federated Identity Credential must "
            "specify 'issuer', 'subject' and 'audience'.",
        )
    split = urlsplit(str(issuer))
    if split.scheme != "https" or not split.hostname:
        raise ArmError(
            400,
            "BadRequest",
            f"Federated Identity Credential issuer '{issuer}' is invalid: the issuer must "
            "be a URL with the 'https' scheme.",
        )
    if not isinstance(audiences, list) or len(audiences) != 1:
        raise ArmError(
            400,
            "BadRequest",
            "Federated Identity Credential audiences must contain exactly one value "
            f"(got {len(audiences) if isinstance(audiences, list) else audiences!r}).",
        )
    for label, value in (("issuer", issuer), ("subject", subject), ("audience", audiences[0])):
        if len(str(value)) > 600:
            raise ArmError(400, "BadRequest", f"Federated Identity Credential {label} is longer than 600 characters.")
    return FederatedCredential(name, str(issuer), str(subject), [str(audiences[0])])


def _put_fic(call: Call, principal: Principal, name: str, current: FederatedCredential | None) -> Response:
    credential = _validated(name, call.body())
    clash = next(
        (
            c
            for c in principal.federated
            if c is not current and c.issuer == credential.issuer and c.subject == credential.subject
        ),
        None,
    )
    if clash is not None:
        raise ArmError(
            409,
            "Conflict",
            "Issuer and subject combination already exists for this Managed Identity. "
            f"(Federated Identity Credential '{clash.name}' has issuer '{clash.issuer}' and subject "
            f"'{clash.subject}'.)",
        )
    if current is None and len(principal.federated) >= MAX_FICS:
        raise ArmError(
            400,
            "BadRequest",
            f"Too many Federated Identity Credentials: the managed identity "
            f"'{principal.resource_id}' already has {len(principal.federated)}; at most {MAX_FICS} are "
            "allowed per identity.",
        )
    if current is None:
        principal.federated.append(credential)
        return Response(201, fic_body(principal, credential))
    current.name, current.issuer, current.subject, current.audiences = (
        current.name,
        credential.issuer,
        credential.subject,
        credential.audiences,
    )
    return Response(200, fic_body(principal, current))
