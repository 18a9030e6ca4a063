"""SOPS 3.x in pure Python: value cipher, tree walk, MAC, metadata, stores and key sources."""
