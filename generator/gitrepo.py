"""All git access: staged changes, staged blobs, partial staging, re-staging, tracked files.

The index, the object store and the work tree are read and written through git's own plumbing commands
(``git rev-parse``, ``diff-index``, ``ls-files``, ``cat-file --batch``, ``hash-object``, ``update-index``):
the pre-commit hook runs inside ``git commit``, so git is there, and a few short git processes cost far
less than loading libgit2 (pygit2's import alone is slower than a whole hook run). pygit2 is loaded only
for revisions and config (``fluxforge diff --rev``, ``fluxforge git setup``, the hooks folder).

The index used is the one git is committing: ``$GIT_INDEX_FILE`` when git sets it for a hook
(``git commit -a`` and ``git commit PATH`` commit from a temporary index), ``.git/index`` otherwise.
Staged content is always read from the index, never from the working tree.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from generator.errors import FluxforgeError, GitError

_REGULAR_MODES = ("100644", "100755")
_STATUS = {"A": "added", "M": "modified", "R": "renamed", "C": "copied", "D": "deleted", "T": "typechange"}
_NOT_A_REPO = "not a git repository"
_BARE = "must be run in a work tree"


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


class _Entry(NamedTuple):  # a tuple: made for every file of the index, so cheap to make
    mode: str
    blob: str


class GitRepo:
    """A work tree with its repository and the index a commit is being made from."""

    def __init__(self, workdir: Path, git_dir: Path, index_file: Path | None = None) -> None:
        self.workdir = workdir
        self.git_dir = git_dir
        self._index_file = index_file
        self._entries: dict[str, _Entry] = {}  # index entries seen so far (the staged ones, at least)
        self._restaged: dict[str, _Entry] = {}  # entries restage() changed, until write_index()
        self._written: dict[str, bytes] = {}  # the blobs restage() wrote, by id
        self._pygit2_repo: Any = None

    @classmethod
    def discover(cls, start: Path | str = ".") -> GitRepo:
        """Open the repository containing ``start``; honour ``GIT_INDEX_FILE`` like git does."""
        done = _rev_parse(start, "--absolute-git-dir", "--is-bare-repository", "--show-toplevel")
        lines = done.stdout.decode("utf-8", "surrogateescape").splitlines()
        if done.returncode != 0:
            reason = _reason_of(done)
            if _NOT_A_REPO in reason:
                raise GitError(f"{start}: not inside a git repository; run it inside one (or `git init` first)")
            if _BARE in reason and lines:
                raise GitError(f"{lines[0]}: bare repository; fluxforge needs a work tree")
            raise GitError(_open_problem(start, reason))
        env_index = os.environ.get("GIT_INDEX_FILE")
        index_file = Path(env_index).resolve() if env_index else None
        return cls(Path(lines[2]).resolve(), Path(lines[0]).resolve(), index_file)

    @classmethod
    def workdir_of(cls, path: Path) -> Path | None:
        """The work tree that holds ``path`` (None outside any repository or when it cannot be opened)."""
        done = _rev_parse(path, "--show-toplevel")
        top = done.stdout.decode("utf-8", "surrogateescape").strip()
        return Path(top).resolve() if done.returncode == 0 and top else None

    # --- git processes ----------------------------------------------------------------------------

    def _git(self, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        """Run git in the work tree on the index being committed; the result whatever its exit code."""
        env = dict(os.environ)
        if self._index_file is not None:
            env["GIT_INDEX_FILE"] = str(self._index_file)
        return _run_git(["git", "-C", str(self.workdir), "--literal-pathspecs", *args], stdin, env)

    def _git_ok(self, what: str, *args: str, stdin: bytes | None = None) -> bytes:
        done = self._git(*args, stdin=stdin)
        if done.returncode != 0:
            raise GitError(f"{self.workdir}: git cannot {what}: {_reason_of(done)}")
        return done.stdout

    # --- revisions and config (fluxforge diff --rev, fluxforge git setup): through pygit2 ------------

    @property
    def _repo(self) -> Any:
        if self._pygit2_repo is None:
            import pygit2

            try:
                self._pygit2_repo = pygit2.Repository(str(self.git_dir))
            except pygit2.GitError as err:
                raise GitError(_open_problem(self.workdir, _reason(err))) from None
        return self._pygit2_repo

    def read_at(self, rev: str, path: str) -> bytes:
        """The bytes of ``path`` (relative to the work tree) in revision ``rev`` (a branch, tag, sha)."""
        import pygit2

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

    def staged_changes(self, *, renames: bool = True) -> list[StagedChange]:
        """Paths that differ between HEAD and the index (all index entries on an unborn branch)."""
        done = self._git(
            "diff-index", "--cached", "-z", "--no-ext-diff", "-M" if renames else "--no-renames", "HEAD", "--"
        )
        if done.returncode != 0:
            if self._git("rev-parse", "-q", "--verify", "HEAD^{commit}").returncode == 0:
                raise GitError(f"{self.workdir}: git cannot compare the index with HEAD: {_reason_of(done)}")
            return self._all_added()
        return self._parse_raw_diff(done.stdout)

    def _all_added(self) -> list[StagedChange]:
        changes = []
        for path, entry in self._index_entries(()).items():
            self._entries[path] = entry
            changes.append(StagedChange(path, "added", None, entry.mode in _REGULAR_MODES))
        return changes

    def _parse_raw_diff(self, raw: bytes) -> list[StagedChange]:
        """``diff-index -z`` records: ``:old_mode new_mode old_id new_id STATUS`` then one path (two for
        renames and copies)."""
        fields = raw.split(b"\0")
        changes = []
        i = 0
        while i < len(fields) - 1:
            _old_mode, new_mode, _old_id, new_id, status = fields[i].decode("ascii").lstrip(":").split(" ")
            kind = _STATUS.get(status[0], "modified")
            paths = [_path(f) for f in fields[i + 1 : i + (3 if kind in ("renamed", "copied") else 2)]]
            i += 1 + len(paths)
            path = paths[-1]
            regular = kind != "deleted" and new_mode in _REGULAR_MODES
            if kind != "deleted":
                self._entries[path] = _Entry(new_mode, new_id)
            changes.append(StagedChange(path, kind, paths[0] if len(paths) == 2 else None, regular))
        return changes

    def staged_files(self) -> list[str]:
        """Regular files added, modified, renamed or copied in the index (deletions and links left out)."""
        return [change.path for change in self.staged_changes(renames=False) if change.regular]

    def tracked_files(self) -> list[str]:
        """Every regular file in the index."""
        return [path for path, entry in self._index_entries(()).items() if entry.mode in _REGULAR_MODES]

    def _index_entries(self, paths: tuple[str, ...]) -> dict[str, _Entry]:
        """Index entries (stage 0 and conflict stages alike, one per path) of ``paths`` (all: empty)."""
        raw = self._git_ok("read the index", "ls-files", "--stage", "-z", "--full-name", "--", *paths)
        found: dict[str, _Entry] = {}
        for record in _path(raw).split("\0"):  # decoded at once: the separators are ASCII, as in each name
            if record:
                info, _, name = record.partition("\t")
                mode, blob, _stage = info.split(" ")
                found.setdefault(name, _Entry(mode, blob))
        return found

    def read_staged(self, path: str) -> bytes:
        """The staged content of ``path`` (the blob the index points at)."""
        return self.read_staged_many([path])[path]

    def iter_staged(self, paths: Sequence[str], chunk: int = 256) -> Iterator[tuple[str, bytes]]:
        """``(path, staged content)`` for each of ``paths`` in order: one ``git cat-file`` process per
        ``chunk`` files, and no more than one chunk of contents in memory."""
        for at in range(0, len(paths), chunk):
            yield from self.read_staged_many(paths[at : at + chunk]).items()

    def read_staged_many(self, paths: Sequence[str]) -> dict[str, bytes]:
        """The staged content of each of ``paths``: from the working tree where the file there is the staged
        blob byte for byte (the usual case in a pre-commit hook: no git process), the rest with one
        ``git cat-file`` process."""
        entries = self._entries_of(paths)
        blobs = {**self._written, **self._worktree_copies(entries)}
        blobs.update(self._read_blobs([e.blob for e in entries.values() if e.blob not in blobs]))
        return {path: blobs[entry.blob] for path, entry in entries.items()}

    def _worktree_copies(self, entries: dict[str, _Entry]) -> dict[str, bytes]:
        """Blob id -> bytes for the entries whose working-tree file hashes, as git hashes a blob, to the staged
        blob's id: the very bytes git stored. A changed, filtered (autocrlf, clean filters), missing or
        special file does not hash so, and is read from git."""
        import hashlib

        from generator.fsio import read_input

        found: dict[str, bytes] = {}
        for path, entry in entries.items():
            if entry.blob in self._written or len(entry.blob) not in (40, 64):
                continue
            try:
                data = read_input(self.workdir / path, what="staged file")
            except (OSError, FluxforgeError):
                continue
            digest = hashlib.new(
                "sha1" if len(entry.blob) == 40 else "sha256", b"blob %d\0" % len(data), usedforsecurity=False
            )
            digest.update(data)
            if digest.hexdigest() == entry.blob:
                found[entry.blob] = data
        return found

    def _entries_of(self, paths: Sequence[str]) -> dict[str, _Entry]:
        """The index entry of each of ``paths`` (as re-staged, if it was); ``GitError`` for a path not in
        the index."""
        unknown = tuple(p for p in paths if p not in self._entries and p not in self._restaged)
        if unknown:
            self._entries.update(self._index_entries(unknown))
        entries = {}
        for path in paths:
            entry = self._restaged.get(path) or self._entries.get(path)
            if entry is None:
                raise GitError(f"{path}: not in the index (stage it with `git add {path}`)")
            entries[path] = entry
        return entries

    def _read_blobs(self, ids: list[str]) -> dict[str, bytes]:
        """``git cat-file --batch``: for each id a header ``<id> blob <size>``, the bytes and a newline."""
        if not ids:
            return {}
        raw = self._git_ok("read staged files", "cat-file", "--batch", stdin="".join(f"{i}\n" for i in ids).encode())
        found: dict[str, bytes] = {}
        at = 0
        for blob in ids:
            header_end = raw.index(b"\n", at)
            header = raw[at:header_end].decode("ascii").split(" ")
            if len(header) != 3:
                raise GitError(f"{self.workdir}: git cannot read the staged blob {blob}: {' '.join(header)}")
            size = int(header[2])
            found[blob] = raw[header_end + 1 : header_end + 1 + size]
            at = header_end + 1 + size + 1
        return found

    def read_worktree(self, path: str) -> bytes | None:
        """The working-tree content of ``path``, or None when the file is absent."""
        try:
            return (self.workdir / path).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def is_partially_staged(self, path: str, staged: bytes | None = None) -> bool:
        """True when the working tree holds something other than the staged blob (``staged``: its
        content, when the caller has read it already).

        Compares bytes, without git's clean/smudge filters: with ``core.autocrlf`` or
        ``.gitattributes`` eol conversion a fully staged file can look partially staged (refused,
        never guessed).
        """
        worktree = self.read_worktree(path)
        if worktree is None:
            return False
        return worktree != (self.read_staged(path) if staged is None else staged)

    def restage(self, path: str, data: bytes) -> str:
        """Write ``data`` as a new blob (bytes as given: no filters) and point the index entry of
        ``path`` at it (mode kept).

        The index is only written by ``write_index``. Returns the new blob id.
        """
        entry = self._restaged.get(path) or self._entries.get(path) or self._index_entries((path,)).get(path)
        if entry is None:
            raise GitError(f"{path}: not in the index (stage it with `git add {path}`)")
        done = self._git("hash-object", "-w", "--no-filters", "--stdin", stdin=data)
        if done.returncode != 0:
            raise GitError(
                f"{self.git_dir / 'objects'}: cannot store the encrypted {path} as a git object "
                f"({_reason_of(done)}); make .git/objects writable for you and commit again"
            )
        blob = done.stdout.decode("ascii").strip()
        self._restaged[path] = _Entry(entry.mode, blob)
        self._written[blob] = data
        return blob

    def write_index(self) -> None:
        """Point the index at the re-staged blobs (one ``git update-index``, which locks and replaces
        the index file as git does)."""
        if not self._restaged:
            return
        info = b"".join(
            f"{entry.mode} {entry.blob}\t".encode() + os.fsencode(path) + b"\0"
            for path, entry in self._restaged.items()
        )
        done = self._git("update-index", "-z", "--index-info", stdin=info)
        if done.returncode != 0:
            raise GitError(
                f"{self.git_dir / 'index'}: cannot write the git index ({_reason_of(done)}); check the "
                "permissions of .git and commit again"
            )
        self._entries.update(self._restaged)
        self._restaged.clear()

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


def _path(raw: bytes) -> str:
    return os.fsdecode(raw)


def _run_git(args: list[str], stdin: bytes | None, env: dict[str, str] | None) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(args, input=stdin, capture_output=True, env=env, check=False)
    except FileNotFoundError:
        raise GitError("git: not found on PATH; fluxforge needs the git command line (install git)") from None


def _rev_parse(start: Path | str, *args: str) -> subprocess.CompletedProcess[bytes]:
    where = Path(start)
    if not where.is_dir():
        return subprocess.CompletedProcess(args, 128, b"", f"fatal: {_NOT_A_REPO}".encode())
    return _run_git(["git", "-C", str(where), "rev-parse", *args], None, None)


def _reason_of(done: subprocess.CompletedProcess[bytes]) -> str:
    """git's own message (its first ``fatal:``/``error:`` line, else its last line), in one line."""
    lines = [line for line in done.stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    flagged = [line for line in lines if line.startswith(("fatal: ", "error: "))]
    text = (flagged or lines or [f"exit status {done.returncode}"])[0 if flagged else -1]
    for prefix in ("fatal: ", "error: "):
        text = text.removeprefix(prefix)
    return " ".join(text.split())[:200]


def _reason(err: Exception) -> str:
    """The OS or libgit2 reason in one line, without repeating a path we already print."""
    text = getattr(err, "strerror", None) or str(err) or type(err).__name__
    return " ".join(str(text).split())[:200]


def _open_problem(start: Path | str, text: str) -> str:
    if "owner" in text or "owned" in text:
        return (
            f"{start}: git refuses this repository: it is owned by another user (git's 'dubious "
            "ownership'); if you trust it, run `git config --global --add safe.directory <repo>` "
            "(or fix the owner), then try again"
        )
    return f"{start}: cannot open the git repository: {text}"
