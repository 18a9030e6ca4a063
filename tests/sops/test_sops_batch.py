"""Many files at once (issue 19, item 2): worker processes for a big batch, results in input order.

``encrypt -i`` and ``decrypt -i`` over a folder of more than ``POOL_MIN_FILES`` files run in worker
processes (``FLUXFORGE_JOBS``, default: the usable cores). What they write and print must be what
one process writes and prints: the same files changed, the same problem lines, one per failed
file, in the order of the files; a failed file is left as it was. The real sops decrypts what the
workers encrypted, and fluxforge's batch decrypt gives the text ``sops decrypt`` prints.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from generator.sops import batch, files
from tests.helpers.sops import AgeKey, make_age_key, run_sops, write_rule

pytestmark = pytest.mark.interop

SECRET = (
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app-{n}\n  namespace: team-{m}\ntype: Opaque\n"
    "stringData:\n  password: p4ss-{n}\n  url: https://db-{m}.example.com:5432/app\n"
)
BAD = {7: b"a: [unclosed\n", 40: b"sops: {}\nkey: v\n", 77: b"key: \xff\xfe\n"}


def _tree(root: Path, key: AgeKey, count: int = 90) -> list[Path]:
    root.mkdir()
    write_rule(root, key.recipient, "encrypted_regex: ^(data|stringData)$", path_regex=r"\.yaml$")
    paths = []
    for n in range(count):
        path = root / "secrets" / f"s{n:03d}.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(BAD.get(n, SECRET.format(n=n, m=n % 5).encode()))
        paths.append(path)
    return paths


def _fluxforge(*args: str, cwd: Path, jobs: int, key: AgeKey) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_")}
    env.update({files.JOBS_ENV: str(jobs), "SOPS_AGE_KEY_FILE": str(key.key_file)})
    fluxforge = shutil.which("fluxforge")
    assert fluxforge
    return subprocess.run([fluxforge, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)


def _first_call_waits(barrier: Any, first: object) -> Callable[[object], None]:
    """Each process's first item (``first``, done before the fork, aside) waits for the others': on a loaded
    machine one process could otherwise take every chunk before the others have started (seen in CI),
    proving nothing about order."""
    started: list[int] = []  # each forked process has its own copy

    def wait(item: object) -> None:
        if item != first and not started:
            started.append(os.getpid())
            barrier.wait(timeout=120)

    return wait


def test_outcomes_come_back_in_input_order_from_several_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import multiprocessing

    monkeypatch.setenv(files.JOBS_ENV, "3")
    paths = [tmp_path / f"f{n}" for n in range(200)]
    parent = os.getpid()
    wait = _first_call_waits(multiprocessing.get_context("fork").Barrier(3), paths[0])

    def work(path: Path) -> files._Outcome:
        wait(path)
        return files._Outcome(notes=[path.name, str(os.getpid())])

    outcomes = list(files._outcomes(paths, work, parallel=True))
    assert [o.notes[0] for o in outcomes] == [p.name for p in paths]
    assert outcomes[0].notes[1] == str(parent)  # the first file here: the forked ones inherit its warm-up
    assert len({o.notes[1] for o in outcomes[1:]}) == 3  # this process and two forked ones did the rest
    monkeypatch.setenv(files.JOBS_ENV, "1")
    assert {o.notes[1] for o in files._outcomes(paths, work, parallel=True)} == {str(parent)}
    monkeypatch.setenv(files.JOBS_ENV, "2")
    assert {o.notes[1] for o in files._outcomes(paths, work, parallel=False)} == {str(parent)}
    assert files.jobs_for(files.POOL_MIN_FILES - 1) == 1  # a small batch stays in this process


@contextmanager
def _deadline(seconds: int) -> Iterator[None]:
    """Fail instead of hanging the test run."""

    def expired(signum: int, frame: object) -> None:
        raise AssertionError(f"still waiting after {seconds} s: the batch hangs")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_a_killed_process_neither_hangs_the_batch_nor_loses_a_file() -> None:
    """A forked process killed mid-batch (the OOM killer on a loaded machine): the chunks it took and did
    not report are worked here, every item gets exactly one result, in order, and nothing waits for ever.
    (Without the re-run of unreported chunks the results stop short; a pool that waits for the lost
    chunk hangs, which the deadline turns into a failure.)"""
    import multiprocessing

    parent = os.getpid()
    items = list(range(300))
    wait = _first_call_waits(multiprocessing.get_context("fork").Barrier(3), None)

    def work(item: int) -> tuple[int, int]:
        wait(item)  # all three processes are working before any dies
        if item >= 64 and os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)  # in the middle of its chunk
        return item, os.getpid()

    with _deadline(120):
        results = list(batch.in_order(items, work, 3))
    assert [item for item, _ in results] == items
    assert {pid for item, pid in results if item >= 64} == {parent}
    assert len({pid for _, pid in results}) == 3  # the forked ones did their first chunks


def test_a_batch_stopped_early_leaves_no_process_behind() -> None:
    """The caller stops reading (an error, Ctrl-C): the forked processes still working are stopped and
    waited for (without that, they would go on writing files, or stay as zombies)."""
    import multiprocessing
    import time

    parent = os.getpid()
    wait = _first_call_waits(multiprocessing.get_context("fork").Barrier(3), None)

    def work(item: int) -> int:
        wait(item)
        if os.getpid() != parent:
            time.sleep(0.01)
        return os.getpid()

    with _deadline(120):
        results = batch.in_order(list(range(2000)), work, 3)
        pids = set()
        for pid in results:
            pids.add(pid)
            if len(pids) == 3:
                break
        results.close()  # type: ignore[attr-defined]
    children = pids - {parent}
    assert len(children) == 2
    for pid in children:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # gone and reaped


def test_small_batches_and_single_jobs_stay_here() -> None:
    parent = os.getpid()
    assert set(batch.in_order(list(range(batch.CHUNK)), lambda _: os.getpid(), 4)) == {parent}
    assert set(batch.in_order(list(range(500)), lambda _: os.getpid(), 1)) == {parent}


def test_a_huge_batch_has_few_enough_tickets_for_one_small_pipe_write() -> None:
    """The tickets are written before any process reads them: at most 4 KiB, else a pipe cut to one page
    (a user over fs.pipe-user-pages-soft) would block that write for ever. Bigger chunks instead, covering
    every item once, in order."""
    chunks = batch._Batch(range(100_000), str).chunks
    assert len(chunks) * 4 <= 4096
    assert chunks[0][0] == 0 and chunks[-1][1] == 100_000
    assert all(stop == start for (_, stop), (start, _) in itertools.pairwise(chunks))
    assert batch._Batch(range(1000), str).chunks[:2] == [(0, batch.CHUNK), (batch.CHUNK, 2 * batch.CHUNK)]


def test_workers_only_for_age_keys(tmp_path: Path) -> None:
    """With a key service the batch stays in one process (one key read, an outage noticed once)."""
    from generator.sops.flags import EncryptFlags
    from generator.sops.rules import load_rules

    config = tmp_path / ".sops.yaml"
    config.write_text("creation_rules:\n  - path_regex: a\n    age: age1qqqq\n")
    assert files._local_keys(load_rules(config), None)
    config.write_text(
        "creation_rules:\n  - path_regex: a\n    age: age1qqqq\n"
        "  - azure_keyvault: https://v.vault.azure.net/keys/k/0123456789abcdef0123456789abcdef\n"
    )
    assert not files._local_keys(load_rules(config), None)
    assert files._local_keys(load_rules(config), EncryptFlags(age=("age1qqqq",)))
    assert not files._local_keys(None, EncryptFlags(azure_kv=("https://v.vault.azure.net/keys/k",)))
    assert not files._local_keys(None, None)


def test_jobs_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    from generator.errors import UsageError

    monkeypatch.setenv(files.JOBS_ENV, "two")
    with pytest.raises(UsageError, match="FLUXFORGE_JOBS='two'"):
        files.jobs_for(1000)


def test_encrypt_in_workers_writes_and_reports_what_one_process_does(tmp_path: Path) -> None:
    key = make_age_key(tmp_path)
    results = {}
    for jobs in (2, 1):
        root = tmp_path / f"jobs{jobs}"
        paths = _tree(root, key)
        done = _fluxforge("encrypt", "-i", "secrets", cwd=root, jobs=jobs, key=key)
        assert done.returncode == 1, done.stderr
        results[jobs] = done.stderr.splitlines()
        for n, path in enumerate(paths):
            if n in BAD:
                assert path.read_bytes() == BAD[n]  # a failed file is left as it was
            else:
                assert "ENC[AES256_GCM" in path.read_text() and "p4ss-" not in path.read_text()
    lines = results[2]
    assert lines == results[1]
    failed = [line for line in lines if line.startswith("secrets/")]
    assert [line.split(":")[0] for line in failed] == [f"secrets/s{n:03d}.yaml" for n in sorted(BAD)]
    assert lines[-1] == "3 of 90 file(s) failed and are unchanged; the other 87 succeeded"
    root = tmp_path / "jobs2"
    for n in (0, 41, 89):  # the real sops opens what the workers wrote
        plain = run_sops("decrypt", f"secrets/s{n:03d}.yaml", cwd=root, key_file=key.key_file).stdout.decode()
        assert f"password: p4ss-{n}\n" in plain


def test_decrypt_in_workers_gives_what_sops_prints(tmp_path: Path) -> None:
    key = make_age_key(tmp_path)
    root = tmp_path / "tree"
    paths = _tree(root, key)
    for n in BAD:
        paths[n].write_bytes(SECRET.format(n=n, m=0).encode())
    assert _fluxforge("encrypt", "-i", "secrets", cwd=root, jobs=2, key=key).returncode == 0
    wanted = {p: run_sops("decrypt", str(p), cwd=root, key_file=key.key_file).stdout for p in paths[::9]}
    tampered = paths[50].read_text().replace("namespace: team-0", "namespace: team-9")
    paths[50].write_text(tampered)
    done = _fluxforge("decrypt", "-i", "secrets", cwd=root, jobs=2, key=key)
    assert done.returncode == 1
    problems = [line for line in done.stderr.splitlines() if line.startswith("secrets/")]
    assert len(problems) == 1 and problems[0].startswith("secrets/s050.yaml: ") and "MAC" in problems[0]
    assert paths[50].read_text() == tampered  # left encrypted
    for path, text in wanted.items():
        assert path.read_bytes() == text
    assert all("sops:" not in p.read_text() for p in paths if p != paths[50])
    plain = root / "secrets" / "plain.yaml"  # below the folder, not encrypted: left alone
    plain.write_text("a: 1\n")
    again = _fluxforge("decrypt", "-i", "secrets", "secrets/s001.yaml", cwd=root, jobs=2, key=key)
    assert again.returncode == 1 and plain.read_text() == "a: 1\n"
    named = [line for line in again.stderr.splitlines() if line.startswith("secrets/")]
    # a file named on the command line (and found below the folder too: done once) must be encrypted
    assert [line.split(":")[0] for line in named] == ["secrets/s001.yaml", "secrets/s050.yaml"], named
    assert "not encrypted" in named[0]


SIGNAL_AFTER_FORK = """
import os, signal
from generator import runner
from generator.sops import batch

