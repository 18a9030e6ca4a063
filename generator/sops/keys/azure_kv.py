"""The ``azure_kv`` key source: wrap the data key with an Azure Key Vault RSA key, as sops does.

Wrapping is RSA-OAEP-256 computed locally with the key's public JWK, fetched once per key per run (one
``GET`` instead of one ``encrypt`` per file); when the identity may not read the key, the remote Encrypt
operation is used instead. Unwrapping is always the remote Decrypt operation. One credential, one token
and one client per vault serve the whole run. This is the only module that imports ``azure.*`` (lazily).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from generator.errors import KeyVaultError
from generator.sops.keys import KeyOptions
from generator.sops.keys import azure_gates as gates
from generator.sops.keys.kinds import AZURE_CREDENTIALS as CREDENTIALS

KEY_URL = re.compile(r"^(https://[^/]+)/keys/([^/]+)(/[^/]*)?$")  # as sops' NewMasterKeyFromURL
ALGORITHM = "RSA-OAEP-256"
RETRY = {
    "retry_total": 6,
    "retry_connect": 4,
    "retry_read": 4,
    "retry_status": 6,
    "retry_backoff_factor": 0.4,
    "retry_backoff_max": 10,
}
RETRY_METHODS = frozenset({"GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS"})  # encrypt/decrypt are safe to repeat
T = TypeVar("T")
_QUIET = logging.NullHandler()


@dataclass(frozen=True)
class KeyRef:
    vault_url: str
    name: str
    version: str  # "" = the key's current version

    @property
    def url(self) -> str:
        return f"{self.vault_url}/keys/{self.name}" + (f"/{self.version}" if self.version else "")


def parse_key_url(url: str) -> KeyRef:
    """``https://<vault>.vault.azure.net/keys/<name>[/<version>]`` (a default ``:443`` is dropped)."""
    match = KEY_URL.match(url.strip())
    if not match:
        raise KeyVaultError(
            f"azure_kv: {url.strip()!r} is not a Key Vault key URL; expected "
            "https://<vault>.vault.azure.net/keys/<name>[/<version>]"
        )
    vault = match.group(1).removesuffix(":443")
    return KeyRef(vault, match.group(2), (match.group(3) or "/")[1:])


def encode_enc(ciphertext: bytes) -> str:
    """base64url without padding, as sops writes ``enc``."""
    return base64.urlsafe_b64encode(ciphertext).rstrip(b"=").decode("ascii")


def decode_enc(text: str, where: str) -> bytes:
    """Strict like sops: padding or characters outside the URL-safe alphabet are rejected."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", text):
        raise KeyVaultError(f"{where}: enc is not unpadded base64url (sops writes it without '=')")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise KeyVaultError(f"{where}: enc is not valid base64url") from None


class _OneToken:
    """Wraps a credential so each (scopes, tenant, claims) is fetched once per run (az: one subprocess)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self._tokens: dict[tuple[Any, ...], Any] = {}
        self._refused: dict[tuple[Any, ...], Exception] = {}  # Entra said no: do not ask again this run
        self._lock = threading.Lock()

    def _cached(self, key: tuple[Any, ...], fetch: Callable[[], T]) -> T:
        from azure.core.exceptions import ClientAuthenticationError

        with self._lock:
            if key in self._refused:
                raise self._refused[key]
            token = self._tokens.get(key)
            if token is None or token.expires_on - time.time() < 300:
                try:
                    token = self._tokens[key] = fetch()
                except ClientAuthenticationError as exc:
                    self._refused[key] = exc
                    raise
            return token

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> Any:
        key = ("t", scopes, claims, tenant_id, enable_cae)
        return self._cached(
            key,
            lambda: self.inner.get_token(*scopes, claims=claims, tenant_id=tenant_id, enable_cae=enable_cae, **kwargs),
        )

    def get_token_info(self, *scopes: str, options: Mapping[str, Any] | None = None) -> Any:
        key = ("i", scopes, tuple(sorted((options or {}).items())))
        if hasattr(self.inner, "get_token_info"):
            return self._cached(key, lambda: self.inner.get_token_info(*scopes, options=options))
        from azure.core.credentials import AccessTokenInfo

        opts = dict(options or {})
        token = self.get_token(
            *scopes, claims=opts.get("claims"), tenant_id=opts.get("tenant_id"), enable_cae=bool(opts.get("enable_cae"))
        )
        return AccessTokenInfo(token.token, token.expires_on)

    def close(self) -> None:
        if hasattr(self.inner, "close"):
            self.inner.close()


