"""What a multi-file sops command did, for the CLI to print."""

from __future__ import annotations

from pathlib import Path

from generator.sops.record import field, record


@record()
class Report:
    """Files written, files left alone (already done / nothing to do), outputs for stdout."""

    changed: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    outputs: dict[Path, bytes] = field(default_factory=dict)
    changes: dict[Path, list[str]] = field(default_factory=dict)
