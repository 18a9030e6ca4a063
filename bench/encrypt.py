"""Benchmark: encrypt N small Kubernetes Secrets with an age recipient, fluxforge against the sops loop.

A = one ``fluxforge encrypt -i secrets`` process over the tree; B = the real ``sops -e -i FILE`` once
per file (what a script or a sops-calling hook does). Both encrypt fresh copies of the same plaintext
tree, alternated A B A B (bench/harness.py); medians, peak memory, the machine's load; the ratio is
withheld on a busy machine. Afterwards the real sops must decrypt a fluxforge file.

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
    alternate,
    clean_env,
    machine,
    options,
    record_pair,
    report,
    run_loop,
    run_process,
    tools,
    worst,
)


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
    box = worst(box, box_after)
    print(f"encrypt {args.files} Secrets (age), {args.pairs} pairs")
    print("\n".join(report(a, b, box, target=">= 50x, fluxforge <= 0.6 s at 1,000 files")))
    print(f"sops decrypts a fluxforge file: {'yes' if ok else 'NO'}")
    if args.record and ok:
        record_pair(f"encrypt-{args.files}", f"encrypt {args.files:,} Secrets (age)", a, b, "sops loop", box, digits=1)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
