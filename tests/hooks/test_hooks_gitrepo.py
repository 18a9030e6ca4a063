"""generator.gitrepo against real repositories built with pygit2 and changed with the git CLI."""

from __future__ import annotations

import os
from pathlib import Path

import pygit2
import pytest

from generator.errors import GitError
from generator.gitrepo import GitRepo
from tests.helpers.hooks import git, pygit2_repo


@pytest.fixture
def repo_dir(tmp_path: Path) -> Path:
    root = tmp_path / "r"
    pygit2_repo(
        root,
        {
            "a.txt": "alpha\n",
            "b.txt": "bravo\n",
            "dir/c.yaml": "c: 1\n",
            "old/name.yaml": "moved: true\nlong: " + "x" * 200 + "\n",
        },
    )
    return root


def _by_path(repo: GitRepo) -> dict[str, tuple[str, str | None, bool]]:
    return {c.path: (c.status, c.old_path, c.regular) for c in repo.staged_changes()}


def test_staged_changes_match_git_cli(repo_dir: Path) -> None:
    (repo_dir / "a.txt").write_text("alpha changed\n")
    (repo_dir / "new.yaml").write_text("n: 1\n")
    git(repo_dir, "add", "a.txt", "new.yaml")
    git(repo_dir, "rm", "-q", "b.txt")
    (repo_dir / "new").mkdir()
    git(repo_dir, "mv", "old/name.yaml", "new/name.yaml")
    (repo_dir / "dir/c.yaml").write_text("unstaged: change\n")
    changes = _by_path(GitRepo.discover(repo_dir))
    assert changes == {
        "a.txt": ("modified", None, True),
        "new.yaml": ("added", None, True),
        "b.txt": ("deleted", None, False),
        "new/name.yaml": ("renamed", "old/name.yaml", True),
    }
    cli = git(repo_dir, "diff", "--cached", "--name-status", "-M").stdout.split("\n")
    assert {line.split("\t")[-1] for line in cli if line} == set(changes)
    assert sorted(GitRepo.discover(repo_dir).staged_files()) == ["a.txt", "new.yaml", "new/name.yaml"]


def test_unborn_branch_everything_is_added(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "x.yaml").write_text("x: 1\n")
    (tmp_path / "link").symlink_to("x.yaml")
    git(tmp_path, "add", ".")
    changes = _by_path(GitRepo.discover(tmp_path))
    assert changes == {"x.yaml": ("added", None, True), "link": ("added", None, False)}


def test_read_staged_comes_from_index_not_worktree(repo_dir: Path) -> None:
    (repo_dir / "a.txt").write_text("staged\n")
    git(repo_dir, "add", "a.txt")
    (repo_dir / "a.txt").write_text("staged\nplus unstaged\n")
    repo = GitRepo.discover(repo_dir / "dir")
    assert repo.read_staged("a.txt") == b"staged\n"
    assert repo.is_partially_staged("a.txt")
    assert not repo.is_partially_staged("b.txt")
    with pytest.raises(GitError, match="not in the index"):
        repo.read_staged("missing.txt")


def test_restage_points_index_at_new_blob_and_git_commits_it(repo_dir: Path) -> None:
    (repo_dir / "dir/c.yaml").write_text("c: plaintext\n")
    (repo_dir / "dir/c.yaml").chmod(0o755)
    git(repo_dir, "add", "dir/c.yaml")
    repo = GitRepo.discover(repo_dir)
    repo.restage("dir/c.yaml", b"c: replaced\n")
    repo.write_index()
    assert git(repo_dir, "show", ":dir/c.yaml").stdout == "c: replaced\n"
    assert git(repo_dir, "ls-files", "-s", "dir/c.yaml").stdout.startswith("100755 ")
    git(repo_dir, "commit", "-q", "-m", "restaged")
    assert git(repo_dir, "show", "HEAD:dir/c.yaml").stdout == "c: replaced\n"
    head = pygit2.Repository(str(repo_dir)).revparse_single("HEAD:dir/c.yaml")
    assert head.data == b"c: replaced\n"


