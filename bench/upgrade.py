"""Benchmark: `fluxforge upgrade` 2.6.0 -> 2.9.4 on a 200 x 25 fleet where 10% of the clusters carry
a user patch, then the no-op second upgrade; the peer is real `git merge-file` on the same triples.

Usage: python bench/upgrade.py [--clusters N] [--kustomizations M]
Prints the figures; asserts nothing (performance is never a test).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root, for tests.helpers

from render import fleet_config  # bench/render.py: the same fleet as the render benchmark

from generator.commands.render import run_render
from generator.commands.upgrade import run_upgrade
from generator.config.load import load_config
from generator.merge.lock import LOCK_NAME, read_lock
from generator.merge.text import merge_text
from generator.render.files import render_tree
from tests.helpers.user_patches import LIMITS_PATCH

USER_PATCH = "  # ours: more memory\n" + LIMITS_PATCH


def _git_merge_all(root: Path, triples: list[tuple[str, str, str]]) -> float:
    git = shutil.which("git") or "git"
    work = root / ".peer"
    work.mkdir()
    start = time.perf_counter()
    for ours, base, theirs in triples:
        for name, text in (("o", ours), ("b", base), ("t", theirs)):
            (work / name).write_text(text, encoding="utf-8")
        subprocess.run([git, "merge-file", "-p", str(work / "o"), str(work / "b"), str(work / "t")],
                       capture_output=True, check=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clusters", type=int, default=200)
    parser.add_argument("--kustomizations", type=int, default=25)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        text = fleet_config(args.clusters, args.kustomizations).replace('"2.9.4"', '"2.6.0"')
        (root / "fluxforge.yaml").write_text(text, encoding="utf-8")
        start = time.perf_counter()
        run_render(root)
        rendered = time.perf_counter() - start
        edited = [f"clusters/cluster-{c:03d}/flux-system/kustomization.yaml" for c in range(0, args.clusters, 10)]
        for rel in edited:
            path = root / rel
            path.write_text(path.read_text(encoding="utf-8") + USER_PATCH, encoding="utf-8")
        lock = read_lock(root / LOCK_NAME)
        assert lock is not None
        before = {rel: (root / rel).read_text(encoding="utf-8") for rel in lock.files}

        start = time.perf_counter()
        report = run_upgrade(root, to="2.9.4")
        first = time.perf_counter() - start
        start = time.perf_counter()
        again = run_upgrade(root, to="2.9.4")
        second = time.perf_counter() - start

        theirs = render_tree(load_config(root))
        triples = [(before[p], lock.files[p], theirs[p].decode()) for p in sorted(before) if before[p] != theirs[p].decode()]
        peer = _git_merge_all(root, triples)
        start = time.perf_counter()
        for ours, base, new in triples:
            merge_text(base, ours, new)
        merge_only = time.perf_counter() - start
        size = (root / LOCK_NAME).stat().st_size
    print(f"fleet: {args.clusters} clusters x {args.kustomizations} Kustomizations, {len(lock.files)} generated files")
    print(f"render 2.6.0 (writes the tree and {LOCK_NAME}, {size / 1e6:.1f} MB): {rendered:.2f} s")
    print(f"upgrade 2.6.0 -> 2.9.4: {first:.2f} s, {len(report.changed)} files written, "
          f"{len(edited)} with user edits merged")
    print(f"second upgrade (no-op): {second:.2f} s, {len(again.changed)} files written")
    print(f"merge only: merge3.merge_text on the {len(triples)} changed files: {merge_only:.2f} s")
    print(f"peer: git merge-file (one process per file) on the same files: {peer:.2f} s; "
          f"merge3 / git merge-file = {merge_only / peer:.2f}x; whole upgrade / git merge-file = {first / peer:.2f}x "
          "(the upgrade also loads the config twice, renders, reads/writes the lock and lints)")


if __name__ == "__main__":
    main()
