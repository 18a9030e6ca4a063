"""Microsoft.Authorization: role assignments and role definitions at any scope (root, subscription, resource
group, resource — a vault, a single key, an identity).

The records are ``Rbac``'s, so an assignment made here through ``azure-mgmt-authorization`` is what the
Key Vault data plane and ARM itself check. Validation as ARM does it: GUID names, an existing scope and
role definition, a known principal (unless ``principalType`` is given, Azure's replication-delay escape),
no second assignment of the same role to the same principal at the same scope (409 RoleAssignmentExists),
no in-place change of an assignment (400 RoleAssignmentUpdateNotPermitted); custom roles with unique names.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from .arm import Arm, ArmError, Call, listing
from .rbac import Assignment, RoleDefinition, in_scope
from .wire import Response

RA = "Microsoft.Authorization/roleAssignments"
RD = "Microsoft.Authorization/roleDefinitions"
_FILTER = re.compile(r"^\s*(\w+)\s+eq\s+'([^']*)'\s*$", re.IGNORECASE)
_FUNC = re.compile(r"^\s*(atScope|assignedTo)\(\s*'?([^')]*)'?\s*\)\s*$", re.IGNORECASE)


def _is_guid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return len(text) == 36


def handle(arm: Arm, call: Call) -> Response:
    kind = call.types[0].lower() if call.types else ""
    if kind == "roleassignments":
        return _assignments(arm, call)
    if kind == "roledefinitions":
        return _definitions(arm, call)
    raise ArmError(
        400,
        "InvalidResourceType",
        f"The resource type '{call.types[0] if call.types else ''}' could not "
        "be found in the namespace 'Microsoft.Authorization'.",
    )


# -- role assignments ------------------------------------------------------------------------------
def _assignments(arm: Arm, call: Call) -> Response:
    scope = call.scope if call.scope != "/" else "/"
    if not call.names:
        call.authorize(f"{RA}/read", scope)
        return listing([a.body(arm.subscription) for a in _filtered(arm, scope, call.req.query.get("$filter", ""))])
    name = call.names[0]
    full = f"{scope.rstrip('/')}/providers/{RA}/{name}"
    current = next(
        (
            a
            for a in arm.emu.rbac.assignments
            if a.id.lower() == name.lower() and a.scope.lower().rstrip("/") == scope.lower().rstrip("/")
        ),
        None,
    )
    if call.method == "GET":
        call.authorize(f"{RA}/read", full)
        if current is None:
            raise ArmError(404, "RoleAssignmentNotFound", f"The role assignment '{name}' is not found.")
        return Response(200, current.body(arm.subscription))
    if call.method == "DELETE":
        call.authorize(f"{RA}/delete", full)
        if current is None:
            return Response(204)
        arm.emu.rbac.remove(current.id)
        return Response(200, current.body(arm.subscription))
    if call.method == "PUT":
        call.authorize(f"{RA}/write", full)
        return _create_assignment(arm, call, scope, name, current)
    raise ArmError(405, "MethodNotAllowed", f"{call.method} is not supported on role assignments")


def _filtered(arm: Arm, scope: str, expression: str) -> list[Assignment]:
    """What list-for-scope returns: assignments at, above and below the scope; ``atScope()`` drops those below."""
    related = [a for a in arm.emu.rbac.assignments if in_scope(a.scope, scope) or in_scope(scope, a.scope)]
    for clause in (c for c in re.split(r"\s+and\s+", expression, flags=re.IGNORECASE) if c.strip()):
        func, simple = _FUNC.match(clause), _FILTER.match(clause)
        if func and func.group(1).lower() == "atscope":
            related = [a for a in related if in_scope(a.scope, scope)]
        elif func:
            related = [a for a in related if a.principal_id == func.group(2)]
        elif simple and simple.group(1).lower() == "principalid":
            related = [a for a in related if a.principal_id == simple.group(2)]
        else:
            raise ArmError(400, "UnsupportedQuery", f"The filter '{clause}' is not supported.")
    return related


def _create_assignment(arm: Arm, call: Call, scope: str, name: str, current: Assignment | None) -> Response:
    if not _is_guid(name):
        raise ArmError(
            400,
            "InvalidRoleAssignmentId",
            f"The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID.",
        )
    props = call.body().get("properties") or {}
    role_ref, principal_id = str(props.get("roleDefinitionId") or ""), str(props.get("principalId") or "")
    if not role_ref or not principal_id:
        raise ArmError(
            400,
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized: "
            "'roleDefinitionId' and 'principalId' are required.",
        )
    arm.check_scope(scope)
    role_id = role_ref.rstrip("/").rsplit("/", 1)[-1].lower()
    definition = arm.emu.rbac.definitions.get(role_id)
    if definition is None:
        raise ArmError(
            400, "RoleDefinitionDoesNotExist", f"The specified role definition with ID '{role_id}' does not exist."
        )
    principal = arm.emu.entra.by_object_id(principal_id)
    if principal is None and not props.get("principalType"):
        raise ArmError(
            400,
            "PrincipalNotFound",
            f"Principal {principal_id.replace('-', '')} does not exist in the "
            f"directory {arm.emu.tenant_id}. Check that you have the correct principal ID. If you are "
            "creating this principal and then immediately assigning a role, this error might be related to a "
            "replication delay. In this case, set the role assignment principalType property to a value, "
            "such as ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype",
        )
    if current is not None:
        if current.principal_id != principal_id or current.role_id != role_id:
            raise ArmError(
                400,
                "RoleAssignmentUpdateNotPermitted",
                "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
            )
        return Response(200, current.body(arm.subscription))
    twin = next(
        (
            a
            for a in arm.emu.rbac.assignments
            if a.principal_id == principal_id
            and a.role_id == role_id
            and a.scope.lower().rstrip("/") == scope.lower().rstrip("/")
        ),
        None,
    )
    if twin is not None:
        raise ArmError(
            409,
            "RoleAssignmentExists",
            "The role assignment already exists. The ID of the existing role "
            f"assignment is {twin.id.replace('-', '')}.",
        )
    kind = str(props.get("principalType") or ("User" if principal and principal.kind == "user" else "ServicePrincipal"))
    assignment = arm.emu.rbac.assign(
        principal_id, definition.id, scope, name=name.lower(), principal_type=kind, created_by=call.claims.object_id
    )
    return Response(201, assignment.body(arm.subscription))


# -- role definitions ------------------------------------------------------------------------------
def _definitions(arm: Arm, call: Call) -> Response:
    scope = call.scope
    sub = arm.subscription if scope.lower().startswith("/subscriptions/") else None
    if not call.names:
        call.authorize(f"{RD}/read", scope)
        found = [
            d for d in arm.emu.rbac.definitions.values() if _definition_matches(d, call.req.query.get("$filter", ""))
        ]
        return listing([d.body(sub) for d in found])
    role_id = call.names[0].lower()
    current = arm.emu.rbac.definitions.get(role_id)
    if call.method == "GET":
        call.authorize(f"{RD}/read", scope)
        if current is None:
            raise ArmError(
                404,
                "RoleDefinitionDoesNotExist",
                f"The specified role definition with ID '{call.names[0]}' does not exist.",
            )
        return Response(200, current.body(sub))
    if call.method == "PUT":
        call.authorize(f"{RD}/write", scope)
        return _put_definition(arm, call, role_id, current, sub)
    if call.method == "DELETE":
        call.authorize(f"{RD}/delete", scope)
        return _delete_definition(arm, role_id, current, sub)
    raise ArmError(405, "MethodNotAllowed", f"{call.method} is not supported on role definitions")


def _definition_matches(definition: RoleDefinition, expression: str) -> bool:
    if not expression.strip():
        return True
    match = _FILTER.match(expression)
    if match is None:
        raise ArmError(400, "UnsupportedQuery", f"The filter '{expression}' is not supported.")
    field_name, value = match.group(1).lower(), match.group(2)
    if field_name == "rolename":
        return definition.name.lower() == value.lower()
    if field_name == "type":
        return ("BuiltInRole" if definition.builtin else "CustomRole").lower() == value.lower()
    raise ArmError(400, "UnsupportedQuery", f"The filter '{expression}' is not supported.")


def _put_definition(arm: Arm, call: Call, role_id: str, current: RoleDefinition | None, sub: str | None) -> Response:
    if not _is_guid(role_id):
        raise ArmError(
            400,
            "InvalidRoleDefinitionId",
            f"The role definition ID '{role_id}' is not valid. The role definition ID must be a GUID.",
        )
    if current is not None and current.builtin:
        raise ArmError(403, "RoleDefinitionUpdateNotPermitted", "Built-in role definitions cannot be modified.")
    props: dict[str, Any] = call.body().get("properties") or {}
    name, scopes = str(props.get("roleName") or ""), [str(s) for s in props.get("assignableScopes") or []]
    if not name or not scopes:
        raise ArmError(
            400, "InvalidRoleDefinition", "A custom role needs 'roleName' and at least one assignable scope."
        )
    for scope in scopes:
        arm.check_scope(scope)
    if not any(in_scope(s, call.scope) or s.rstrip("/").lower() == call.scope.rstrip("/").lower() for s in scopes):
        raise ArmError(
            400,
            "RoleDefinitionScopeNotAssignable",
            f"The role definition scope '{call.scope}' must be one of the assignable scopes of the role.",
        )
    if any(d.name.lower() == name.lower() and d.id != role_id for d in arm.emu.rbac.definitions.values()):
        raise ArmError(
            409,
            "RoleDefinitionWithSameNameExists",
            "A custom role with the same name already exists in this directory. Use a different name.",
        )
    perms = (props.get("permissions") or [{}])[0]
    definition = arm.emu.rbac.define(
        RoleDefinition(
            role_id,
            name,
            str(props.get("description") or ""),
            tuple(perms.get("actions") or ()),
            tuple(perms.get("notActions") or ()),
            tuple(perms.get("dataActions") or ()),
            tuple(perms.get("notDataActions") or ()),
            builtin=False,
            assignable_scopes=tuple(scopes),
        )
    )
    return Response(200 if current else 201, definition.body(sub))


def _delete_definition(arm: Arm, role_id: str, current: RoleDefinition | None, sub: str | None) -> Response:
    if current is None:
        return Response(204)
    if current.builtin:
        raise ArmError(403, "RoleDefinitionUpdateNotPermitted", "Built-in role definitions cannot be deleted.")
    if any(a.role_id == role_id for a in arm.emu.rbac.assignments):
        raise ArmError(
            409,
            "RoleDefinitionHasAssignments",
            "There are existing role assignments referencing role (code: RoleDefinitionHasAssignments).",
        )
    del arm.emu.rbac.definitions[role_id]
    return Response(200, current.body(sub))