def test_git_index_file_is_honoured(repo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """git commit -a runs hooks with GIT_INDEX_FILE pointing at a temporary index."""
    other = repo_dir / ".git" / "other-index"
    (repo_dir / "a.txt").write_text("only in the other index\n")
    git(repo_dir, "add", "a.txt", env={"GIT_INDEX_FILE": str(other)})
    monkeypatch.setenv("GIT_INDEX_FILE", str(other))
    repo = GitRepo.discover(repo_dir)
    assert repo.staged_files() == ["a.txt"]
    repo.restage("a.txt", b"restaged in other\n")
    repo.write_index()
    assert git(repo_dir, "show", ":a.txt", env={"GIT_INDEX_FILE": str(other)}).stdout == "restaged in other\n"
    monkeypatch.delenv("GIT_INDEX_FILE")
    assert GitRepo.discover(repo_dir).staged_files() == []


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="not inside a git repository"):
        GitRepo.discover(tmp_path)


def test_hooks_dir_follows_core_hooks_path(repo_dir: Path) -> None:
    assert GitRepo.discover(repo_dir).hooks_dir() == (repo_dir / ".git" / "hooks").resolve()
    git(repo_dir, "config", "core.hooksPath", ".githooks")
    assert GitRepo.discover(repo_dir).hooks_dir() == repo_dir.resolve() / ".githooks"


def test_hooks_dir_of_a_linked_worktree_is_the_shared_one(repo_dir: Path, tmp_path: Path) -> None:
    git(repo_dir, "worktree", "add", "-q", str(tmp_path / "wt"))
    assert GitRepo.discover(tmp_path / "wt").hooks_dir() == (repo_dir / ".git" / "hooks").resolve()


def test_odd_file_names_are_read_literally(repo_dir: Path) -> None:
    """Names git allows that a shell, a glob or a line-based protocol would mangle: spaces, glob
    characters, non-ASCII, a newline."""
    names = ["with space.yaml", "star*.yaml", "[ab].yaml", "ünïcode.yaml", "new\nline.yaml"]
    for name in names:
        (repo_dir / name).write_text(f"name: {name!r}\n")
    (repo_dir / "a.yaml").write_text("a glob [ab] must not match\n")
    git(repo_dir, "add", "--", *names, "a.yaml")
    repo = GitRepo.discover(repo_dir)
    assert sorted(repo.staged_files()) == sorted([*names, "a.yaml"])
    contents = dict(repo.iter_staged(names))
    assert contents == {name: f"name: {name!r}\n".encode() for name in names}
    fresh = GitRepo.discover(repo_dir)  # nothing read yet: each name looked up in the index by itself
    assert fresh.read_staged("star*.yaml") == b"name: 'star*.yaml'\n"
    assert fresh.read_staged("[ab].yaml") == b"name: '[ab].yaml'\n"
    assert set(GitRepo.discover(repo_dir).tracked_files()) >= {*names, "a.yaml", "dir/c.yaml"}


def test_staged_contents_in_order_a_chunk_at_a_time(repo_dir: Path) -> None:
    names = [f"f{i}.yaml" for i in range(7)]
    for i, name in enumerate(names):
        (repo_dir / name).write_text("same\n" if i % 3 == 0 else f"n: {i}\n")  # equal blobs too
    git(repo_dir, "add", *names)
    repo = GitRepo.discover(repo_dir)
    one_by_one = [(name, repo.read_staged(name)) for name in reversed(names)]
    assert list(repo.iter_staged(list(reversed(names)), chunk=2)) == one_by_one
    assert not repo.is_partially_staged("f1.yaml", b"n: 1\n")
    assert repo.is_partially_staged("f1.yaml", b"something else\n")  # the caller's staged bytes are used


def test_restaged_content_is_what_is_read_back(repo_dir: Path) -> None:
    (repo_dir / "a.txt").write_text("plain\n")
    git(repo_dir, "add", "a.txt")
    repo = GitRepo.discover(repo_dir)
    assert repo.staged_files() == ["a.txt"]
    blob = repo.restage("a.txt", b"cipher\n")
    assert repo.read_staged("a.txt") == b"cipher\n"  # before the index is written, too
    repo.write_index()
    assert repo.read_staged("a.txt") == b"cipher\n"
    assert git(repo_dir, "ls-files", "-s", "a.txt").stdout.split()[1] == blob
    assert GitRepo.discover(repo_dir).read_staged("a.txt") == b"cipher\n"


