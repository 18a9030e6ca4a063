"""generator.gitrepo against real repositories built with pygit2 and changed with the git CLI."""

from __future__ import annotations

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
