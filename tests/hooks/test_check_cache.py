"""The keyless check's blob-id cache (.git/fluxforge/check-cache): same verdicts as without it, an edit
always re-checked, a changed rule or a damaged cache file never trusted, and no content ever stored."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pyrage
import pytest

from generator.check.cache import CACHE_PATH, blob_id
from tests.helpers.hooks import CORPUS, SECRET, git, pygit2_repo

CACHE = Path(".git") / CACHE_PATH
RULES = (CORPUS / ".sops.yaml").read_text()  # secrets/*.yaml and others must be encrypted; apps/ is free


@pytest.fixture(autouse=True)
def _cache_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLUXFORGE_CHECK_CACHE", raising=False)  # tests/conftest.py turns it off elsewhere


def check(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real console script, a fresh process per run (as CI and a developer run it)."""
    return subprocess.run(["fluxforge", "check", *args], cwd=cwd, capture_output=True, text=True, check=False)


@pytest.fixture
def corpus_repo(tmp_path: Path) -> Path:
    """The check corpus (good and bad files, its .sops.yaml) committed to a fresh repository."""
    root = tmp_path / "corpus"
    shutil.copytree(CORPUS, root)
    pygit2_repo(root, {})
    return root


def test_verdicts_are_the_same_cold_warm_and_uncached(corpus_repo: Path) -> None:
    uncached = check(corpus_repo, "--no-cache")
    assert uncached.returncode == 1 and not (corpus_repo / CACHE).exists()  # --no-cache: nothing written
    cold = check(corpus_repo)
    assert (corpus_repo / CACHE).is_file()
    warm = check(corpus_repo)
    assert uncached.stderr == cold.stderr == warm.stderr
    assert uncached.returncode == cold.returncode == warm.returncode == 1
    good = sum(1 for p in (corpus_repo / "good").rglob("*") if p.is_file())
    cached = (corpus_repo / CACHE).read_text().splitlines()[1:]
    assert len(cached) >= good  # every clean file is remembered ...
    assert not any("/bad/" in line for line in cached)  # ... and no file with a problem


