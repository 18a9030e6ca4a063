"""Helpers for the hook tests: real git repositories (pygit2 and the git CLI), object walks."""

from __future__ import annotations

import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path

import pygit2

from tests.helpers import REPO_ROOT

SIG = pygit2.Signature("fluxforge test", "test@fluxforge.invalid", 1_700_000_000, 0)
CORPUS = REPO_ROOT / "tests" / "hooks" / "corpus"

SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: app
  namespace: default
type: Opaque
stringData:
  password: {password}
  user: admin
"""


def git(
    cwd: Path, *args: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real git CLI; commits are never signed."""
    import os

    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        ["git", "-c", "commit.gpgsign=false", *args], cwd=cwd, check=check, text=True, capture_output=True, env=full_env
    )


def sops_yaml(pub: str) -> str:
    return f"""\
creation_rules:
  - path_regex: secrets/.*\\.yaml$
    encrypted_regex: ^(data|stringData)$
    age: {pub}
  - path_regex: files/.*\\.key$
    age: {pub}
"""


def staged_repo(root: Path, recipient: str, staged: dict[str, str]) -> Path:
    """A new git repository at ``root`` (one commit: a ``.sops.yaml`` rule for ``secrets/*.yaml`` to the age
    ``recipient``, a Deployment) with ``staged`` (path -> text) written and staged, as a commit about to run
    the hook finds it."""
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / ".sops.yaml").write_text(f"creation_rules:\n  - path_regex: secrets/.*\\.yaml$\n    age: {recipient}\n")
    (root / "app.yaml").write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "init")
    for rel, text in staged.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
        git(root, "add", rel)
    return root


def pygit2_repo(root: Path, files: dict[str, str | bytes]) -> pygit2.Repository:
    """A repository built with pygit2 only: files written, all staged, one commit on main."""
    repo = pygit2.init_repository(str(root), initial_head="main")
    for rel, content in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode() if isinstance(content, str) else content)
    repo.index.add_all()
    repo.index.write()
    tree = repo.index.write_tree()
    repo.create_commit("HEAD", SIG, SIG, "initial", tree, [])
    return repo


def reachable_objects(repo: pygit2.Repository) -> Iterator[tuple[str, bytes]]:
    """(id, raw content) of every object reachable from HEAD: commits, trees and blobs."""
    seen: set[str] = set()
    stack = [repo.head.target]
    while stack:
        oid = stack.pop()
        if str(oid) in seen:
            continue
        seen.add(str(oid))
        obj = repo[oid]
        yield str(oid), obj.read_raw()
        if isinstance(obj, pygit2.Commit):
            stack.append(obj.tree_id)
            stack.extend(obj.parent_ids)
        elif isinstance(obj, pygit2.Tree):
            stack.extend(entry.id for entry in obj)


def loose_object_bytes(repo: pygit2.Repository, oid: str) -> bytes | None:
    """The decompressed loose object file for ``oid`` (None when it is packed or absent)."""
    path = Path(repo.path) / "objects" / oid[:2] / oid[2:]
    return zlib.decompress(path.read_bytes()) if path.exists() else None
