"""User edits shared by the merge/upgrade tests and bench/upgrade.py (imported as ``tests.helpers.…``,
with the repo root on sys.path)."""

from __future__ import annotations

# a user's own `patches:` item (2-space list indent, as rendered): more memory for kustomize-controller.
# Callers put their own comment line in front of it when they need one.
LIMITS_PATCH = """\
  - target:
      kind: Deployment
      name: kustomize-controller
    patch: |
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: kustomize-controller
      spec:
        template:
          spec:
            containers:
              - name: manager
                resources:
                  limits:
                    memory: 2Gi
"""
