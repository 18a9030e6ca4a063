"""Benchmark: does `fluxforge upgrade` scale linearly? A big fleet against a small one, in the same run.

Each fleet is rendered at Flux 2.6.0 (untimed), 10 % of its clusters get a user patch in
flux-system/kustomization.yaml, then `fluxforge upgrade --to 2.9.4` runs (timed: it merges the new
render into the edited files three ways) and again (timed: the no-op, nothing written). A = the big
fleet (default 2,000 x 25), B = the small one (200 x 25, the baseline: no peer upgrades a generated
Flux tree), alternated A B A B (bench/harness.py); medians, peak memory, the machine's load.

The per-file peer, git merge-file, is bench-independent of the fleet size; the merge engine against it
is covered by the merge tests. Usage: python bench/upgrade.py [--clusters 200] [--scale 10] [--pairs 3] [--record]
  --record  writes the rows into bench/README.md (only from a quiet run)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root, for tests.helpers

from harness import Machine, Series, options, record, run_process, tools
from render import fleet_config, fleet_runs, scaling

from tests.helpers.user_patches import LIMITS_PATCH

USER_PATCH = "  # ours: more memory\n" + LIMITS_PATCH


def main() -> int:
    parser = options(__doc__)
    parser.add_argument("--clusters", type=int, default=200)
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--kustomizations", type=int, default=25)
    args = parser.parse_args()
    found = tools("fluxforge")
    if found is None:
        return 1
    fluxforge = found[0]
    small_n, big_n, ks = args.clusters, args.clusters * args.scale, args.kustomizations
    upgrade = [fluxforge, "upgrade", "--to", "2.9.4"]

    def fleet(root: Path, n: int) -> list[str]:
        (root / "fluxforge.yaml").write_text(fleet_config(n, ks, version="2.6.0"), encoding="utf-8")
        run_process([fluxforge, "render"], cwd=root)
        for c in range(0, n, 10):
            path = root / "clusters" / f"cluster-{c:04d}" / "flux-system" / "kustomization.yaml"
            path.write_text(path.read_text(encoding="utf-8") + USER_PATCH, encoding="utf-8")
        return upgrade

    runs = fleet_runs(args.pairs, (big_n, small_n), "upgrade", ks, fleet, upgrade)
    big, small, big_noop, small_noop, box = runs.big, runs.small, runs.big_again, runs.small_again, runs.box
    print(
        f"upgrade 2.6.0 -> 2.9.4: {small_n} x {ks} against {big_n} x {ks} (10 % of the clusters edited), "
        f"{args.pairs} pairs, one process per upgrade"
    )
    print(box.line())
    print("\n".join(scaling(big, small, box, factor=args.scale)))
    print("\n".join(scaling(big_noop, small_noop, box, factor=args.scale)))
    if args.record:
        for n, series in ((small_n, (small, small_noop)), (big_n, (big, big_noop))):
            record_row(f"upgrade-{n}", f"upgrade 2.6.0 -> 2.9.4, {n} x {ks} (edited / no-op)", series, box)
    return 0


def record_row(key: str, label: str, series: tuple[Series, Series], box: Machine) -> None:
    first, again = series
    record(
        key,
        f"| {label} | {first.median:.2f} s / {again.median:.2f} s, {first.peak_mb:.0f} MB | (baseline: the small "
        f"fleet) | | load {box.load1:.1f}/{box.cores} |",
        box,
    )


if __name__ == "__main__":
    raise SystemExit(main())
