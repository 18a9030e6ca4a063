"""ARM in the emulator, driven by the real management SDKs (azure-mgmt-msi, -authorization, -keyvault,
-containerservice) over HTTPS: what they create is what Entra and the Key Vault data plane honour."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from azure.identity import ClientSecretCredential, WorkloadIdentityCredential
from azure.keyvault.keys import KeyClient
from azure.keyvault.keys.crypto import CryptographyClient, EncryptionAlgorithm
from azure.keyvault.secrets import SecretClient
from azure.mgmt.authorization.models import RoleAssignmentCreateParameters, RoleDefinition
from azure.mgmt.msi.models import FederatedIdentityCredential, Identity
from azworld import Mgmt, World, mgmt_as

from tests.emulator import DEFAULT_RESOURCE_GROUP, MGMT_HOST, WI_AUDIENCE

RG = DEFAULT_RESOURCE_GROUP
SA_SUBJECT = "system:serviceaccount:flux-system:kustomize-controller"
# Built-in roles, as published (learn.microsoft.com, "Azure built-in roles": Security and Containers)
PUBLISHED = {
    "Key Vault Crypto User": (
        "12338af0-0e69-4776-bea7-57ae8d297424",
        [
            "Microsoft.KeyVault/vaults/keys/read",
            "Microsoft.KeyVault/vaults/keys/update/action",
            "Microsoft.KeyVault/vaults/keys/backup/action",
            "Microsoft.KeyVault/vaults/keys/encrypt/action",
            "Microsoft.KeyVault/vaults/keys/decrypt/action",
            "Microsoft.KeyVault/vaults/keys/wrap/action",
            "Microsoft.KeyVault/vaults/keys/unwrap/action",
            "Microsoft.KeyVault/vaults/keys/sign/action",
            "Microsoft.KeyVault/vaults/keys/verify/action",
        ],
    ),
    "Key Vault Crypto Service Encryption User": (
        "e147488a-f6f5-4113-8e2d-b22465e65bf6",
        [
            "Microsoft.KeyVault/vaults/keys/read",
            "Microsoft.KeyVault/vaults/keys/wrap/action",
            "Microsoft.KeyVault/vaults/keys/unwrap/action",
        ],
    ),
    "Key Vault Reader": (
        "21090545-7ca7-4776-b22c-e363652d74d2",
        ["Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/secrets/readMetadata/action"],
    ),
    "Key Vault Secrets User": (
        "4633458b-17de-408a-b874-0445c86b69e6",
        ["Microsoft.KeyVault/vaults/secrets/getSecret/action", "Microsoft.KeyVault/vaults/secrets/readMetadata/action"],
    ),
    "AcrPull": ("7f951dda-4ed3-4680-a7ca-43fe172d538d", []),
}


@pytest.fixture
def admin(in_process: World) -> Mgmt:
    return mgmt_as(in_process, "platform-admin")


def _identity(admin: Mgmt, name: str = "id-flux") -> Any:
    return admin.msi().user_assigned_identities.create_or_update(RG, name, Identity(location="westeurope"))


def _fic(
    admin: Mgmt, identity: str, name: str, *, issuer: str, subject: str = SA_SUBJECT, audiences: list[str] | None = None
) -> Any:
    return admin.msi().federated_identity_credentials.create_or_update(
        RG,
        identity,
        name,
        FederatedIdentityCredential(issuer=issuer, subject=subject, audiences=audiences or [WI_AUDIENCE]),
    )


def _assign(admin: Mgmt, scope: str, role: str, principal_id: str) -> Any:
    definition = next(iter(admin.authz().role_definitions.list(scope, filter=f"roleName eq '{role}'")))
    return admin.authz().role_assignments.create(
        scope,
        str(uuid.uuid4()),
        RoleAssignmentCreateParameters(
            role_definition_id=definition.id, principal_id=principal_id, principal_type="ServicePrincipal"
        ),
    )


def _workload_token(
    world: World, tmp: Path, namespace: str = "flux-system", sa: str = "kustomize-controller", issuer: str | None = None
) -> Path:
    path = tmp / f"token-{uuid.uuid4().hex[:6]}"
    path.write_text((world.emu.issuers[issuer] if issuer else world.emu.issuer).mint(namespace, sa))
    return path


def _workload(world: World, client_id: str, token: Path) -> WorkloadIdentityCredential:
    return WorkloadIdentityCredential(tenant_id=world.emu.tenant_id, client_id=client_id, token_file_path=str(token))


def _error(exc: pytest.ExceptionInfo[HttpResponseError]) -> tuple[int, str, str]:
    err = exc.value
    return err.status_code or 0, (err.error.code if err.error else ""), str(err.message)


# -- Microsoft.ManagedIdentity ---------------------------------------------------------------------------
def test_an_identity_made_through_arm_exchanges_tokens_through_its_federated_credential(
    admin: Mgmt, tmp_path: Path
) -> None:
    w = admin.world
    ident = _identity(admin)
    assert ident.type == "Microsoft.ManagedIdentity/userAssignedIdentities" and ident.tenant_id == w.emu.tenant_id
    assert ident.id.endswith(f"/resourceGroups/{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-flux")
    fic = _fic(admin, "id-flux", "staging-kustomize-controller", issuer=w.emu.issuer.url)
    assert (fic.issuer, fic.subject, fic.audiences) == (w.emu.issuer.url, SA_SUBJECT, [WI_AUDIENCE])
    listed = list(admin.msi().federated_identity_credentials.list(RG, "id-flux"))
    assert [f.name for f in listed] == ["staging-kustomize-controller"]
    token = _workload(w, ident.client_id, _workload_token(w, tmp_path)).get_token("https://vault.azure.net/.default")
    assert w.emu.entra.validate(token.token).object_id == ident.principal_id
    admin.msi().federated_identity_credentials.delete(RG, "id-flux", "staging-kustomize-controller")
    with pytest.raises(ClientAuthenticationError, match="AADSTS70021"):
        _workload(w, ident.client_id, _workload_token(w, tmp_path)).get_token("https://vault.azure.net/.default")
    admin.msi().user_assigned_identities.delete(RG, "id-flux")
    with pytest.raises(ResourceNotFoundError):
        admin.msi().user_assigned_identities.get(RG, "id-flux")
    with pytest.raises(ClientAuthenticationError, match="AADSTS700016"):
        _workload(w, ident.client_id, _workload_token(w, tmp_path)).get_token("https://vault.azure.net/.default")


def test_issuer_subject_and_audience_must_match_exactly(admin: Mgmt, tmp_path: Path) -> None:
    """The strings behind AADSTS70021 & co: a trailing slash, a namespace, the case of the subject, the audience."""
    w = admin.world
    ident = _identity(admin)
    url = w.emu.issuer.url
    assert url.endswith("/")
    _fic(admin, "id-flux", "no-slash", issuer=url.rstrip("/"))
    with pytest.raises(ClientAuthenticationError, match=r"AADSTS700211: .*issuer '" + url):
        _workload(w, ident.client_id, _workload_token(w, tmp_path)).get_token("https://vault.azure.net/.default")
    _fic(admin, "id-flux", "no-slash", issuer=url, subject=SA_SUBJECT.replace("flux-system", "Flux-System"))
    with pytest.raises(ClientAuthenticationError, match="AADSTS7002138: .*case-insensitive comparison"):
        _workload(w, ident.client_id, _workload_token(w, tmp_path)).get_token("https://vault.azure.net/.default")
    _fic(admin, "id-flux", "no-slash", issuer=url, subject=SA_SUBJECT.replace("flux-system", "apps"))
    with pytest.raises(ClientAuthenticationError, match="AADSTS700213: .*system:serviceaccount:flux-system"):
        _workload(w, ident.client_id, _workload_token(w, tmp_path)).get_token("https://vault.azure.net/.default")
    _fic(admin, "id-flux", "no-slash", issuer=url, audiences=["api://SomethingElse"])
    with pytest.raises(ClientAuthenticationError, match="AADSTS700212"):
        _workload(w, ident.client_id, _workload_token(w, tmp_path)).get_token("https://vault.azure.net/.default")
    _fic(admin, "id-flux", "no-slash", issuer=url)
    assert _workload(w, ident.client_id, _workload_token(w, tmp_path)).get_token("https://vault.azure.net/.default")


@pytest.mark.parametrize(
    ("name", "props", "fragment"),
    [
        ("ok-name", {"issuer": "http://insecure.example/"}, "must be a URL with the 'https' scheme"),
        ("ok-name", {"issuer": "not a url"}, "must be a URL with the 'https' scheme"),
        ("-starts-with-dash", {}, "name '-starts-with-dash' is invalid"),
        ("ab", {}, "name 'ab' is invalid"),
        ("has.dot", {}, "name 'has.dot' is invalid"),
        ("x" * 121, {}, "3 to 120 characters"),
        ("ok-name", {"audiences": []}, "must specify 'issuer', 'subject' and 'audience'"),
        ("ok-name", {"audiences": [WI_AUDIENCE, "api://second"]}, "exactly one value"),
        ("ok-name", {"subject": ""}, "must specify 'issuer', 'subject' and 'audience'"),
    ],
)
def test_federated_credentials_are_validated_like_azure(
    admin: Mgmt, name: str, props: dict[str, Any], fragment: str
) -> None:
    _identity(admin)
    body = {"issuer": admin.world.emu.issuer.url, "subject": SA_SUBJECT, "audiences": [WI_AUDIENCE], **props}
    with pytest.raises(HttpResponseError) as info:
        admin.msi().federated_identity_credentials.create_or_update(
            RG, "id-flux", name, FederatedIdentityCredential(**body)
        )
    status, code, message = _error(info)
    assert (status, code) == (400, "BadRequest") and fragment in message
    assert admin.world.emu.entra.principals  # nothing half-written
    assert not list(admin.msi().federated_identity_credentials.list(RG, "id-flux"))


def test_one_issuer_subject_pair_per_identity_and_at_most_twenty(admin: Mgmt) -> None:
    url = admin.world.emu.issuer.url
    _identity(admin)
    _fic(admin, "id-flux", "first", issuer=url)
    again = _fic(admin, "id-flux", "first", issuer=url)  # the same credential again: idempotent
    assert again.name == "first"
    with pytest.raises(HttpResponseError) as info:
        _fic(admin, "id-flux", "second", issuer=url)
    status, _, message = _error(info)
    assert status == 409 and "Issuer and subject combination already exists for this Managed Identity" in message
    for n in range(19):
        _fic(admin, "id-flux", f"tenant-{n:02d}", issuer=url, subject=f"system:serviceaccount:t{n}:sa")
    assert len(list(admin.msi().federated_identity_credentials.list(RG, "id-flux", top=7))) == 20  # paged
    with pytest.raises(HttpResponseError) as info:
        _fic(admin, "id-flux", "the-21st", issuer=url, subject="system:serviceaccount:x:y")
    status, _, message = _error(info)
    assert status == 400 and "already has 20" in message and "at most 20" in message


def test_concurrent_credential_writes_on_one_identity_conflict(admin: Mgmt) -> None:
    """What parallel Bicep/Terraform writes hit; apply must write credentials one after the other."""
    _identity(admin)
    admin.world.emu.msi.fic_write_seconds = 0.5
    errors: list[HttpResponseError] = []

    def write(n: int) -> None:
        try:
            _fic(
                admin,
                "id-flux",
                f"parallel-{n}",
                issuer=admin.world.emu.issuer.url,
                subject=f"system:serviceaccount:ns{n}:sa",
            )
        except HttpResponseError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
        time.sleep(0.1)
    for t in threads:
        t.join()
    assert len(errors) == 1 and errors[0].status_code == 409
    assert errors[0].error.code == "ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity"
    assert len(list(admin.msi().federated_identity_credentials.list(RG, "id-flux"))) == 1


def test_identity_names_and_missing_resource_group(admin: Mgmt) -> None:
    with pytest.raises(HttpResponseError) as info:
        admin.msi().user_assigned_identities.create_or_update(RG, "x", Identity(location="westeurope"))
    assert _error(info)[:2] == (400, "InvalidResourceName")
    with pytest.raises(HttpResponseError) as info:
        admin.msi().user_assigned_identities.create_or_update("rg-nope", "id-x", Identity(location="westeurope"))
    assert _error(info)[:2] == (404, "ResourceGroupNotFound") and "'rg-nope'" in _error(info)[2]


# -- Microsoft.Authorization -----------------------------------------------------------------------------
def test_builtin_role_definitions_have_their_published_ids_and_data_actions(admin: Mgmt) -> None:
    authz = admin.authz()
    scope = admin.world.emu.arm.subscription_id
    for role, (guid, data_actions) in PUBLISHED.items():
        found = list(authz.role_definitions.list(scope, filter=f"roleName eq '{role}'"))
        assert len(found) == 1, role
        assert found[0].name == guid and found[0].role_type == "BuiltInRole"
        assert found[0].id == f"{scope}/providers/Microsoft.Authorization/roleDefinitions/{guid}"
        assert found[0].permissions[0].data_actions == data_actions
        assert authz.role_definitions.get(scope, guid).role_name == role
    acr = authz.role_definitions.get(scope, PUBLISHED["AcrPull"][0])
    assert acr.permissions[0].actions == ["Microsoft.ContainerRegistry/registries/pull/read"]
    with pytest.raises(HttpResponseError) as info:
        authz.role_definitions.get(scope, str(uuid.uuid4()))
    assert _error(info)[:2] == (404, "RoleDefinitionDoesNotExist")


def test_a_role_at_the_key_scope_decrypts_that_key_only(admin: Mgmt, tmp_path: Path) -> None:
    """Tenant isolation: Crypto User on key A (assigned through ARM) does not open key B in the same vault;
    an assignment at a parent scope (the resource group) opens both."""
    w = admin.world
    vault = w.emu.vault()
    vault.create_key("tenant-a")
    vault.create_key("tenant-b")
    ident = _identity(admin, "id-tenant-a")
    _fic(
        admin,
        "id-tenant-a",
        "team-a-decryptor",
        issuer=w.emu.issuer.url,
        subject="system:serviceaccount:team-a:decryptor",
    )
    _assign(admin, vault.key_scope("tenant-a"), "Key Vault Crypto User", ident.principal_id)
    cred = _workload(w, ident.client_id, _workload_token(w, tmp_path, "team-a", "decryptor"))
    ciphertext = {
        k: CryptographyClient(vault.key_url(k), cred).encrypt(EncryptionAlgorithm.rsa_oaep_256, b"x").ciphertext
        for k in ("tenant-a",)
    }
    assert (
        CryptographyClient(vault.key_url("tenant-a"), cred)
        .decrypt(EncryptionAlgorithm.rsa_oaep_256, ciphertext["tenant-a"])
        .plaintext
        == b"x"
    )
    with pytest.raises(HttpResponseError) as info:
        CryptographyClient(vault.key_url("tenant-b"), cred).decrypt(EncryptionAlgorithm.rsa_oaep_256, b"\0" * 256)
    assert info.value.status_code == 403 and "ForbiddenByRbac" in str(info.value)
    assert f"Resource: '{vault.key_scope('tenant-b').lower()}'" in str(info.value)
    _assign(admin, f"{w.emu.arm.subscription_id}/resourceGroups/{RG}", "Key Vault Crypto User", ident.principal_id)
    crypto_b = CryptographyClient(vault.key_url("tenant-b"), cred)
    secret = crypto_b.encrypt(EncryptionAlgorithm.rsa_oaep_256, b"y").ciphertext
    assert crypto_b.decrypt(EncryptionAlgorithm.rsa_oaep_256, secret).plaintext == b"y"


def test_role_assignments_are_validated_like_arm(admin: Mgmt) -> None:
    w = admin.world
    authz = admin.authz()
    vault = w.emu.vault()
    vault.create_key("k")
    ident = _identity(admin)
    role_id = (
        f"{w.emu.arm.subscription_id}/providers/Microsoft.Authorization/roleDefinitions/"
        f"{PUBLISHED['Key Vault Crypto User'][0]}"
    )
    scope = vault.key_scope("k")

    def create(
        name: str, principal: str, *, kind: str | None = "ServicePrincipal", at: str = scope, role: str = role_id
    ) -> Any:
        return authz.role_assignments.create(
            at,
            name,
            RoleAssignmentCreateParameters(role_definition_id=role, principal_id=principal, principal_type=kind),
        )

    cases = [
        (lambda: create("not-a-guid", ident.principal_id), 400, "InvalidRoleAssignmentId"),
        (lambda: create(str(uuid.uuid4()), str(uuid.uuid4()), kind=None), 400, "PrincipalNotFound"),
        (lambda: create(str(uuid.uuid4()), ident.principal_id, at=vault.key_scope("missing")), 404, "ResourceNotFound"),
        (
            lambda: create(str(uuid.uuid4()), ident.principal_id, role=role_id[:-4] + "0000"),
            400,
            "RoleDefinitionDoesNotExist",
        ),
    ]
    for call, status, code in cases:
        with pytest.raises(HttpResponseError) as info:
            call()
        assert _error(info)[:2] == (status, code)
    name = str(uuid.uuid4())
    made = create(name, ident.principal_id)
    assert made.scope == scope and made.principal_type == "ServicePrincipal"
    assert create(name, ident.principal_id).id == made.id  # the same assignment again: idempotent
    with pytest.raises(HttpResponseError) as info:
        create(str(uuid.uuid4()), ident.principal_id)
    assert _error(info)[:2] == (409, "RoleAssignmentExists")
    listed = list(authz.role_assignments.list_for_scope(scope, filter=f"principalId eq '{ident.principal_id}'"))
    assert [a.name for a in listed] == [name]
    assert create(str(uuid.uuid4()), str(uuid.uuid4())).principal_type == "ServicePrincipal"  # replication escape
    authz.role_assignments.delete(scope, name)
    assert not list(authz.role_assignments.list_for_scope(scope, filter=f"principalId eq '{ident.principal_id}'"))


def test_arm_refuses_what_the_callers_roles_do_not_grant(in_process: World) -> None:
    """AuthorizationFailed names the action and the scope, as ARM does (Contributor may not assign roles)."""
    w = in_process
    rg = f"{w.emu.arm.subscription_id}/resourceGroups/{RG}"
    contributor = mgmt_as(w, "ci-contributor", "Contributor", rg, secret="c-secret")
    reader = mgmt_as(w, "auditor", "Reader", rg, secret="r-secret")
    nobody = mgmt_as(w, "nobody", None, secret="n-secret")
    ident = _identity(contributor)
    assert reader.msi().user_assigned_identities.get(RG, "id-flux").client_id == ident.client_id
    with pytest.raises(HttpResponseError) as info:
        _identity(reader, "id-other")
    status, code, message = _error(info)
    assert (status, code) == (403, "AuthorizationFailed")
    assert f"object id '{reader.principal.object_id}'" in message
    assert "'Microsoft.ManagedIdentity/userAssignedIdentities/write'" in message and "/id-other'" in message
    vault = w.emu.vault()
    vault.create_key("k")
    with pytest.raises(HttpResponseError) as info:
        _assign(contributor, vault.key_scope("k"), "Key Vault Crypto User", ident.principal_id)
    status, code, message = _error(info)
    assert (status, code) == (403, "AuthorizationFailed")
    assert "'Microsoft.Authorization/roleAssignments/write' over scope" in message
    assert f"'{vault.key_scope('k')}/providers/Microsoft.Authorization/roleAssignments/" in message
    with pytest.raises(HttpResponseError) as info:
        nobody.msi().user_assigned_identities.get(RG, "id-flux")
    assert _error(info)[:2] == (403, "AuthorizationFailed")
    assert not w.emu.rbac.allows_control(
        contributor.principal.object_id, "Microsoft.Authorization/roleAssignments/write", rg
    )


def test_arm_authentication_errors(in_process: World) -> None:
    w = in_process
    url = f"https://{MGMT_HOST}/subscriptions/{w.emu.arm.subscription}/resourceGroups?api-version=2021-04-01"
    bare = requests.get(url, verify=str(w.emu.pki.ca_pem), timeout=10)
    assert bare.status_code == 401 and bare.json()["error"]["code"] == "AuthenticationFailed"
    token, _ = w.emu.entra.mint_access_token(w.developer, "https://vault.azure.net")
    wrong = requests.get(url, verify=str(w.emu.pki.ca_pem), timeout=10, headers={"Authorization": f"Bearer {token}"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "InvalidAuthenticationTokenAudience"
    token, _ = w.emu.entra.mint_access_token(w.developer, "https://management.azure.com")
    no_version = requests.get(
        url.split("?")[0], verify=str(w.emu.pki.ca_pem), timeout=10, headers={"Authorization": f"Bearer {token}"}
    )
    assert no_version.json()["error"]["code"] == "MissingApiVersionParameter"


def test_custom_role_for_encryptors(admin: Mgmt, tmp_path: Path) -> None:
    """A least-privilege custom role (keys/read + encrypt): encrypting works, decrypting is refused."""
    w = admin.world
    vault = w.emu.vault()
    vault.create_key("k")
    scope = w.emu.arm.subscription_id
    role_id = str(uuid.uuid4())
    definition = admin.authz().role_definitions.create_or_update(
        scope,
        role_id,
        RoleDefinition(
            role_name="SOPS Encryptor",
            description="encrypt only",
            role_type="CustomRole",
            assignable_scopes=[scope],
            permissions=[
                {
                    "actions": [],
                    "data_actions": [
                        "Microsoft.KeyVault/vaults/keys/read",
                        "Microsoft.KeyVault/vaults/keys/encrypt/action",
                    ],
                }
            ],
        ),
    )
    assert definition.name == role_id and definition.role_type == "CustomRole"
    with pytest.raises(HttpResponseError) as info:
        admin.authz().role_definitions.create_or_update(
            scope,
            str(uuid.uuid4()),
            RoleDefinition(role_name="SOPS Encryptor", assignable_scopes=[scope], permissions=[{"actions": []}]),
        )
    assert _error(info)[:2] == (409, "RoleDefinitionWithSameNameExists")
    dev = mgmt_as(w, "dev-encryptor", None, secret="dev-enc")
    _assign(admin, vault.key_scope("k"), "SOPS Encryptor", dev.principal.object_id)
    crypto = CryptographyClient(vault.key_url("k"), dev.credential())  # type: ignore[arg-type]
    blob = crypto.encrypt(EncryptionAlgorithm.rsa_oaep_256, b"z").ciphertext
    with pytest.raises(HttpResponseError, match="ForbiddenByRbac"):
        crypto.decrypt(EncryptionAlgorithm.rsa_oaep_256, blob)


# -- Microsoft.KeyVault ----------------------------------------------------------------------------------
def _vault_params(w: World, **props: Any) -> dict[str, Any]:
    return {
        "location": "westeurope",
        "properties": {"tenantId": w.emu.tenant_id, "sku": {"family": "A", "name": "standard"}, **props},
    }


def test_vault_created_through_arm_is_served_at_once_in_rbac_mode(admin: Mgmt) -> None:
    w = admin.world
    kv = admin.keyvault()
    assert kv.vaults.check_name_availability({"name": "kv-fleet-1", "type": "Microsoft.KeyVault/vaults"}).name_available
    vault = kv.vaults.begin_create_or_update(RG, "kv-fleet-1", _vault_params(w, enablePurgeProtection=True)).result()
    props = vault.properties
    assert props.vault_uri == "https://kv-fleet-1.vault.azure.net/"
    assert props.enable_rbac_authorization is True  # the default of API versions 2026-02-01 and later
    assert props.enable_purge_protection is True and props.enable_soft_delete is True
    taken = kv.vaults.check_name_availability({"name": "kv-fleet-1", "type": "Microsoft.KeyVault/vaults"})
    assert taken.name_available is False and taken.reason == "AlreadyExists"
    key = kv.keys.create_if_not_exist(RG, "kv-fleet-1", "sops", {"properties": {"kty": "RSA", "keySize": 2048}})
    assert key.properties.key_uri == "https://kv-fleet-1.vault.azure.net/keys/sops"
    assert (
        kv.keys.create_if_not_exist(
            RG, "kv-fleet-1", "sops", {"properties": {"kty": "RSA"}}
        ).properties.key_uri_with_version
        == key.properties.key_uri_with_version
    )  # existing key: unchanged
    _assign(admin, f"{vault.id}/keys/sops", "Key Vault Crypto User", admin.principal.object_id)
    crypto = CryptographyClient(key.properties.key_uri_with_version, admin.credential())  # type: ignore[arg-type]
    blob = crypto.encrypt(EncryptionAlgorithm.rsa_oaep_256, b"fresh").ciphertext
    assert crypto.decrypt(EncryptionAlgorithm.rsa_oaep_256, blob).plaintext == b"fresh"
    with pytest.raises(HttpResponseError) as info:
        kv.vaults.begin_create_or_update(RG, "kv-fleet-1", _vault_params(w, enablePurgeProtection=False)).result()
    assert _error(info)[:2] == (400, "BadRequest") and "irreversible" in _error(info)[2]
    for name, code in (
        ("1-starts-with-digit", "VaultNameNotValid"),
        ("double--hyphen", "VaultNameNotValid"),
        ("sopstest", "VaultAlreadyExists"),
    ):
        with pytest.raises(HttpResponseError) as info:
            kv.vaults.begin_create_or_update("rg-other" if name == "sopstest" else RG, name, _vault_params(w)).result()
        assert _error(info)[1] in (code, "ResourceGroupNotFound")
    w.emu.arm.add_resource_group("rg-other")
    with pytest.raises(HttpResponseError) as info:
        kv.vaults.begin_create_or_update("rg-other", "sopstest", _vault_params(w)).result()
    assert _error(info)[:2] == (409, "VaultAlreadyExists")
    names = [v.name for v in kv.vaults.list_by_resource_group(RG)]
    assert names[0] == "sopstest" and names[-1] == "kv-fleet-1"


def test_access_policy_vaults_ignore_role_assignments(admin: Mgmt) -> None:
    """With enableRbacAuthorization false the data plane asks the access policies, as Key Vault does."""
    w = admin.world
    kv = admin.keyvault()
    vault = kv.vaults.begin_create_or_update(
        RG, "kv-legacy", _vault_params(w, enableRbacAuthorization=False, accessPolicies=[])
    ).result()
    assert vault.properties.enable_rbac_authorization is False
    kv.keys.create_if_not_exist(RG, "kv-legacy", "k", {"properties": {"kty": "RSA"}})
    _assign(admin, vault.id, "Key Vault Crypto User", admin.principal.object_id)
    crypto = CryptographyClient("https://kv-legacy.vault.azure.net/keys/k", admin.credential())  # type: ignore[arg-type]
    with pytest.raises(HttpResponseError) as info:
        crypto.decrypt(EncryptionAlgorithm.rsa_oaep_256, b"\0" * 256)
    assert "does not have keys decrypt permission on key vault 'kv-legacy;location=westeurope'" in str(info.value)
    assert info.value.error.innererror["code"] == "AccessDenied"
    kv.vaults.begin_create_or_update(
        RG,
        "kv-legacy",
        _vault_params(
            w,
            accessPolicies=[
                {
                    "tenantId": w.emu.tenant_id,
                    "objectId": admin.principal.object_id,
                    "permissions": {"keys": ["get", "encrypt", "decrypt"]},
                }
            ],
        ),
    ).result()
    blob = crypto.encrypt(EncryptionAlgorithm.rsa_oaep_256, b"ap").ciphertext
    assert crypto.decrypt(EncryptionAlgorithm.rsa_oaep_256, blob).plaintext == b"ap"


def test_key_versions_attributes_and_state(admin: Mgmt) -> None:
    """Data-plane keys through azure-keyvault-keys: create, versions, disable (decrypt refused, encrypt still
    allowed, as the service does), expiry (encrypt refused)."""
    w = admin.world
    _assign(admin, w.emu.vault().resource_id, "Key Vault Administrator", admin.principal.object_id)
    keys = KeyClient(w.emu.vault().url, admin.credential())  # type: ignore[arg-type]
    first = keys.create_rsa_key("rotating", size=2048)
    second = keys.create_rsa_key("rotating", size=3072)
    versions = [p.version for p in keys.list_properties_of_key_versions("rotating")]
    assert versions == [first.properties.version, second.properties.version]
    assert keys.get_key("rotating").key.n and keys.get_key("rotating").properties.version == second.properties.version
    crypto = CryptographyClient(second.id, admin.credential())  # type: ignore[arg-type]
    blob = crypto.encrypt(EncryptionAlgorithm.rsa_oaep_256, b"v2").ciphertext
    keys.update_key_properties("rotating", second.properties.version, enabled=False)
    assert keys.get_key("rotating", second.properties.version).properties.enabled is False
    remote = CryptographyClient(second.id, admin.credential())  # type: ignore[arg-type]
    with pytest.raises(HttpResponseError, match="not allowed on a disabled key"):
        remote.decrypt(EncryptionAlgorithm.rsa_oaep_256, blob)
    keys.update_key_properties(
        "rotating", second.properties.version, enabled=True, expires_on=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    )
    expired = keys.get_key("rotating", second.properties.version)
    assert expired.properties.expires_on.year == 2020
    assert remote.decrypt(EncryptionAlgorithm.rsa_oaep_256, blob).plaintext == b"v2"  # old data still opens
    status = requests.post(
        f"{second.id}/encrypt?api-version=7.6",
        verify=str(w.emu.pki.ca_pem),
        timeout=10,
        json={"alg": "RSA-OAEP-256", "value": "AAAA"},
        headers={
            "Authorization": "Bearer "
            + admin.credential()
            .get_token(  # type: ignore[attr-defined]
                "https://vault.azure.net/.default"
            )
            .token
        },
    )
    assert status.status_code == 403 and status.json()["error"]["innererror"]["code"] == "KeyExpired"


def test_app_reads_a_secret_with_secrets_user_and_not_without(admin: Mgmt, tmp_path: Path) -> None:
    """The CSI driver's path (issue 13): app SA token -> Entra -> Key Vault secret, Secrets User at the secret."""
    w = admin.world
    vault = w.emu.vault()
    vault.set_secret("db-password", "s3cr3t-value")
    app = _identity(admin, "id-app")
    _fic(admin, "id-app", "staging-app", issuer=w.emu.issuer.url, subject="system:serviceaccount:apps:web")
    cred = _workload(w, app.client_id, _workload_token(w, tmp_path, "apps", "web"))
    secrets = SecretClient(vault.url, cred)
    with pytest.raises(HttpResponseError) as info:
        secrets.get_secret("db-password")
    assert info.value.status_code == 403 and "secrets/getSecret/action" in str(info.value)
    _assign(admin, vault.secret_scope("db-password"), "Key Vault Secrets User", app.principal_id)
    got = secrets.get_secret("db-password")
    assert got.value == "s3cr3t-value" and got.properties.version == vault.secrets["db-password"][-1].version
    assert "s3cr3t-value" not in repr(w.emu.log.entries())


