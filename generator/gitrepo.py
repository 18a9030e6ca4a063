"""All git access, through pygit2: staged changes, staged blobs, partial staging, re-staging.

The index used is the one git is committing: ``$GIT_INDEX_FILE`` when git sets it for a hook
(``git commit -a`` and ``git commit PATH`` commit from a temporary index), ``.git/index`` otherwise.
Staged content is always read from the index, never from the working tree.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pygit2

from generator.errors import GitError

_REGULAR_MODES = (0o100644, 0o100755)
_STATUS = {"A": "added", "M": "modified", "R": "renamed", "C": "copied", "D": "deleted", "T": "typechange"}


@dataclass(frozen=True)
class StagedChange:
    """One path that differs between HEAD and the index.

    ``path`` is the path in the index (for a deletion: the deleted path), POSIX and relative to the
    work tree; ``old_path`` is set for renames and copies; ``regular`` is False for symlinks,
    submodules and deletions (nothing to read).
    """

    path: str
    status: str
    old_path: str | None
    regular: bool


class GitRepo:
    """A work tree with its repository and the index a commit is being made from."""

    def __init__(self, repo: Any, index_file: Path | None = None) -> None:
        if repo.is_bare or repo.workdir is None:
            raise GitError(f"{repo.path}: bare repository; fluxforge needs a work tree")
        self._repo = repo
        self.workdir = Path(repo.workdir).resolve()
        self.git_dir = Path(repo.path).resolve()
        self._index_file = index_file
        self._index: Any = None

    @classmethod
    def discover(cls, start: Path | str = ".") -> GitRepo:
        """Open the repository containing ``start``; honour ``GIT_INDEX_FILE`` like git does."""
        found = pygit2.discover_repository(str(start))
        if found is None:
            raise GitError(f"{start}: not inside a git repository; run it inside one (or `git init` first)")
        env_index = os.environ.get("GIT_INDEX_FILE")
        index_file = Path(env_index).resolve() if env_index else None
        return cls(pygit2.Repository(found), index_file)

    # --- index ------------------------------------------------------------------------------------

    @property
    def partial_commit(self) -> bool:
        """True under ``git commit PATH`` (``--only``): git commits a temporary ``next-index`` built
        from HEAD and PATH, and keeps the real index apart, so re-staging here would leave the real
        index and the commit disagreeing."""
        return self._index_file is not None and self._index_file.name not in ("index", "index.lock")

    @property
    def index(self) -> Any:
        if self._index is None:
            self._index = pygit2.Index(str(self._index_file)) if self._index_file else self._repo.index
        return self._index

    def _head_tree(self) -> Any | None:
        if self._repo.head_is_unborn:
            return None
        return self._repo.head.peel(pygit2.Commit).tree

    def staged_changes(self, *, renames: bool = True) -> list[StagedChange]:
        """Paths that differ between HEAD and the index (all index entries on an unborn branch)."""
        tree = self._head_tree()
        if tree is None:
            return [
                StagedChange(entry.path, "added", None, entry.mode in _REGULAR_MODES) for entry in self.index
            ]
        diff = tree.diff_to_index(self.index)
        if renames:
            diff.find_similar()
        changes = []
        for delta in diff.deltas:
            status = _STATUS.get(delta.status_char(), "modified")
            new = delta.new_file
            old_path = delta.old_file.path if status in ("renamed", "copied") else None
            regular = status != "deleted" and new.mode in _REGULAR_MODES
            changes.append(StagedChange(new.path if status != "deleted" else delta.old_file.path,
                                        status, old_path, regular))
        return changes

    def staged_files(self) -> list[str]:
        """Regular files added, modified, renamed or copied in the index (deletions and links left out)."""
        return [change.path for change in self.staged_changes(renames=False) if change.regular]

    def tracked_files(self) -> list[str]:
        """Every regular file in the index."""
        return [entry.path for entry in self.index if entry.mode in _REGULAR_MODES]

    def read_staged(self, path: str) -> bytes:
        """The staged content of ``path`` (the blob the index points at)."""
        try:
            entry = self.index[path]
        except KeyError:
            raise GitError(f"{path}: not in the index (stage it with `git add {path}`)") from None
        data: bytes = self._repo[entry.id].data
        return data

    def read_worktree(self, path: str) -> bytes | None:
        """The working-tree content of ``path``, or None when the file is absent."""
        try:
            return (self.workdir / path).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def is_partially_staged(self, path: str) -> bool:
        """True when the working tree holds something other than the staged blob.

        Compares bytes, without git's clean/smudge filters: with ``core.autocrlf`` or
        ``.gitattributes`` eol conversion a fully staged file can look partially staged (refused,
        never guessed).
        """
        worktree = self.read_worktree(path)
        return worktree is not None and worktree != self.read_staged(path)

    def restage(self, path: str, data: bytes) -> str:
        """Write ``data`` as a new blob and point the index entry of ``path`` at it (mode kept).

        The index is only written by ``write_index``. Returns the new blob id.
        """
        entry = self.index[path]
        oid = self._repo.create_blob(data)
        self.index.add(pygit2.IndexEntry(path, oid, entry.mode))
        return str(oid)

    def write_index(self) -> None:
        self.index.write()

    def hooks_dir(self) -> Path:
        """Where git looks for hooks: ``core.hooksPath`` (relative to the work tree) or ``.git/hooks``."""
        config = self._repo.config
        if "core.hooksPath" in config:
            hooks = Path(str(config["core.hooksPath"])).expanduser()
            return hooks if hooks.is_absolute() else self.workdir / hooks
        git_dir = Path(self._repo.path)
        commondir = git_dir / "commondir"  # a linked worktree shares the main repository's hooks
        if commondir.is_file():
            git_dir = (git_dir / commondir.read_text(encoding="utf-8").strip()).resolve()
        return git_dir / "hooks"
