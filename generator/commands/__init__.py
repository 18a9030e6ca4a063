"""One module per command: each reads and writes files and returns data the CLI prints."""
