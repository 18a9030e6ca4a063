"""fluxforge: Flux on AKS with SOPS secrets and workload identity, from one config file."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