def make_credential(name: str | None) -> Any:
    """The credential for ``--credential NAME``; default chain: environment, workload identity, Azure CLI."""
    from azure import identity

    # The SDK logs each refused token at WARNING; our KeyVaultError says it once, with the fix. A
    # NullHandler keeps Python's last-resort stderr handler quiet without touching levels (--debug still
    # sees the records through the root logger's handlers).
    logging.getLogger("azure").addHandler(_QUIET)

    choice = (name or "default").lower()
    builders: dict[str, Callable[[], Any]] = {
        "workload": identity.WorkloadIdentityCredential,
        "environment": identity.EnvironmentCredential,
        "cli": identity.AzureCliCredential,
        "managed": lambda: identity.ManagedIdentityCredential(client_id=os.environ.get("AZURE_CLIENT_ID")),
    }
    if choice == "default":
        chain: list[Any] = []
        if any(os.environ.get(v) for v in ("AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_USERNAME")):
            chain.append(identity.EnvironmentCredential())
        wi_env = ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE")
        if all(os.environ.get(v) for v in wi_env):
            chain.append(identity.WorkloadIdentityCredential())
        chain.append(identity.AzureCliCredential())
        return identity.ChainedTokenCredential(*chain)
    if choice not in builders:
        raise KeyVaultError(f"azure_kv: unknown credential {name!r}; choose one of: {', '.join(CREDENTIALS)}")
    try:
        return builders[choice]()
    except ValueError as exc:  # WorkloadIdentityCredential without its environment
        raise KeyVaultError(f"azure_kv: credential {choice!r} cannot start: {exc}") from None


def assertion_credential(tenant_id: str, client_id: str, assertion: Callable[[], str]) -> Any:
    """The credential kustomize-controller builds for a ServiceAccount token (``azidentity``'s
    ClientAssertionCredential): the token is exchanged at Entra ID for ``client_id``; it is only ever held
    in memory. The authority is ``AZURE_AUTHORITY_HOST`` or the public cloud's."""
    from azure.identity import ClientAssertionCredential

    logging.getLogger("azure").addHandler(_QUIET)
    return ClientAssertionCredential(tenant_id, client_id, assertion)


@dataclass(frozen=True)
class KeyVersionInfo:
    """One version of a Key Vault key as a ``GET`` (or a version listing) shows it: what sops and Flux
    can still do with it. Times are UTC."""

    vault_url: str
    name: str
    version: str
    enabled: bool
    expires_on: dt.datetime | None = None
    not_before: dt.datetime | None = None
    created_on: dt.datetime | None = None
    kty: str = "RSA"

    @property
    def url(self) -> str:
        return f"{self.vault_url}/keys/{self.name}/{self.version}"

    def unusable(self, now: dt.datetime | None = None) -> str | None:
        """Why Key Vault refuses this version for sops, or None: disabled (no decrypt), expired (no encrypt:
        new files cannot be wrapped for it), not yet valid, or not an RSA key."""
        now = now or dt.datetime.now(dt.UTC)
        if not self.enabled:
            return "is disabled (Key Vault refuses to decrypt with it)"
        if self.expires_on is not None and self.expires_on <= now:
            return f"expired at {_stamp(self.expires_on)} (Key Vault refuses to encrypt with it)"
        if self.not_before is not None and self.not_before > now:
            return f"is not valid before {_stamp(self.not_before)}"
        if self.kty not in ("RSA", "RSA-HSM"):
            return f"is a {self.kty} key; sops needs RSA ({ALGORITHM})"
        return None


