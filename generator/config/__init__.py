"""``fluxforge.yaml``: load and validate it, the typed model, the problems found, the reference docs."""