def test_a_conflicted_path_is_tracked_once(repo_dir: Path) -> None:
    git(repo_dir, "checkout", "-q", "-b", "side")
    (repo_dir / "a.txt").write_text("side\n")
    git(repo_dir, "commit", "-q", "-am", "side")
    git(repo_dir, "checkout", "-q", "main")
    (repo_dir / "a.txt").write_text("main\n")
    git(repo_dir, "commit", "-q", "-am", "main")
    assert git(repo_dir, "merge", "-q", "side", check=False).returncode != 0
    assert len(git(repo_dir, "ls-files", "-s", "a.txt").stdout.splitlines()) == 3  # three stages
    tracked = GitRepo.discover(repo_dir).tracked_files()
    assert tracked.count("a.txt") == 1
    assert "a.txt" not in GitRepo.discover(repo_dir).staged_files()  # unmerged: nothing to read


def test_bare_repository_is_refused(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "--bare", "bare.git")
    with pytest.raises(GitError, match="bare repository; fluxforge needs a work tree"):
        GitRepo.discover(tmp_path / "bare.git")
    assert GitRepo.workdir_of(tmp_path / "bare.git") is None


def test_workdir_of(repo_dir: Path, tmp_path: Path) -> None:
    assert GitRepo.workdir_of(repo_dir / "dir") == repo_dir.resolve()
    assert GitRepo.workdir_of(tmp_path / "nowhere") is None
    outside = tmp_path / "outside"
    outside.mkdir()
    assert GitRepo.workdir_of(outside) is None


def test_a_file_named_head_is_a_file(tmp_path: Path) -> None:
    """HEAD is the revision and may also be a file name: the two are kept apart (`HEAD --`)."""
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "HEAD").write_text("x\n")
    git(tmp_path, "add", "HEAD")
    git(tmp_path, "commit", "-q", "-m", "a file named HEAD")
    (tmp_path / "HEAD").write_text("y\n")
    git(tmp_path, "add", "HEAD")
    repo = GitRepo.discover(tmp_path)
    assert repo.staged_files() == ["HEAD"]
    assert repo.read_staged("HEAD") == b"y\n"


def test_a_fully_staged_file_is_read_from_the_work_tree(repo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A working-tree file that hashes (as git hashes a blob) to the staged blob is those bytes: no
    `git cat-file`. A file changed after `git add`, a FIFO and a missing file are read from the index."""
    (repo_dir / "a.txt").write_text("alpha staged\n")
    (repo_dir / "b.txt").write_text("bravo staged\n")
    (repo_dir / "dir/c.yaml").write_text("c: staged\n")
    git(repo_dir, "add", "a.txt", "b.txt", "dir/c.yaml")
    (repo_dir / "b.txt").write_text("bravo unstaged\n")  # partially staged: the index has the other bytes
    (repo_dir / "dir/c.yaml").unlink()
    os.mkfifo(repo_dir / "dir/c.yaml")  # would block a plain read
    asked: list[list[str]] = []
    real = GitRepo._read_blobs

    def counting(self: GitRepo, ids: list[str]) -> dict[str, bytes]:
        asked.append(ids)
        return real(self, ids)

    monkeypatch.setattr(GitRepo, "_read_blobs", counting)
    repo = GitRepo.discover(repo_dir)
    repo.staged_changes()
    staged = repo.read_staged_many(["a.txt", "b.txt", "dir/c.yaml"])
    assert staged == {"a.txt": b"alpha staged\n", "b.txt": b"bravo staged\n", "dir/c.yaml": b"c: staged\n"}
    blob = {p: git(repo_dir, "rev-parse", f":{p}").stdout.strip() for p in ("a.txt", "b.txt", "dir/c.yaml")}
    assert asked == [[blob["b.txt"], blob["dir/c.yaml"]]]  # a.txt came from the work tree
    (repo_dir / "dir/c.yaml").unlink()
    (repo_dir / "a.txt").unlink()
    assert GitRepo.discover(repo_dir).read_staged("a.txt") == b"alpha staged\n"  # from git, once the file is gone
