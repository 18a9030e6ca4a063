"""Benchmark: the plain git pre-commit hook in a repository with 5,000 tracked files and one staged secret.

Prints the hook's wall time (a fresh `python -m generator hook run` process, as git starts it), the
interpreter start-up and the import time of what the hook loads, and the ratio against the peer way
of doing the same (one `sops encrypt --in-place` process plus `git add`, as sops-calling hooks do).
Goal: hook <= 0.5 s wall. Usage: python bench/hook.py [--files N] [--runs N]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root, for tests.hooks

from tests.helpers.hooks import SECRET as HOOK_SECRET

# the hook tests' plaintext Secret; the password placeholder becomes `{n}` for SECRET.format(n=...)
SECRET = HOOK_SECRET.format(password="bench-password-{n}")


def sh(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), cwd=cwd, check=True, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


def build_repo(root: Path, files: int, pub: str) -> None:
    import pygit2

    repo = pygit2.init_repository(str(root), initial_head="main")
    (root / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: secrets/.*\\.yaml$\n    encrypted_regex: ^(data|stringData)$\n"
        f"    age: {pub}\n")
    for i in range(files - 1):
        target = root / "apps" / f"team{i % 50:02d}" / f"deploy-{i:05d}.yaml"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{i}\nspec:\n  replicas: 1\n")
    repo.index.add_all()
    repo.index.write()
    sig = pygit2.Signature("bench", "bench@fluxforge.invalid", 1_700_000_000, 0)
    repo.create_commit("HEAD", sig, sig, "init", repo.index.write_tree(), [])
    (root / "secrets").mkdir()


def stage_secret(root: Path, n: int) -> None:
    (root / "secrets" / "app.yaml").write_text(SECRET.format(n=n))
    sh(root, "git", "add", "secrets/app.yaml")


def import_ms(cwd: Path, python: str) -> float:
    """Milliseconds spent importing during one hook run (``-X importtime``, top-level modules after
    interpreter start-up), from a fresh process as git starts it."""
    out = subprocess.run([python, "-X", "importtime", "-m", "generator", "hook", "run"], cwd=cwd, check=True,
                         capture_output=True, text=True).stderr
    total = 0
    started = False
    for line in out.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line[len("import time:"):].split("|")
        if name.strip() == "site" and not name.startswith("  "):
            started = True
            continue
        if started and name.startswith(" ") and not name.startswith("  "):
            total += int(cumulative)
    return total / 1000


def timed(cwd: Path, *args: str, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    sh(cwd, *args, env=env)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        keyfile = work / "age.txt"
        sh(work, "age-keygen", "-o", str(keyfile))
        pub = re.search(r"age1[0-9a-z]+", keyfile.read_text()).group(0)
        root = work / "repo"
        build_repo(root, args.files, pub)
        tracked = len(sh(root, "git", "ls-files").stdout.splitlines())

        python = sys.executable
        startup = [timed(root, python, "-c", "pass") for _ in range(args.runs)]
        hook, peer, imports = [], [], []
        for run in range(args.runs):
            stage_secret(root, run)
            hook.append(timed(root, python, "-m", "generator", "hook", "run"))
            assert "ENC[AES256_GCM" in sh(root, "git", "show", ":secrets/app.yaml").stdout
            stage_secret(root, 200 + run)
            imports.append(import_ms(root, python))
            stage_secret(root, 100 + run)
            peer.append(timed(root, "sh", "-c", "sops encrypt --in-place secrets/app.yaml && git add secrets/app.yaml"))
            assert "ENC[AES256_GCM" in sh(root, "git", "show", ":secrets/app.yaml").stdout

        med = statistics.median
        cache = "off (PYTHONDONTWRITEBYTECODE set)" if os.environ.get("PYTHONDONTWRITEBYTECODE") else "on"
        print(f"tracked files: {tracked}, staged secrets: 1, runs: {args.runs}, bytecode cache: {cache}")
        print(f"python start-up:                      {med(startup) * 1000:7.1f} ms (median)")
        print(f"imports during the hook run:          {med(imports):7.1f} ms (median, -X importtime, lazy)")
        print(f"fluxforge hook run (wall):            {med(hook) * 1000:7.1f} ms (median), "
              f"min {min(hook) * 1000:.1f} ms, max {max(hook) * 1000:.1f} ms  [goal <= 500 ms: "
              f"{'met' if med(hook) <= 0.5 else 'MISSED'}]")
        print(f"peer: sops encrypt -i + git add:      {med(peer) * 1000:7.1f} ms (median)")
        print(f"ratio fluxforge / peer:               {med(hook) / med(peer):7.2f}")


if __name__ == "__main__":
    main()
