"""Benchmark: decrypt N small Kubernetes Secrets with an age key, fluxforge against the sops loop.

A = one ``fluxforge decrypt -i secrets`` process over the tree; B = the real ``sops -d -i FILE`` once
per file. Both decrypt fresh copies of the same tree, encrypted once beforehand (untimed) by
fluxforge; alternated A B A B (bench/harness.py); medians, peak memory, the machine's load; the
ratio is withheld on a busy machine. Afterwards both sides' plaintexts must be the same bytes.

Then one file per process, the way scripts call it (issue 19: within 2x of sops): ``fluxforge
decrypt FILE`` against ``sops -d FILE``, both to stdout, alternated ``--calls`` times.

Usage: python bench/decrypt.py [--files N] [--pairs P] [--calls C] [--record]
  --record  writes the row into bench/README.md (only from a quiet run)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from encrypt import make_tree
from harness import (
    Run,
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


def main() -> int:
    parser = options(__doc__, files=1000)
    parser.add_argument("--calls", type=int, default=21)
    args = parser.parse_args()
    found = tools("sops", "fluxforge")
    if found is None:
        return 1
    sops, fluxforge = found
    import pyrage

    ident = pyrage.x25519.Identity.generate()
    with tempfile.TemporaryDirectory() as tmp:
        key_file = Path(tmp, "key.txt")
        key_file.write_text(f"{ident}\n")
        env = clean_env(SOPS_AGE_KEY_FILE=str(key_file))
        source = Path(tmp, "source")
        make_tree(source, args.files, str(ident.to_public()))
        subprocess.run([fluxforge, "encrypt", "-i", "secrets"], cwd=source, env=env, check=True, capture_output=True)
        rounds = iter(range(1_000_000))

        def fresh() -> Path:
            root = Path(tmp, f"run-{next(rounds)}")
            shutil.copytree(source, root)
            return root

        ours_roots: list[Path] = []
        theirs_roots: list[Path] = []

        def ours() -> Run:
            root = fresh()
            ours_roots.append(root)
            return run_process([fluxforge, "decrypt", "-i", "secrets"], cwd=root, env=env)

        def theirs() -> Run:
            root = fresh()
            theirs_roots.append(root)
            files = sorted(root.joinpath("secrets").rglob("*.yaml"))
            return run_loop([[sops, "-d", "-i", str(p)] for p in files], cwd=root, env=env)

        box = machine()
        a, b = alternate(
            args.pairs,
            ours,
            theirs,
            a_label="fluxforge decrypt -i (1 proc)",
            b_label=f"sops -d -i loop ({args.files} procs)",
        )
        one = min(source.joinpath("secrets").rglob("*.yaml"))
        call_a, call_b = alternate(
            args.calls,
            lambda: run_process([fluxforge, "decrypt", str(one)], cwd=source, env=env),
            lambda: run_process([sops, "-d", str(one)], cwd=source, env=env),
            a_label="fluxforge decrypt FILE",
            b_label="sops -d FILE",
        )
        box_after = machine()
        mine = sorted(ours_roots[0].joinpath("secrets").rglob("*.yaml"))
        same = all(p.read_bytes() == theirs_roots[0].joinpath(p.relative_to(ours_roots[0])).read_bytes() for p in mine)
    box = worst(box, box_after)
    print(f"decrypt {args.files} Secrets (age), {args.pairs} pairs")
    print("\n".join(report(a, b, box, target="the encrypt ratio")))
    print(f"same plaintext as sops, byte for byte: {'yes' if same else 'NO'}")
    print(f"decrypt one file per process, {args.calls} calls each")
    print("\n".join(report(call_a, call_b, box)))
    slower = call_a.median / call_b.median
    print(f"{'fluxforge / sops per call':<28} {slower:.1f}x the time  (target <= 2x)")
    if args.record and same:
        record_pair(f"decrypt-{args.files}", f"decrypt {args.files:,} Secrets (age)", a, b, "sops loop", box, digits=1)
        record(
            "decrypt-call",
            f"| decrypt one file per process | {call_a.median * 1000:.0f} ms | sops -d {call_b.median * 1000:.0f} ms | "
            f"{slower:.1f}x the time | load {box.load1:.1f}/{box.cores} |",
            box,
        )
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