# -- Microsoft.ContainerService --------------------------------------------------------------------------
def test_managed_cluster_reports_and_updates_oidc_and_workload_identity(admin: Mgmt) -> None:
    w = admin.world
    cluster = w.emu.add_cluster("staging", oidc_issuer=False, workload_identity=False)
    aks = admin.aks()
    mc = aks.managed_clusters.get(RG, "staging")
    assert mc.oidc_issuer_profile.enabled is False and mc.oidc_issuer_profile.issuer_url is None
    assert mc.security_profile.workload_identity is None
    assert mc.fqdn == cluster.kube.host and mc.fqdn.endswith(".hcp.westeurope.azmk8s.io")
    discovery = f"{cluster.issuer.url}.well-known/openid-configuration"
    assert requests.get(discovery, verify=str(w.emu.pki.ca_pem), timeout=10).status_code == 404
    mc.oidc_issuer_profile.enabled = True
    mc.security_profile.workload_identity = {"enabled": True}
    updated = aks.managed_clusters.begin_create_or_update(RG, "staging", mc).result()
    assert updated.oidc_issuer_profile.issuer_url == cluster.issuer.url and cluster.issuer.url.endswith("/")
    assert updated.security_profile.workload_identity.enabled is True
    assert requests.get(discovery, verify=str(w.emu.pki.ca_pem), timeout=10).json()["issuer"] == cluster.issuer.url
    assert [c.name for c in aks.managed_clusters.list_by_resource_group(RG)] == ["staging"]
    with pytest.raises(ResourceNotFoundError):
        aks.managed_clusters.get(RG, "prod")


def test_admin_credential_has_no_vault_data_access_by_default(admin: Mgmt) -> None:
    """Owner is a control-plane role: without a data role the same principal is refused by Key Vault."""
    w = admin.world
    w.emu.vault().create_key("k")
    cred = ClientSecretCredential(w.emu.tenant_id, admin.principal.client_id, admin.secret)
    with pytest.raises(HttpResponseError, match="ForbiddenByRbac"):
        CryptographyClient(w.emu.vault().key_url("k"), cred).decrypt(EncryptionAlgorithm.rsa_oaep_256, b"\0" * 256)
