"""Pre-commit flows: the framework fixer, the plain git hook, and its install/uninstall.

* ``run_framework_encrypt(files)`` (pre-commit hook ``fluxforge-encrypt``): encrypt in place every
  given file a ``path_regex`` rule covers and that is not encrypted yet; exit 1 when a file changed
  so the user re-adds it (the framework's fixer convention). The framework stashes unstaged
  changes first, so the working tree holds exactly the staged content.
* ``run_git_hook(cwd)`` (plain ``.git/hooks/pre-commit``): read each staged blob from the index,
  encrypt what must be encrypted, write the ciphertext as a new blob, point the index entry at it
  and write the same bytes to the working tree, so the commit proceeds with ciphertext. Partially
  staged files are refused. Then every staged file is checked (``check.check_content``) and any
  problem blocks the commit.
* Deletions are ignored, renames are treated as the new path, symlinks and submodules are skipped,
  files outside every rule are only checked for plaintext Kubernetes Secrets, and without a
  ``.sops.yaml`` nothing is encrypted (plaintext Secrets still block the commit).
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from generator.check.scan import TEMP_PROBLEM
from generator.errors import CheckFailed, GitError, SopsError
from generator.fsio import check_size, is_temp_name

if TYPE_CHECKING:
    from generator.check.scan import Rules
    from generator.gitrepo import GitRepo

HOOK_MARKER = "# fluxforge pre-commit hook"
GC_NOTE = (
    "fluxforge: note: `git add` had stored the plaintext as a git object; no commit refers to it now, "
    "and `git gc --prune=now` deletes it"
)


@dataclass(frozen=True)
class Pending:
    """A file to encrypt: its display path, absolute path, and the rule that requires it."""

    display: str
    path: Path
    data: bytes


def must_encrypt(path: Path, data: bytes, rules: Rules) -> bool:
    """A ``path_regex`` rule covers ``path``, ``data`` is not sops-encrypted, and encrypting it
    would turn at least one value into ciphertext."""
    from generator.check.parse import ParseError, parse
    from generator.check.rules import needs_encryption
    from generator.sops.api import DEFAULT_SELECTOR, detect_format, sops_state

    match = rules.match(path)
    if match is None or not match.requires_encryption or rules.is_config(path):
        return False
    fmt = detect_format(path)
    state = sops_state(data, fmt)
    if state.encrypted or (state.present and fmt != "binary"):
        return False  # encrypted; or a top-level `sops` entry sops refuses to encrypt: the check reports it
    try:
        parsed = parse(str(path), data)
    except ParseError:
        return False  # the check reports it; encrypting unparseable input would only fail later
    return needs_encryption(parsed, match.rule.selector or DEFAULT_SELECTOR)


def cannot_encrypt(display: str, path: Path, data: bytes, rules: Rules) -> list[str]:
    """Problem lines for a file a rule requires to be encrypted that is not and cannot be (it does not
    parse, or its top level is a list or a scalar); empty otherwise."""
    from generator.check.scan import check_content, problem_lines
    from generator.sops.api import detect_format, is_encrypted

    match = rules.match(path)
    if match is None or not match.requires_encryption or rules.is_config(path):
        return []
    try:
        if is_encrypted(data, detect_format(path)):
            return []
    except SopsError as err:
        return [f"{display}: {line}" for line in err.problems]
    return problem_lines(display, check_content(path, data, rules))


def _encrypt_all(pending: Sequence[Pending], rules: Rules) -> list[bytes]:
    """Ciphertext for every pending file, or a ``SopsError`` before anything is written."""
    from generator.sops.api import detect_format, encrypt_bytes

    cache: dict[str, Any] = {}
    out = []
    for item in pending:
        match = rules.match(item.path)
        assert match is not None  # must_encrypt said so
        out.append(
            encrypt_bytes(
                item.data,
                fmt=detect_format(item.path),
                rule=match.rule,
                sources_cache=cache,
                path_for_errors=item.display,
            )
        )
    return out


def run_framework_encrypt(files: Sequence[Path]) -> list[str]:
    """Encrypt the given files in place where the rules say so; ``CheckFailed`` when any changed."""
    from generator.check.scan import Rules
    from generator.fsio import read_input, write_atomic

    rules = Rules.load()
    if rules.config is None:
        return []
    pending = []
    problems: list[str] = []
    for path in files:
        try:
            data = read_input(path)
        except FileNotFoundError:
            continue
        if must_encrypt(path, data, rules):
            pending.append(Pending(str(path), path, data))
        else:
            problems.extend(cannot_encrypt(str(path), path, data, rules))
    if problems:
        raise CheckFailed(
            [
                *problems,
                (
                    "fluxforge: these files are covered by a .sops.yaml rule but cannot be "
                    "encrypted; fix them (nothing was changed)"
                ),
            ]
        )
    for item, ciphertext in zip(pending, _encrypt_all(pending, rules), strict=True):
        write_atomic(item.path, ciphertext)
    if pending:
        raise CheckFailed(
            [
                *(
                    f"{item.display}: encrypted in place as the .sops.yaml rules require; stage it "
                    f"again (git add {shlex.quote(item.display)}) and commit"
                    for item in pending
                ),
                GC_NOTE,
            ]
        )
    return []


def run_git_hook(cwd: Path) -> list[str]:
    """The plain git pre-commit hook: encrypt and re-stage, then check every staged file."""
    from generator.check.scan import Rules
    from generator.gitrepo import GitRepo

    repo = GitRepo.discover(cwd)
    rules = Rules.load(repo.workdir)
    staged = repo.staged_files()
    problems: list[str] = []
    pending = _to_encrypt(repo, staged, rules, problems)
    if pending and repo.partial_commit:
        problems.extend(
            f"{item.display}: must be encrypted, but `git commit PATH` commits from a temporary "
            f"index; `git add {shlex.quote(item.display)}` and run `git commit` without paths"
            for item in pending
        )
    if problems:
        raise CheckFailed(problems)
    messages = _restage(repo, pending, _encrypt_all(pending, rules))
    problems = _check_staged(repo, staged, rules)
    if problems:
        raise CheckFailed([*messages, *problems, "fluxforge: commit blocked; fix the files above and commit again"])
    return messages


def _to_encrypt(repo: GitRepo, staged: Sequence[str], rules: Rules, problems: list[str]) -> list[Pending]:
    """The staged files to encrypt, read from the index a chunk at a time; a problem line (in ``problems``,
    in staged order) for each temporary file and each partially staged file that would need it."""
    pending: list[Pending] = []
    contents = repo.iter_staged([rel for rel in staged if not _is_temp(rel)])
    for rel in staged:
        if _is_temp(rel):
            problems.append(f"{rel}: {TEMP_PROBLEM}; `git rm --cached {shlex.quote(rel)}`")
            continue
        _rel, data = next(contents)
        check_size(rel, len(data))
        path = repo.workdir / rel
        if not must_encrypt(path, data, rules):
            continue
        if repo.is_partially_staged(rel, data):
            problems.append(
                f"{rel}: partially staged (the working tree differs from the index), so fluxforge "
                f"will not guess what to encrypt; `git add {shlex.quote(rel)}` the whole file "
                "(or `git stash --keep-index`) and commit again"
            )
            continue
        pending.append(Pending(rel, path, data))
    return pending


def _restage(repo: GitRepo, pending: Sequence[Pending], ciphertexts: Sequence[bytes]) -> list[str]:
    from generator.fsio import write_atomic

    if not pending:
        return []
    for item, ciphertext in zip(pending, ciphertexts, strict=True):
        repo.restage(item.display, ciphertext)
    repo.write_index()
    for item, ciphertext in zip(pending, ciphertexts, strict=True):
        if item.path.exists():
            write_atomic(item.path, ciphertext)
    return [*(f"fluxforge: encrypted {item.display} and staged the ciphertext" for item in pending), GC_NOTE]


def _check_staged(repo: GitRepo, staged: Sequence[str], rules: Rules) -> list[str]:
    from generator.check.scan import check_content, problem_lines

    lines: list[str] = []
    for rel, data in repo.iter_staged([rel for rel in staged if not rules.is_config(repo.workdir / rel)]):
        lines.extend(problem_lines(rel, check_content(repo.workdir / rel, data, rules)))
    return lines


def _is_temp(rel: str) -> bool:
    return is_temp_name(rel.rpartition("/")[2])


def hook_script() -> str:
    """The plain pre-commit hook: this interpreter running ``fluxforge hook run``."""
    return (
        f"#!/bin/sh\n{HOOK_MARKER} (written by `fluxforge hook install`; "
        "remove it with `fluxforge hook uninstall`)\n"
        f"exec {shlex.quote(sys.executable)} -m generator hook run\n"
    )


def install(cwd: Path, *, force: bool = False) -> Path:
    """Write the pre-commit hook; refuse to replace a foreign one unless ``force``."""
    from generator.fsio import write_atomic
    from generator.gitrepo import GitRepo

    target = GitRepo.discover(cwd).hooks_dir() / "pre-commit"
    if target.exists() and HOOK_MARKER not in _read(target) and not force:
        raise GitError(
            f"{target}: a pre-commit hook fluxforge did not write is already there; move it away, "
            "use the pre-commit framework hooks (.pre-commit-hooks.yaml), or pass --force"
        )
    if target.is_symlink():
        target.unlink()  # replace the link itself: writing through could change a hook script shared elsewhere
    write_atomic(target, hook_script().encode(), mode=0o755)
    return target


def uninstall(cwd: Path) -> Path:
    """Remove the hook written by ``install``; leave any other hook alone."""
    from generator.gitrepo import GitRepo

    target = GitRepo.discover(cwd).hooks_dir() / "pre-commit"
    if not target.exists():
        raise GitError(f"{target}: no pre-commit hook is installed")
    if HOOK_MARKER not in _read(target):
        raise GitError(f"{target}: this pre-commit hook was not written by fluxforge; not removing it")
    target.unlink()
    return target


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")
