"""Folder paths in the config: relative to the repository root, normalised, never outside it."""

from __future__ import annotations

import posixpath

__all__ = ["normalise_path", "path_problem"]


def normalise_path(text: str) -> str:
    """``./apps//staging/`` -> ``apps/staging`` (assumes :func:`path_problem` found nothing)."""
    return posixpath.normpath(text)


def path_problem(text: str) -> str | None:
    """Why ``text`` is not a usable folder inside the repository, or None."""
    if text.startswith("/"):
        return f"{text!r} is absolute; give a path relative to the repository root, e.g. clusters/staging"
    if ".." in text.split("/"):
        return f"{text!r} leaves the repository ('..'); give a folder inside it"
    if posixpath.normpath(text) in {".", ""}:
        return f"{text!r} is the repository root; name a folder below it"
    if ".git" in posixpath.normpath(text).split("/"):
        return (
            f"{text!r} is inside .git/, git's own folder (files there are never committed); "
            "name a folder of the work tree"
        )
    return None
