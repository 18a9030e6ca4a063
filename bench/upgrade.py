"""Benchmark: does `fluxforge upgrade` scale linearly? A big fleet against a small one, in the same run.

Each fleet is rendered at Flux 2.6.0 (untimed), 10 % of its clusters get a user patch in
flux-system/kustomization.yaml, then `fluxforge upgrade --to 2.9.4` runs (timed: it merges the new
render into the edited files three ways) and again (timed: the no-op, nothing written). A = the big
fleet (default 2,000 x 25), B = the small one (200 x 25, the baseline: no peer upgrades a generated
Flux tree), alternated A B A B (bench/harness.py); medians, peak memory, the machine's load.

The per-file peer, git merge-file, is bench-independent of the fleet size; the merge engine against it
is covered by the merge tests. Usage: python bench/upgrade.py [--clusters 200] [--scale 10] [--pairs 3]
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root, for tests.helpers

from harness import Run, alternate, machine, options, run_process, tools, worst
from render import fleet_config, scaling

from tests.helpers.user_patches import LIMITS_PATCH

USER_PATCH = "  # ours: more memory\n" + LIMITS_PATCH


def main() -> int:
    parser = options(__doc__, record=False)
    parser.add_argument("--clusters", type=int, default=200)
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--kustomizations", type=int, default=25)
    args = parser.parse_args()
    found = tools("fluxforge")
    if found is None:
        return 1
    fluxforge = found[0]
    small_n, big_n, ks = args.clusters, args.clusters * args.scale, args.kustomizations
    with tempfile.TemporaryDirectory() as tmp:
        rounds = iter(range(1_000_000))
        trees: dict[int, list[Path]] = {small_n: [], big_n: []}

        def upgrade(n: int) -> Run:
            root = Path(tmp, f"fleet-{n}-{next(rounds)}")
            root.mkdir()
            (root / "fluxforge.yaml").write_text(fleet_config(n, ks, version="2.6.0"), encoding="utf-8")
            run_process([fluxforge, "render"], cwd=root)
            for c in range(0, n, 10):
                path = root / "clusters" / f"cluster-{c:04d}" / "flux-system" / "kustomization.yaml"
                path.write_text(path.read_text(encoding="utf-8") + USER_PATCH, encoding="utf-8")
            trees[n].append(root)
            return run_process([fluxforge, "upgrade", "--to", "2.9.4"], cwd=root)

        def again(n: int) -> Run:
            root = trees[n].pop(0)
            run = run_process([fluxforge, "upgrade", "--to", "2.9.4"], cwd=root)
            shutil.rmtree(root)
            return run

        box = machine()
        big, small = alternate(
            args.pairs,
            lambda: upgrade(big_n),
            lambda: upgrade(small_n),
            a_label=f"upgrade {big_n} x {ks}",
            b_label=f"upgrade {small_n} x {ks}",
        )
        big_noop, small_noop = alternate(
            args.pairs,
            lambda: again(big_n),
            lambda: again(small_n),
            a_label=f"no-op upgrade {big_n} x {ks}",
            b_label=f"no-op upgrade {small_n} x {ks}",
        )
        box = worst(box, machine())
    print(
        f"upgrade 2.6.0 -> 2.9.4: {small_n} x {ks} against {big_n} x {ks} (10 % of the clusters edited), "
        f"{args.pairs} pairs, one process per upgrade"
    )
    print(box.line())
    print("\n".join(scaling(big, small, box, factor=args.scale)))
    print("\n".join(scaling(big_noop, small_noop, box, factor=args.scale)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
