"""The management clients the ArmReader reads through, built from the real azure-mgmt-* SDKs.

Stands in for ``generator.azure.arm.Arm`` (issue 11) until it is on main: the same attributes (``msi``,
``authz``, ``kv``, ``subscription_id``) and the two call wrappers the reader uses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from generator.errors import FluxforgeError

T = TypeVar("T")


class SdkArm:
    def __init__(self, subscription_id: str, credential: Any) -> None:
        from azure.mgmt.authorization import AuthorizationManagementClient
        from azure.mgmt.keyvault import KeyVaultManagementClient
        from azure.mgmt.msi import ManagedServiceIdentityClient

        self.subscription_id = subscription_id
        self.msi: Any = ManagedServiceIdentityClient(credential, subscription_id)
        self.authz: Any = AuthorizationManagementClient(credential, subscription_id)
        self.kv: Any = KeyVaultManagementClient(credential, subscription_id)

    def call(self, what: str, func: Callable[[], T]) -> T:
        from azure.core.exceptions import AzureError

        try:
            return func()
        except AzureError as exc:
            raise FluxforgeError(f"{what}: {exc}") from None

    def get_or_none(self, what: str, func: Callable[[], T]) -> T | None:
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        try:
            return func()
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise FluxforgeError(f"{what}: {exc}") from None