def _stamp(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _version_info(ref: KeyRef, props: Any, kty: str = "RSA") -> KeyVersionInfo:
    return KeyVersionInfo(
        ref.vault_url,
        ref.name,
        str(props.version),
        props.enabled is not False,
        props.expires_on,
        props.not_before,
        props.created_on,
        kty,
    )


@dataclass
class _Wrapper:
    version: str
    encrypt: Callable[[bytes], tuple[bytes, str]]  # -> (ciphertext, version used)


class AzureKeyVaultSource:
    """KeySource for ``azure_kv``; one instance per run (``source_for`` caches it)."""

    kind = "azure_kv"

    def __init__(
        self,
        options: KeyOptions,
        credential: Any | None = None,
        *,
        identity_env: Mapping[str, str] | None = None,
        **client_options: Any,
    ) -> None:
        self.options = options
        self._credential_arg = credential
        self._identity_env = identity_env  # names the identity in messages (default: the process environment)
        self._credential: _OneToken | None = None
        self._client_options = {**RETRY, **client_options}
        self._clients: dict[str, Any] = {}
        self._wrappers: dict[KeyRef, _Wrapper] = {}
        self._broken: dict[str, str] = {}  # vault URL -> the error that exhausted the retries
        self._lock = threading.RLock()

    # -- KeySource -------------------------------------------------------------------------------
    def wrap(self, recipient: str, data_key: bytes) -> dict[str, str]:
        ref = parse_key_url(recipient)
        with self._lock:
            wrapper = self._wrappers.get(ref) or self._guard("encrypt", ref, lambda: self._make_wrapper(ref))
            self._wrappers[ref] = wrapper
        ciphertext, version = self._guard("encrypt", ref, lambda: wrapper.encrypt(data_key))
        created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "vault_url": ref.vault_url,
            "name": ref.name,
            "version": version,
            "created_at": created,
            "enc": encode_enc(ciphertext),
        }

    def unwrap(self, entry: Mapping[str, Any]) -> bytes:
        """One remote Decrypt (RSA-OAEP-256), exactly what sops calls: no key read, so an identity with
        decrypt permission only leaves no 403 in the vault's audit log."""
        ref = self._entry_ref(entry)
        ciphertext = decode_enc(str(entry.get("enc", "")), f"azure_kv {ref.url}")
        plaintext, _ = self._guard(
            "decrypt", ref, lambda: _post(self._client(ref.vault_url), ref, "decrypt", ciphertext)
        )
        return plaintext

    def recipient_of(self, entry: Mapping[str, Any]) -> str:
        """``{vault_url}/keys/{name}/{version}``, sops' ``ToString`` of the key."""
        return self._entry_ref(entry).url

    # -- key versions (fluxforge rotate-key, doctor) ---------------------------------------------------
    def key_info(self, url: str) -> KeyVersionInfo | None:
        """``GET {vault}/keys/{name}[/{version}]`` (``keys/read``): the named version, or the key's current
        one when the URL has none; None when Key Vault has no such key or version (404). Any other failure
        is a KeyVaultError naming the URL and the fix."""
        from azure.core.exceptions import ResourceNotFoundError

        ref = parse_key_url(url)

        def get() -> KeyVersionInfo | None:
            try:
                key = self._client(ref.vault_url).get_key(ref.name, ref.version or None)
            except ResourceNotFoundError:
                return None
            return _version_info(ref, key.properties, str(getattr(key.key_type, "value", key.key_type)))

        return self._guard("read", ref, get)

    # -- internals ---------------------------------------------------------------------------------
    @staticmethod
    def _entry_ref(entry: Mapping[str, Any]) -> KeyRef:
        vault, name = str(entry.get("vault_url", "")).rstrip("/"), str(entry.get("name", ""))
        if not vault.startswith("https://") or not name:
            raise KeyVaultError(f"azure_kv entry {dict(entry).get('vault_url')!r}: needs vault_url (https) and name")
        return KeyRef(vault, name, str(entry.get("version") or ""))

    def _credential_obj(self) -> _OneToken:
        if self._credential is None:
            chosen = self.options.get(self.kind, "credential")
            self._credential = _OneToken(self._credential_arg or make_credential(chosen))
        return self._credential

    def _client(self, vault_url: str) -> Any:
        with self._lock:
            if vault_url not in self._clients:
                from azure.keyvault.keys import KeyClient

                self._clients[vault_url] = KeyClient(vault_url, self._credential_obj(), **self._client_options)
            return self._clients[vault_url]

    def _make_wrapper(self, ref: KeyRef) -> _Wrapper:
        from azure.core.exceptions import HttpResponseError

        client = self._client(ref.vault_url)
        try:
            key = client.get_key(ref.name, ref.version or None)
        except HttpResponseError as exc:
            if exc.status_code != 403:
                raise
            return self._remote_wrapper(client, ref)
        return _local_wrapper(ref, key)

    def _remote_wrapper(self, client: Any, ref: KeyRef) -> _Wrapper:
        """No ``keys/read``: every wrap is a remote Encrypt; the version comes from the result's ``kid``."""
        return _Wrapper(ref.version, lambda data_key: _post(client, ref, "encrypt", data_key))

    def _guard(self, operation: str, ref: KeyRef, call: Callable[[], T]) -> T:
        """Run one SDK call; failures become ``KeyVaultError``. A vault that stays unavailable after the
        SDK's retries (429/5xx/network) is not asked again in this run: later files fail fast."""
        broken = self._broken.get(ref.vault_url)
        if broken is not None:
            raise KeyVaultError(f"{broken} (not retried: this vault already failed earlier in this run)")
        try:
            return call()
        except KeyVaultError:
            raise
        except Exception as exc:  # the azure SDK's exceptions, classified below
            env = dict(self._identity_env if self._identity_env is not None else os.environ)
            message = _explain(exc, gates.Context.from_env(operation, ref.url, env))
            if _transient(exc):
                self._broken[ref.vault_url] = message
            raise KeyVaultError(message) from exc