def test_an_edited_file_is_checked_again(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    pygit2_repo(
        root, {".sops.yaml": RULES, "apps/config.yaml": "apiVersion: v1\nkind: ConfigMap\ndata:\n  level: info\n"}
    )
    assert check(root).returncode == 0 and check(root).returncode == 0  # cold, then warm
    secret = SECRET.format(password="hunter2-cache")
    (root / "apps/config.yaml").write_text(secret)  # the same path, new content (not even staged)
    edited = check(root)
    assert edited.returncode == 1 and "apps/config.yaml:" in edited.stderr
    assert check(root).returncode == 1  # still reported: a file with a problem is never remembered
    (root / "apps/config.yaml").write_text("apiVersion: v1\nkind: ConfigMap\ndata:\n  level: info\n")
    assert check(root).returncode == 0


def test_an_edit_that_keeps_size_and_time_is_still_seen(tmp_path: Path) -> None:
    """The key is the content's blob id, not the file's size or modification time."""
    root = tmp_path / "repo"
    clean = SECRET.replace(
        "stringData:\n  password: {password}\n  user: admin\n",
        "stringData:\n  password: ${PASSWORD}\n  user: ${USER}\n",
    )
    pygit2_repo(root, {".sops.yaml": RULES, "apps/secret.yaml": clean})
    target = root / "apps/secret.yaml"
    assert check(root).returncode == 0
    before = target.stat()
    leaked = clean.replace("${PASSWORD}", "hunter2hunt")
    assert len(leaked) == len(clean)
    target.write_text(leaked)
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    result = check(root)
    assert result.returncode == 1 and "apps/secret.yaml:" in result.stderr


def test_a_changed_rule_drops_the_cache(tmp_path: Path, age_key: tuple[Path, str]) -> None:
    root = tmp_path / "repo"
    pygit2_repo(
        root,
        {
            ".sops.yaml": f"creation_rules:\n  - path_regex: other/.*\\.yaml$\n    age: {age_key[1]}\n",
            "config/settings.yaml": "kind: ConfigMap\ndata:\n  password: hunter2-rule\n",
        },
    )
    assert check(root).returncode == 0 and check(root).returncode == 0
    (root / ".sops.yaml").write_text(f"creation_rules:\n  - path_regex: config/.*\\.yaml$\n    age: {age_key[1]}\n")
    result = check(root)
    assert result.returncode == 1
    assert "config/settings.yaml:1:1: matched by .sops.yaml creation_rules[0]" in result.stderr


def test_the_cache_holds_no_content(corpus_repo: Path) -> None:
    assert check(corpus_repo).returncode == 1
    stored = (corpus_repo / CACHE).read_bytes()
    header, *lines = stored.decode().splitlines()
    assert header.startswith("fluxforge-check-cache 1 ")
    for line in lines:
        blob, flag, path = line.split(" ", 2)
        assert len(blob) == 40 and flag in ("0", "1") and Path(path).is_absolute()
        assert blob == blob_id(Path(path).read_bytes())  # a blob id: git hash-object's answer
    assert b"corpus-secret" not in stored and b"Y29ycHVz" not in stored and b"ENC[" not in stored
    some = Path(lines[0].split(" ", 2)[2])
    assert git(corpus_repo, "hash-object", str(some)).stdout.strip() == lines[0].split(" ", 1)[0]


def test_a_damaged_or_foreign_cache_is_not_trusted(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    leaked = SECRET.format(password="hunter2-forged")
    pygit2_repo(
        root,
        {
            ".sops.yaml": RULES,
            "apps/config.yaml": "kind: ConfigMap\ndata:\n  level: info\n",
            "apps/secret.yaml": leaked,
        },
    )
    assert check(root).returncode == 1
    cache = root / CACHE
    header, remembered = cache.read_text().splitlines()  # the clean ConfigMap only
    assert remembered.endswith("/apps/config.yaml")
    forged = f"{blob_id(leaked.encode())} 0 {(root / 'apps/secret.yaml').resolve()}"
    for text in (
        f"{header}\n{forged}\nnot a line\n",  # damaged: dropped as a whole
        f"fluxforge-check-cache 1 {'0' * 64}\n{forged}\n",
    ):  # another fingerprint
        cache.write_text(text)
        result = check(root)
        assert result.returncode == 1 and "apps/secret.yaml:" in result.stderr


def test_a_cache_that_cannot_be_written_only_costs_speed(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    pygit2_repo(root, {".sops.yaml": RULES, "apps/config.yaml": "kind: ConfigMap\ndata:\n  level: info\n"})
    (root / CACHE).parent.write_text("not a folder\n")  # mkdir fails (even for root, unlike a chmod)
    result = check(root)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "checked 1 file(s) against .sops.yaml: 0 encrypted, 0 problem(s)\n"


def test_worker_processes_print_the_same_lines_in_the_same_order(tmp_path: Path) -> None:
    """Enough files to check for worker processes (64 and more): the lines and the summary are those of
    one process, in file order, with and without the cache."""
    root = tmp_path / "repo"
    files: dict[str, str | bytes] = {".sops.yaml": RULES}
    for n in range(90):
        text = SECRET.format(password=f"hunter2-{n}") if n % 7 == 0 else f"kind: ConfigMap\ndata:\n  n: '{n}'\n"
        files[f"apps/team-{n % 4}/file-{n:03d}.yaml"] = text
    files["secrets/bad.yaml"] = "kind: ConfigMap\ndata:\n  password: hunter2-rule\n"
    pygit2_repo(root, files)
    one = subprocess.run(
        ["fluxforge", "check", "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "FLUXFORGE_JOBS": "1"},
    )
    assert one.returncode == 1 and one.stderr.count("\n") == 13 * 2 + 1 + 1, (
        one.stderr
    )  # 13 Secrets x 2 values, bad.yaml, summary
    for args in (["--no-cache"], [], []):  # workers, then workers filling the cache, then the cache
        two = subprocess.run(
            ["fluxforge", "check", *args],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "FLUXFORGE_JOBS": "2"},
        )
        assert (two.returncode, two.stderr) == (one.returncode, one.stderr)


def test_files_read_where_they_are_checked_say_the_same(tmp_path: Path) -> None:
    """Without the cache the files are read where they are checked (in the workers for a big run), with it
    here first: the same lines either way for what is not a plain file. A symlink (even one with a temp
    file's name, or dangling) is skipped (its target is checked where it is), a temp file and a FIFO are
    reported, and a plaintext Secret behind a link is reported once, under its own name."""
    root = tmp_path / "tree"
    (root / "apps").mkdir(parents=True)
    (root / ".sops.yaml").write_text(RULES)
    for n in range(70):
        (root / "apps" / f"cm-{n:02d}.yaml").write_text(f"kind: ConfigMap\ndata:\n  n: '{n}'\n")
    (root / "apps" / "leak.yaml").write_text(SECRET.format(password="hunter2"))
    (root / "apps" / "link.yaml").symlink_to("leak.yaml")
    (root / "apps" / ".link.yaml.fluxforge-1-abc.tmp").symlink_to("leak.yaml")
    (root / "apps" / "dangling.yaml").symlink_to("gone.yaml")
    (root / "apps" / ".x.yaml.fluxforge-1-abc.tmp").write_text("kind: ConfigMap\n")
    os.mkfifo(root / "apps" / "pipe.yaml")
    git(root, "init", "-q")
    outputs = set()
    for jobs, args in (("1", ["--no-cache"]), ("2", ["--no-cache"]), ("2", []), ("2", []), ("1", [])):
        done = subprocess.run(
            ["fluxforge", "check", "apps", *args],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "FLUXFORGE_JOBS": jobs},
        )
        outputs.add((done.returncode, done.stderr))
    assert len(outputs) == 1, outputs
    code, stderr = outputs.pop()
    named = sorted({line.split(":", 1)[0] for line in stderr.splitlines() if not line.startswith("checked ")})
    assert code == 1 and "link.yaml" not in stderr and "dangling" not in stderr, stderr
    assert named == ["apps/.x.yaml.fluxforge-1-abc.tmp", "apps/leak.yaml", "apps/pipe.yaml"], stderr
    assert "checked 71 file(s)" in stderr and "4 problem(s)" in stderr, stderr  # the temp file and FIFO: unread


def test_what_a_worker_sends_back_makes_the_same_record(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker sends back only the encrypted flag for a file without problems whose blob id did not change
    (``_compact``); the record made of it again (``_expanded``) is the one ``_checked`` made: for every file of
    the check corpus, without a cache and with a blob id that no longer matches the bytes (read again)."""
    from generator.check.scan import Rules, _checked, _compact, _expanded, _Seen

    monkeypatch.chdir(CORPUS)
    rules = Rules.load()
    names = sorted(str(p) for p in CORPUS.rglob("*") if p.is_file() and not p.is_symlink())
    sent_flags = 0
    for name in names:
        for blob in (None, "0" * 40):
            entry = _Seen(name, blob=blob)
            result = _checked(entry, rules)
            sent = _compact(entry, result)
            sent_flags += isinstance(sent, bool)
            assert _expanded(entry, sent) == result, name
    assert 0 < sent_flags < len(names), sent_flags  # flags for clean files, whole records for the rest


def test_a_big_check_runs_in_the_batch_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Many files are checked by this process and forked copies (the encrypt batches' ``in_order``: no pool to
    wait on a worker that died), with the verdicts of one process."""
    from generator.check.scan import check_report
    from generator.sops import api as sops_api

    for n in range(80):
        (tmp_path / f"cm-{n}.yaml").write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{n}}}\n")
    (tmp_path / "leaked.yaml").write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {a: b}\n")
    recipient = pyrage.x25519.Identity.generate().to_public()
    (tmp_path / ".sops.yaml").write_text(f"creation_rules:\n  - path_regex: \\.yaml$\n    age: {recipient}\n")
    used: list[int] = []
    in_order = sops_api.in_order

    def counted(items: list[int], work: Callable[[int], object], jobs: int) -> Iterator[object]:
        used.append(jobs)
        return in_order(items, work, jobs)

    monkeypatch.setattr(sops_api, "in_order", counted)
    reports = {}
    for jobs in ("1", "2"):
        monkeypatch.setenv("FLUXFORGE_JOBS", jobs)
        reports[jobs] = check_report([tmp_path], sops_config=tmp_path / ".sops.yaml", use_cache=False)
    assert used == [2]
    assert reports["1"] == reports["2"]
    assert reports["1"].problems  # the leaked Secret, found by either
