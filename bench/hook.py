"""Benchmark: start-up and the pre-commit hook, each against its peer in the same run.

1. `fluxforge --help` (A) against `python -c pass` (B, the interpreter's own start-up: the floor).
2. The git pre-commit hook in a repository of N tracked files (default 5,000) with one staged plaintext
   Secret: A = `fluxforge hook run` (a fresh process, as git starts it: it encrypts the staged Secret
   and re-stages it), B = what a sops-calling hook does, `sops encrypt --in-place` and `git add` (one
   shell). Each run stages a fresh plaintext first (untimed). The staged blob must be ciphertext after
   both.

Runs alternate A B A B (bench/harness.py); medians, peak memory and the machine's load are printed,
ratios withheld on a busy machine. Targets (issue 19): --help <= 100 ms, hook <= 250 ms at 5,000 files
(<= 400 ms at 50,000). Where the time goes: `python -X importtime -m generator hook run`.

Usage: python bench/hook.py [--files N] [--pairs P] [--record]
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    SECRET,
    Run,
    alternate,
    clean_env,
    machine,
    options,
    record,
    report,
    run_process,
    tools,
    worst,
)


def sh(cwd: Path, *args: str) -> str:
    return subprocess.run(list(args), cwd=cwd, check=True, capture_output=True, text=True).stdout


def build_repo(root: Path, files: int, pub: str) -> None:
    import pygit2

    repo = pygit2.init_repository(str(root), initial_head="main")
    (root / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: secrets/.*\\.yaml$\n    encrypted_regex: ^(data|stringData)$\n"
        f"    age: {pub}\n"
    )
    for i in range(files - 1):
        target = root / "apps" / f"team{i % 50:02d}" / f"deploy-{i:05d}.yaml"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{i}\nspec:\n  replicas: 1\n")
    repo.index.add_all()
    tree = repo.index.write_tree()
    repo.index.write()  # after write_tree: the index keeps its cache of trees, as `git commit` leaves it
    sig = pygit2.Signature("bench", "bench@fluxforge.invalid", 1_700_000_000, 0)
    repo.create_commit("HEAD", sig, sig, "init", tree, [])
    (root / "secrets").mkdir()


def main() -> int:
    args = options(__doc__, files=5000, pairs=7).parse_args()
    found = tools("fluxforge", "sops")
    if found is None:
        return 1
    fluxforge, _ = found
    env = clean_env()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        box = machine()
        help_a, help_b = alternate(
            args.pairs,
            lambda: run_process([fluxforge, "--help"], cwd=work),
            lambda: run_process([sys.executable, "-c", "pass"], cwd=work),
            a_label="fluxforge --help",
            b_label="python -c pass",
        )
        keyfile = work / "age.txt"
        sh(work, "age-keygen", "-o", str(keyfile))
        match = re.search(r"age1[0-9a-z]+", keyfile.read_text())
        assert match is not None
        root = work / "repo"
        build_repo(root, args.files, match.group(0))
        tracked = len(sh(root, "git", "ls-files").splitlines())
        staged = iter(range(1_000_000))
        encrypted: list[bool] = []

        def stage() -> None:
            (root / "secrets" / "app.yaml").write_text(SECRET.format(n=next(staged), m=0))
            sh(root, "git", "add", "secrets/app.yaml")

        def was_encrypted() -> None:
            encrypted.append("ENC[AES256_GCM" in sh(root, "git", "show", ":secrets/app.yaml"))

        def ours() -> Run:
            stage()
            run = run_process([fluxforge, "hook", "run"], cwd=root, env=env)
            was_encrypted()
            return run

        def theirs() -> Run:
            stage()
            run = run_process(
                ["sh", "-c", "sops encrypt --in-place secrets/app.yaml && git add secrets/app.yaml"], cwd=root, env=env
            )
            was_encrypted()
            return run

        hook_a, hook_b = alternate(
            args.pairs, ours, theirs, a_label="fluxforge hook run", b_label="sops encrypt -i + git add"
        )
        box = worst(box, machine())
    print(f"start-up, {args.pairs} pairs")
    print("\n".join(report(help_a, help_b, box, target="fluxforge --help <= 100 ms")))
    print(f"pre-commit hook, {tracked:,} tracked files, 1 staged Secret, {args.pairs} pairs")
    print("\n".join(report(hook_a, hook_b, box, target="hook <= 250 ms at 5,000 files")))
    ok = all(encrypted)
    print(f"the staged blob is ciphertext after every run: {'yes' if ok else 'NO'}")
    if args.record and ok:
        cell = f"load {box.load1:.1f}/{box.cores}"
        record(
            "help",
            f"| `fluxforge --help` | {help_a.median * 1000:.0f} ms | `python -c pass` "
            f"{help_b.median * 1000:.0f} ms | | {cell} |",
            box,
        )
        record(
            f"hook-{args.files}",
            f"| hook, {tracked:,}-file repo | {hook_a.median * 1000:.0f} ms | "
            f"sops -e -i + git add {hook_b.median * 1000:.0f} ms | "
            f"{hook_b.median / hook_a.median:.2f}x | {cell} |",
            box,
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