def _post(client: Any, ref: KeyRef, operation: str, value: bytes) -> tuple[bytes, str]:
    """``POST {vault}/keys/{name}/{version}/{operation}`` through the KeyClient's pipeline (challenge auth,
    retries); returns the result and the key version that did it (from ``kid``)."""
    from azure.core.rest import HttpRequest

    path = f"/keys/{ref.name}/{ref.version}/{operation}" if ref.version else f"/keys/{ref.name}/{operation}"
    request = HttpRequest("POST", path, json={"alg": ALGORITHM, "value": encode_enc(value)})
    response = client.send_request(request, retry_on_methods=RETRY_METHODS)
    response.raise_for_status()
    body = response.json()
    version = str(body.get("kid") or "").rstrip("/").rsplit("/", 1)[-1]
    if not version or version == ref.name:
        raise KeyVaultError(f"azure_kv {operation} with {ref.url}: Key Vault's answer names no key version")
    return decode_enc(str(body.get("value", "")), f"azure_kv {operation} result from {ref.url}"), version


def _vault_name(ref: KeyRef) -> str:
    return ref.vault_url.removeprefix("https://").split(".", 1)[0]


def _local_wrapper(ref: KeyRef, key: Any) -> _Wrapper:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    props = key.properties
    if props.enabled is False:
        raise KeyVaultError(
            f"azure_kv encrypt with {ref.url}: the key version {props.version} is disabled; enable "
            f"it (az keyvault key set-attributes --id {ref.vault_url}/keys/{ref.name}/{props.version} "
            "--enabled true) or use another version"
        )
    if key.key_type not in ("RSA", "RSA-HSM"):
        raise KeyVaultError(
            f"azure_kv encrypt with {ref.url}: key type {key.key_type} cannot do {ALGORITHM}; "
            f"sops needs an RSA key (az keyvault key create --vault-name {_vault_name(ref)} --name {ref.name} "
            "--kty RSA --size 2048 --ops encrypt decrypt)"
        )
    public = rsa.RSAPublicNumbers(int.from_bytes(key.key.e, "big"), int.from_bytes(key.key.n, "big")).public_key()
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    version = str(props.version)
    return _Wrapper(version, lambda data_key: (public.encrypt(data_key, oaep), version))


def _explain(exc: Exception, ctx: gates.Context) -> str:
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError
    from azure.identity import CredentialUnavailableError

    text = str(getattr(exc, "message", None) or exc)
    if isinstance(exc, CredentialUnavailableError):
        return gates.explain_unavailable(text, ctx)
    if "AADSTS" in text:
        return gates.explain_entra(text, ctx)
    if "not configured to acquire tokens for tenant" in text:
        return gates.explain_tenant(text, ctx)
    if isinstance(exc, HttpResponseError) and exc.status_code:
        return _explain_response(exc, text, ctx)
    if isinstance(exc, ClientAuthenticationError):
        return gates.explain_unavailable(text, ctx)
    if isinstance(exc, ServiceRequestError) or "connection" in text.lower():
        return gates.explain_network(text, ctx)
    return f"{ctx.head}: {type(exc).__name__}: {' '.join(text.split())[:400]}"


def _explain_response(exc: Any, text: str, ctx: gates.Context) -> str:
    """Key Vault answered with an error status: its code, inner code and message."""
    error = getattr(exc, "error", None)
    code = str(getattr(error, "code", "") or "")
    message = str(getattr(error, "message", "") or text)
    return gates.explain_vault(int(exc.status_code), code, message, ctx, _inner_code(exc))


def _transient(exc: Exception) -> bool:
    from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return True
    status = getattr(exc, "status_code", None) if isinstance(exc, HttpResponseError) else None
    return status is not None and (status == 429 or status >= 500)


def _inner_code(exc: Any) -> str:
    try:
        body = exc.response.json()
        return str(body["error"]["innererror"]["code"])
    except Exception:  # noqa: BLE001 - best effort: the body may be absent or not JSON
        return ""


def make_source(options: KeyOptions) -> AzureKeyVaultSource:
    return AzureKeyVaultSource(options)


def vault_source(options: KeyOptions, cache: dict[str, Any]) -> AzureKeyVaultSource:
    """The run's ``azure_kv`` source (shared through ``cache`` with the sops engine: one credential, one
    token per vault), for the key-version reads above."""
    from generator.sops.keys import source_for

    source = source_for("azure_kv", options, cache)
    if not isinstance(source, AzureKeyVaultSource):
        raise KeyVaultError("azure_kv: the key source in use cannot read key versions")
    return source
