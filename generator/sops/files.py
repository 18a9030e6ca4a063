"""The file edge of the sops engine (in progress)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from generator.sops.keys import KeyOptions
from generator.sops.report import Report


def encrypt_paths(paths: Sequence[Path], *, in_place: bool, options: KeyOptions, config: Path | None,
                  progress: Callable[[Path], None] | None) -> Report:
    raise NotImplementedError


def decrypt_path(path: Path, *, in_place: bool, output: Path | None, options: KeyOptions) -> bytes:
    raise NotImplementedError


def edit_path(path: Path, *, options: KeyOptions, editor: str | None, config: Path | None) -> bool:
    raise NotImplementedError


def rotate_paths(paths: Sequence[Path], *, options: KeyOptions, progress: Callable[[Path], None] | None) -> Report:
    raise NotImplementedError


def updatekeys_paths(paths: Sequence[Path], *, dry_run: bool, options: KeyOptions, config: Path | None,
                     progress: Callable[[Path], None] | None) -> Report:
    raise NotImplementedError
