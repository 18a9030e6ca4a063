"""Benchmark: does `fluxforge render` scale linearly? A big fleet against a small one, in the same run.

A = the big fleet (default 2,000 clusters x 25 Kustomizations), B = the small one (200 x 25, the
baseline: there is no peer that renders a Flux tree from a config). Each pair renders both fleets
from scratch in fresh folders (one `fluxforge render` process each), then renders each again with
nothing changed (the no-op: 0 files written, answered from the render index: generator/render/index.py;
FLUXFORGE_RENDER_CACHE=off in the environment measures the full render instead), then once more after a
one-line edit of the config (one Kustomization's interval: the usual edit-and-render loop, a full render
that rewrites one file and the lock). Runs alternate A B A B
(bench/harness.py); medians, peak memory and the machine's load are printed. Linear means big / small
<= the fleet ratio (+10 %): the issue's bar is 11x for 10x the clusters, for wall time and for peak memory.
Before those, the small fleet's first render against the file system's floor for the same tree
(bench/floor.py --copy), alternated the same way: the least any first render of those files costs on this
machine. No tree is removed until its phase ends (``KEPT`` says why).

Usage: python bench/render.py [--clusters 200] [--scale 10] [--kustomizations 25] [--pairs 3] [--record]
  --record  writes the rows into bench/README.md (only from a quiet run)
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Machine, Run, Series, alternate, machine, options, record, run_process, tools, worst

FLOOR = Path(__file__).resolve().parent / "floor.py"

KEPT = """Trees are removed only when a phase ends, and the floor runs first: on an ext4 file system without a
journal (this machine's), creating a file scans the inodes deleted in the last one to six minutes, so a render
just after tens of thousands of deletions measured the deletions (a 5,400-file tree took 0.5 s to create on a
quiet disk and up to 5 s right after a removal)."""

TENANT = "95513a0e-a568-46f4-8d76-53e5279cb558"
CLIENT = "c5e055dd-c1c8-4bc7-8cf2-a7eb2667c772"


def fleet_config(clusters: int, kustomizations: int, *, version: str = "2.9.4") -> str:
    """A fleet: every cluster has its own Kustomizations (a dependsOn chain, one tenant)."""
    lines = [
        f'flux: {{version: "{version}"}}',
        "git:",
        "  url: ssh://git@github.com/contoso/fleet",
        f"azure: {{tenantId: {TENANT}}}",
        "sops:",
        "  keyVault: [{vault: kv-contoso-fleet, key: sops-flux}]",
        "clusters:",
    ]
    for c in range(clusters):
        lines += [
            f"  - name: cluster-{c:04d}",
            f"    oidcIssuer: https://westeurope.oic.prod-aks.azure.com/{TENANT}/{c:08d}/",
            f"    identity: {{name: id-flux-{c:04d}, clientId: {CLIENT}, resourceGroup: rg-fleet}}",
            "    kustomizations:",
        ]
        for k in range(kustomizations):
            lines.append(f"      - name: ks-{k:02d}")
            lines.append(f"        path: apps/cluster-{c:04d}/ks-{k:02d}")
            if k:
                lines.append(f"        dependsOn: [ks-{k - 1:02d}]")
            if k == kustomizations - 1:
                lines.append("        namespace: team-a")
                lines.append(f"        tenant: {{serviceAccount: sops, identity: {{clientId: {CLIENT}}}}}")
    return "\n".join(lines) + "\n"


def edit_interval(root: Path) -> None:
    """The edit of the edit-and-render loop: the first cluster's first Kustomization gets an interval (then
    another one, run after run), so the next render rewrites that cluster's file and the lock."""
    config = root / "fluxforge.yaml"
    text = config.read_text(encoding="utf-8")
    marker = "\n        interval: "
    if marker in text:
        start = text.index(marker) + len(marker)
        stop = text.index("\n", start)
        minutes = int(text[start:stop].removesuffix("m")) % 50 + 1
        text = f"{text[:start]}{minutes}m{text[stop:]}"
    else:
        first = "\n      - name: ks-00\n"
        text = text.replace(first, f"{first}        interval: 7m\n", 1)
    config.write_text(text, encoding="utf-8")


@dataclass(frozen=True)
class FleetRuns:
    """A command on the big and the small fleet, first in a fresh folder, then again in it (the no-op), and
    with an edit once more after it (``*_edited``)."""

    big: Series
    small: Series
    big_again: Series
    small_again: Series
    box: Machine
    big_edited: Series | None = None
    small_edited: Series | None = None


def fleet_runs(
    pairs: int,
    sizes: tuple[int, int],
    job: str,
    ks: int,
    first: Callable[[Path, int], Sequence[str]],
    again: Sequence[str],
    edit: Callable[[Path], None] | None = None,
) -> FleetRuns:
    """A B A B over the big and the small fleet (``sizes``: big, small clusters). ``first(root, n)`` prepares a
    fresh folder for ``n`` clusters (untimed) and returns the timed command; ``again`` then runs in the same
    folder; with ``edit``, it runs there once more after ``edit(root)`` (untimed) changed something. Every
    folder is kept until the end (see ``KEPT``)."""
    big_n, small_n = sizes
    with tempfile.TemporaryDirectory() as tmp:
        rounds = iter(range(1_000_000))
        trees: dict[int, list[Path]] = {small_n: [], big_n: []}

        def fresh(n: int) -> Run:
            root = Path(tmp, f"fleet-{n}-{next(rounds)}")
            root.mkdir()
            argv = first(root, n)
            trees[n].append(root)
            return run_process(argv, cwd=root)

        done: dict[int, list[Path]] = {small_n: [], big_n: []}

        def noop(n: int) -> Run:
            root = trees[n].pop(0)
            done[n].append(root)
            return run_process(again, cwd=root)

        def edited(n: int) -> Run:
            root = done[n].pop(0)
            assert edit is not None
            edit(root)
            return run_process(again, cwd=root)

        def both(step: Callable[[int], Run], what: str) -> tuple[Series, Series]:
            """``step`` on the big and the small fleet, alternated."""
            return alternate(
                pairs,
                lambda: step(big_n),
                lambda: step(small_n),
                a_label=f"{what}{job} {big_n} x {ks}",
                b_label=f"{what}{job} {small_n} x {ks}",
            )

        box = machine()
        big, small = both(fresh, "")
        big_again, small_again = both(noop, "no-op ")
        if edit is None:
            return FleetRuns(big, small, big_again, small_again, worst(box, machine()))
        big_edited, small_edited = both(edited, "edited ")
        return FleetRuns(big, small, big_again, small_again, worst(box, machine()), big_edited, small_edited)


