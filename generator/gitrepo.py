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
        try:
            found = pygit2.discover_repository(str(start))
            if found is None:
                raise GitError(f"{start}: not inside a git repository; run it inside one (or `git init` first)")
            repo = pygit2.Repository(found)
        except pygit2.GitError as err:
            raise GitError(_open_problem(start, err)) from None
        env_index = os.environ.get("GIT_INDEX_FILE")
        index_file = Path(env_index).resolve() if env_index else None
        return cls(repo, index_file)

    @classmethod
    def workdir_of(cls, path: Path) -> Path | None:
        """The work tree that holds ``path`` (None outside any repository or when it cannot be opened)."""
        try:
            found = pygit2.discover_repository(str(path))
            workdir = pygit2.Repository(found).workdir if found is not None else None
        except pygit2.GitError:
            return None
        return Path(workdir).resolve() if workdir else None

    # --- revisions and config (fluxforge diff --rev, fluxforge git setup) ----------------------------

    def read_at(self, rev: str, path: str) -> bytes:
        """The bytes of ``path`` (relative to the work tree) in revision ``rev`` (a branch, tag, sha)."""
        try:
            commit = self._repo.revparse_single(rev).peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError):
            raise GitError(f"{rev}: no such revision in {self.workdir}") from None
        try:
            blob = commit.tree[path]
        except KeyError:
            raise GitError(f"{path}: not in {rev} ({str(commit.id)[:12]})") from None
        if not isinstance(blob, pygit2.Blob):
            raise GitError(f"{path}: not a file in {rev}")
        return bytes(blob.data)

    def config_get(self, name: str) -> str | None:
        """A value of the repository's git config (local, global, system as git reads them)."""
        try:
            return str(self._repo.config[name])
        except KeyError:
            return None

    def config_set(self, name: str, value: str) -> None:
        """Set ``name`` in this repository's own config (``.git/config``)."""
        self._repo.config[name] = value

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
            return [StagedChange(entry.path, "added", None, entry.mode in _REGULAR_MODES) for entry in self.index]
        diff = tree.diff_to_index(self.index)
        if renames:
            diff.find_similar()
        changes = []
        for delta in diff.deltas:
            status = _STATUS.get(delta.status_char(), "modified")
            new = delta.new_file
            old_path = delta.old_file.path if status in ("renamed", "copied") else None
            regular = status != "deleted" and new.mode in _REGULAR_MODES
            changes.append(
                StagedChange(new.path if status != "deleted" else delta.old_file.path, status, old_path, regular)
            )
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
        try:
            oid = self._repo.create_blob(data)
        except (pygit2.GitError, OSError) as err:
            raise GitError(
                f"{self.git_dir / 'objects'}: cannot store the encrypted {path} as a git object "
                f"({_reason(err)}); make .git/objects writable for you and commit again"
            ) from None
        self.index.add(pygit2.IndexEntry(path, oid, entry.mode))
        return str(oid)

    def write_index(self) -> None:
        try:
            self.index.write()
        except (pygit2.GitError, OSError) as err:
            raise GitError(
                f"{self.git_dir / 'index'}: cannot write the git index ({_reason(err)}); check the "
                "permissions of .git and commit again"
            ) from None

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


def _reason(err: Exception) -> str:
    """The OS or libgit2 reason in one line, without repeating a path we already print."""
    text = getattr(err, "strerror", None) or str(err) or type(err).__name__
    return " ".join(str(text).split())[:200]


def _open_problem(start: Path | str, err: Exception) -> str:
    text = _reason(err)
    if "owner" in text or "owned" in text:
        return (
            f"{start}: git refuses this repository: it is owned by another user (git's 'dubious "
            "ownership'); if you trust it, run `git config --global --add safe.directory <repo>` "
            "(or fix the owner), then try again"
        )
    return f"{start}: cannot open the git repository: {text}"
