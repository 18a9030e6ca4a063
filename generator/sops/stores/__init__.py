"""sops stores: parse a file into documents (``Branch`` trees) and write them back as sops does."""