runner.setup_process()  # SIGTERM -> SystemExit, as the command line has it
real_fork, parent = os.fork, os.getpid()

def fork():
    pid = real_fork()
    if pid == 0:  # a SIGTERM at the child's first instruction after the fork
        os.kill(os.getpid(), signal.SIGTERM)
        signal.pthread_sigmask(signal.SIG_BLOCK, [])  # a call: a handler not held back runs here
    return pid

os.fork = fork
try:
    assert list(batch.in_order(list(range(100)), lambda i: i, 3)) == list(range(100))
finally:
    print("parent" if os.getpid() == parent else "CHILD", "left the batch", flush=True)
"""


def test_a_signal_right_after_the_fork_never_runs_the_callers_code_in_a_child() -> None:
    """A SIGTERM (or Ctrl-C) reaching a child before it is inside the block that ends in ``os._exit``
    must not send it into the caller's code (its finally blocks, error report and exit): the signals are
    held back until then. Without that the child prints here, and the batch may report errors."""
    import sys

    done = subprocess.run(
        [sys.executable, "-c", SIGNAL_AFTER_FORK], capture_output=True, text=True, check=False, timeout=120
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "parent left the batch\n", "")


def test_a_dead_childs_finished_items_are_not_worked_again(tmp_path: Path) -> None:
    """Each item's result is sent as soon as it is done: of a child killed in its third item, only that
    item is worked again here (it may have written its file), not the two before it (a chunk-at-a-time
    report redoes them: an encrypted file then reported unchanged, a decrypted one as not encrypted)."""
    import time

    log = tmp_path / "worked"
    parent = os.getpid()
    count = [0]

    def work(item: int) -> int:
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.write(fd, f"{item} {os.getpid()}\n".encode())
        os.close(fd)
        if os.getpid() == parent:
            time.sleep(0.002)  # leaves the child chunks to take
        else:
            count[0] += 1
            if count[0] == 3:
                os.kill(os.getpid(), signal.SIGKILL)
        return item

    with _deadline(120):
        assert list(batch.in_order(list(range(200)), work, 2)) == list(range(200))
    lines = log.read_text().split("\n")[:-1]
    assert len({pid for _, pid in map(str.split, lines)} - {str(parent)}) == 1  # the child worked
    worked = [int(item) for item, _ in map(str.split, lines)]
    assert len(worked) - len(set(worked)) == 1


def test_no_process_to_be_had_leaves_the_batch_to_this_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """At a process limit (fork fails: EAGAIN) the batch is worked by the processes it has, not refused."""
    import errno

    def no_fork() -> int:
        raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    before = len(os.listdir("/proc/self/fd"))
    assert list(batch.in_order(list(range(100)), lambda i: i * 2, 3)) == [i * 2 for i in range(100)]
    assert len(os.listdir("/proc/self/fd")) == before  # the pipe made for the child is closed


def test_a_batch_runs_where_sigchld_is_ignored() -> None:
    """A program that ignores SIGCHLD (its children are reaped by the kernel) still gets every result."""
    previous = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        with _deadline(120):
            assert list(batch.in_order(list(range(300)), lambda i: -i, 3)) == [-i for i in range(300)]
    finally:
        signal.signal(signal.SIGCHLD, previous)


def test_a_key_command_runs_once_for_a_batch_decrypt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``decrypt -i`` over a folder whose first file is not encrypted (left alone, no key read): the first
    files are worked here until one has loaded the identities, so SOPS_AGE_KEY_CMD runs once, not once per
    process (a prompting or rate-limited command would run several times at once)."""
    from generator.sops.api import KeyOptions

    key = make_age_key(tmp_path)
    root = tmp_path / "tree"
    paths = _tree(root, key, count=120)
    for n in BAD:
        paths[n].write_bytes(SECRET.format(n=n, m=0).encode())
    assert _fluxforge("encrypt", "-i", "secrets", cwd=root, jobs=1, key=key).returncode == 0
    (root / "secrets" / "a-plain.yaml").write_text("plain: 1\n")  # found first, not encrypted
    calls = tmp_path / "calls"
    command = tmp_path / "key-command.sh"
    command.write_text(f"#!/bin/sh\necho run >> {calls}\ncat {key.key_file}\n")
    command.chmod(0o700)
    for name in [name for name in os.environ if name.startswith("SOPS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SOPS_AGE_KEY_CMD", str(command))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv(files.JOBS_ENV, "2")
    monkeypatch.chdir(root)
    report = files.decrypt_paths([Path("secrets")], options=KeyOptions({}))
    assert len(report.changed) == 120
    assert calls.read_text() == "run\n"


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_folder_batch_passes_over_temp_files_of_ours(tmp_path: Path, jobs: int) -> None:
    """A temp file an interrupted run left (``.NAME.fluxforge-PID-N.tmp``; its process gone) is not one of the
    folder's files: it is removed and noted, and the batch encrypts (then decrypts) the others and succeeds.
    It was listed, then swept away before it was read: "cannot read", exit 1."""
    key = make_age_key(tmp_path)
    root = tmp_path / "tree"
    paths = [p for n, p in enumerate(_tree(root, key)) if n not in BAD]
    for n in BAD:  # the broken files out: this run has nothing else to fail on
        (root / "secrets" / f"s{n:03d}.yaml").unlink()
    stale = root / "secrets" / ".s000.yaml.fluxforge-999999999-0.tmp"
    for verb, done_line in (("encrypt", "encrypted 87 file(s), 0 already encrypted"), ("decrypt", "decrypted 87")):
        stale.write_text("half a write\n")
        done = _fluxforge(verb, "-i", "secrets", cwd=root, jobs=jobs, key=key)
        assert done.returncode == 0, done.stderr
        assert done.stderr.splitlines()[-1].startswith(done_line)
        assert "removed a stale temp file" in done.stderr and not stale.exists()
        assert all(("ENC[AES256_GCM" in p.read_text()) is (verb == "encrypt") for p in paths)