def floor_runs(pairs: int, first: Callable[[Path], Sequence[str]]) -> tuple[Series, Series, int]:
    """The first render (``first(root)`` prepares a fresh folder and returns the command) against the file
    system's floor for its tree (bench/floor.py --copy: the same folders and files created atomically, nothing
    else), alternated in fresh folders kept until the end (see ``KEPT``); and the file count."""
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp, "model")
        model.mkdir()
        run_process(first(model), cwd=model)
        count = sum(1 for p in model.rglob("*") if p.is_file())
        rounds = iter(range(1_000_000))

        def render() -> Run:
            root = Path(tmp, f"render-{next(rounds)}")
            root.mkdir()
            return run_process(first(root), cwd=root)

        def floor() -> Run:
            root = Path(tmp, f"floor-{next(rounds)}")
            return run_process([sys.executable, str(FLOOR), "--copy", str(model), str(root)], cwd=Path(tmp))

        ours, least = alternate(pairs, render, floor, a_label="first render", b_label="file-system floor")
        return ours, least, count


def scaling(big: Series, small: Series, box: Machine, *, factor: int) -> list[str]:
    """The per-pair ratio big / small (median), against the linear bar; withheld on a busy machine."""
    import statistics

    lines = [
        f"{big.label:<34} {big.spread()}, peak {big.peak_mb:.0f} MB",
        f"{small.label:<34} {small.spread()}, peak {small.peak_mb:.0f} MB",
    ]
    bar = factor * 1.1
    if not box.quiet:
        return [*lines, f"{'scaling':<34} withheld: load {box.load1:.2f} > {box.cores} cores; rerun on a quiet machine"]
    wall = statistics.median(a.wall / b.wall for a, b in zip(big.runs, small.runs, strict=True))
    memory = big.peak_mb / small.peak_mb
    verdict = "linear" if wall <= bar and memory <= bar else "NOT linear"
    summary = (
        f"{'scaling (median of pairs)':<34} wall {wall:.1f}x, peak memory {memory:.1f}x for {factor}x "
        f"the clusters (bar {bar:.0f}x): {verdict}"
    )
    return [*lines, summary]


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
    texts = {n: fleet_config(n, ks) for n in (small_n, big_n)}

    def fleet(root: Path, n: int) -> list[str]:
        (root / "fluxforge.yaml").write_text(texts[n], encoding="utf-8")
        return [fluxforge, "render"]

    ours, least, count = floor_runs(args.pairs, lambda root: fleet(root, small_n))  # first: see KEPT
    runs = fleet_runs(args.pairs, (big_n, small_n), "render", ks, fleet, [fluxforge, "render"], edit_interval)
    big, small, big_noop, small_noop, box = runs.big, runs.small, runs.big_again, runs.small_again, runs.box
    assert runs.big_edited is not None and runs.small_edited is not None
    big_edit, small_edit = runs.big_edited, runs.small_edited
    print(f"render: {small_n} x {ks} against {big_n} x {ks}, {args.pairs} pairs, one process per render")
    print(box.line())
    print("\n".join(scaling(big, small, box, factor=args.scale)))
    print("\n".join(scaling(big_noop, small_noop, box, factor=args.scale)))
    print("\n".join(scaling(big_edit, small_edit, box, factor=args.scale)))
    print(
        f"targets: {small_n} x {ks} <= 1 s first render, <= 0.4 s no-op; {big_n} x {ks} within "
        f"{args.scale * 1.1:.0f}x of it"
    )
    print(f"{small_n} x {ks}: the first render against the file system's floor for its {count:,} files")
    print(f"{ours.label:<34} {ours.spread()}")
    print(f"{least.label:<34} {least.spread()}: folders + atomic writes of the same bytes, nothing else")
    if args.record:
        machine_cell = f"load {box.load1:.1f}/{box.cores}"
        for key, label, series in (
            (
                f"render-{small_n}",
                f"render {small_n} x {ks} (first / no-op / one config line edited)",
                (small, small_noop, small_edit),
            ),
            (
                f"render-{big_n}",
                f"render {big_n} x {ks} (first / no-op / one config line edited)",
                (big, big_noop, big_edit),
            ),
        ):
            record(
                key,
                f"| {label} | {series[0].median:.2f} s / {series[1].median:.2f} s / {series[2].median:.2f} s, "
                f"{series[0].peak_mb:.0f} MB | (baseline: the small fleet) | | {machine_cell} |",
                box,
            )
        record(
            f"render-floor-{small_n}",
            f"| the same {count:,} files of render {small_n} x {ks} written atomically into fresh folders, nothing "
            f"else (bench/floor.py --copy) | {least.median:.2f} s | | first render {ours.median:.2f} s in the same "
            f"run: {ours.median / least.median:.1f}x the floor | {machine_cell} |",
            box,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
