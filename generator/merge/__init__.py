"""Three-way merge of generated YAML with the user's edits, and ``fluxforge.lock`` (the merge base)."""
