"""The keyless check: is every file the ``.sops.yaml`` rules cover encrypted, and correctly."""
