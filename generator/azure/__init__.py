"""The Azure half of the trust chain, from the same ``fluxforge.yaml``: the desired state (managed
identities, federated credentials, Key Vault and key, role assignments), Bicep, and plan/apply through ARM.

``desired`` (pure: config -> desired state), ``bicep`` (pure: desired -> Bicep text), ``plan`` (pure: desired
vs actual -> ``+ ~ =`` lines), ``arm`` (the only module importing ``azure.mgmt.*``, lazily) and
``commands`` (the I/O edge the CLI calls).
"""
