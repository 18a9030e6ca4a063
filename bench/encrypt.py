"""Benchmark: encrypt N small Kubernetes Secrets with an age recipient, fluxforge against the sops loop.

A = one ``fluxforge encrypt -i secrets`` process over the tree; B = the real ``sops -e -i FILE`` once
per file (what a script or a sops-calling hook does). Both encrypt fresh copies of the same plaintext
tree, alternated A B A B (bench/harness.py); medians, peak memory, the machine's load; the ratio is
withheld on a busy machine. Afterwards the real sops must decrypt a fluxforge file. Last, the file
system's floor for the same tree (bench/floor.py: read every file and replace it atomically, one sync,
nothing else, in its own process): the least any in-place encrypt of these files costs on this machine.

Usage: python bench/encrypt.py [--files N] [--pairs P] [--record]
  --record  writes the row into bench/README.md (only from a quiet run)
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    SECRET,
    Run,
    Series,
    alternate,
    clean_env,
    machine,
    options,
    record,
    record_pair,
    report,
    run_loop,
    run_process,
    tools,
    worst,
)

FLOOR = Path(__file__).resolve().parent / "floor.py"


def make_tree(root: Path, count: int, recipient: str) -> list[Path]:
    root.mkdir(parents=True)
    (root / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: \\.yaml$\n    encrypted_regex: ^(data|stringData)$\n    age: {recipient}\n"
    )
    files = []
    for n in range(count):
        path = root / "secrets" / f"team-{n % 10}" / f"secret-{n}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(SECRET.format(n=n, m=n % 10))
        files.append(path)
    return files


def main() -> int:
    args = options(__doc__, files=1000).parse_args()
    found = tools("sops", "fluxforge")
    if found is None:
        return 1
    sops, fluxforge = found
    import pyrage

    ident = pyrage.x25519.Identity.generate()
    recipient = str(ident.to_public())
    env = clean_env()
    with tempfile.TemporaryDirectory() as tmp:
        rounds = iter(range(1_000_000))

        def ours() -> Run:
            root = Path(tmp, f"ours-{next(rounds)}")
            make_tree(root, args.files, recipient)
            return run_process([fluxforge, "encrypt", "-i", "secrets"], cwd=root, env=env)

        def theirs() -> Run:
            root = Path(tmp, f"theirs-{next(rounds)}")
            files = make_tree(root, args.files, recipient)
            return run_loop([[sops, "-e", "-i", str(p)] for p in files], cwd=root, env=env)

        box = machine()
        a, b = alternate(
            args.pairs,
            ours,
            theirs,
            a_label="fluxforge encrypt -i (1 proc)",
            b_label=f"sops -e -i loop ({args.files} procs)",
        )
        box_after = machine()
        sample = next(Path(tmp, "ours-0", "secrets").rglob("*.yaml"))
        key_file = Path(tmp, "key.txt")
        key_file.write_text(f"{ident}\n")
        check = subprocess.run(
            [sops, "decrypt", str(sample)],
            capture_output=True,
            check=False,
            env={**env, "SOPS_AGE_KEY_FILE": str(key_file)},
        )
        ok = check.returncode == 0 and b"p4ssw0rd" in check.stdout
        floor = Series("file-system floor (1 proc)")
        for _ in range(args.pairs):
            root = Path(tmp, f"floor-{next(rounds)}")
            make_tree(root, args.files, recipient)
            floor.runs.append(run_process([sys.executable, str(FLOOR), "secrets"], cwd=root, env=env))
    box = worst(box, box_after)
    print(f"encrypt {args.files} Secrets (age), {args.pairs} pairs")
    print("\n".join(report(a, b, box, target=">= 50x, fluxforge <= 0.6 s at 1,000 files")))
    print(f"{floor.label:<28} {floor.spread()}: read + atomic replace + sync, no YAML, no crypto")
    print(f"sops decrypts a fluxforge file: {'yes' if ok else 'NO'}")
    if (
        args.record
        and ok
        and record_pair(
            f"encrypt-{args.files}", f"encrypt {args.files:,} Secrets (age)", a, b, "sops loop", box, digits=1
        )
    ):
        record(
            f"encrypt-floor-{args.files}",
            f"| the same {args.files:,} files rewritten atomically, nothing else (bench/floor.py) | "
            f"{floor.median:.2f} s | | {a.median / floor.median:.1f}x the floor | load {box.load1:.1f}/{box.cores} |",
            box,
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
