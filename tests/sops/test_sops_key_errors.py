"""A key source cannot name the file it wraps for: the engine must, on every line, on every path in."""

from __future__ import annotations

import pytest

from generator.errors import SopsError
from generator.sops.api import CreationRule, encrypt_bytes

SECRET = b"apiVersion: v1\nkind: Secret\nstringData:\n    password: hunter2\n"


def test_wrap_failure_names_the_file_and_hides_plaintext() -> None:
    rule = CreationRule(key_groups=[[("age", "age1notarecipient")]])
    with pytest.raises(SopsError) as caught:
        encrypt_bytes(SECRET, fmt="yaml", rule=rule, path_for_errors="apps/staging/db.yaml")
    assert caught.value.problems
    assert all(line.startswith("apps/staging/db.yaml: age") for line in caught.value.problems)
    assert "hunter2" not in str(caught.value)


def test_wrap_failure_through_the_plain_git_hook_names_the_file(tmp_path, monkeypatch) -> None:
    import subprocess

    from generator.commands.hook import run_git_hook

    repo = tmp_path / "repo"
    (repo / "apps").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / ".sops.yaml").write_text("creation_rules:\n  - path_regex: ^apps/\n    age: age1notarecipient\n")
    (repo / "apps" / "db.yaml").write_bytes(SECRET)
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    monkeypatch.chdir(repo)
    with pytest.raises(SopsError) as caught:
        run_git_hook(repo)
    assert any(line.startswith("apps/db.yaml: age") for line in caught.value.problems), caught.value.problems
    assert "hunter2" not in str(caught.value)
