"""A config that uses every Azure key: several resource groups, an existing identity and vault, tenants,
the multi-tenant lockdown, two config clusters on one AKS issuer, encryptors that run the Go sops."""

from __future__ import annotations

TENANT = "95513a0e-a568-46f4-8d76-53e5279cb558"
SUBSCRIPTION = "3f1c1a4e-5b7e-4d51-9a63-0b6f0c2f8d11"
ISSUER_A = f"https://westeurope.oic.prod-aks.azure.com/{TENANT}/5cd99ca1-6fd3-48b4-85d7-728bebc84d67/"
ISSUER_B = f"https://northeurope.oic.prod-aks.azure.com/{TENANT}/9931c7f6-19ab-4c84-9982-0196eff92416/"

RICH = f"""\
# a rich fleet: comments stay where they are when apply writes client IDs back
flux:
  version: "2.9.4"
  defaultDecryptionServiceAccount: flux-decryptor
git:
  url: ssh://git@github.com/contoso/fleet
azure:
  tenantId: {TENANT}
  subscriptionId: {SUBSCRIPTION}
  location: westeurope
  resourceGroup: rg-fleet
  encryptorsRunSops: true
  encryptors:
    - objectId: 0b3a6c9e-2f41-4d8a-9c7e-5e1f2a3b4c5d
      principalType: Group
      description: platform team
    - objectId: 7d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6   # CI pipeline
      principalType: ServicePrincipal
sops:
  keyVault:
    - vault: kv-fleet-main
      key: sops-flux
clusters:
  - name: staging
    oidcIssuer: {ISSUER_A}
    identity:
      name: id-flux-staging          # created by fluxforge azure apply
    aks: {{name: aks-staging}}
    kustomizations:
      - name: apps
        path: apps/staging
      - name: team-a
        path: tenants/team-a/staging
        namespace: team-a
        tenant:
          serviceAccount: team-a-sops
          identity:
            name: id-team-a
            resourceGroup: rg-team-a
  - name: staging-canary                # a second folder on the same AKS cluster (same issuer)
    oidcIssuer: {ISSUER_A}
    identity:
      name: id-flux-staging
    kustomizations:
      - name: canary
        path: apps/canary
  - name: production
    oidcIssuer: {ISSUER_B}
    identity:
      name: id-flux-prod
      resourceGroup: rg-prod
      existing: true
      clientId: 076209d5-a8fa-459c-8632-6a041c3b87e1
    aks: {{name: aks-prod, resourceGroup: rg-prod}}
    sops:
      keyVault:
        - vault: kv-prod-legacy
          key: sops
          resourceGroup: rg-prod
          existing: true
        - vault: kv-fleet-main
          key: sops-prod
    kustomizations:
      - name: apps
        path: apps/production
        namespace: apps
"""
