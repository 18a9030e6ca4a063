"""Benchmark: render 200 clusters x 25 Kustomizations (budget 2 s), then a no-op render (0 writes,
the lock included), the lock's cost, renders that keep and merge user edits, and the per-file-fsync
writer used before (render outputs are regenerable: they skip the fsync, the lock does not).

Usage: python bench/render.py [--clusters N] [--kustomizations M]
Prints the figures; asserts nothing (performance is never a test).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from generator.commands.render import run_render
from generator.config.load import load_config
from generator.fsio import write_atomic
from generator.merge.lock import LOCK_NAME, Lock, dumps, loads
from generator.render.files import render_tree

T = TypeVar("T")

TENANT = "95513a0e-a568-46f4-8d76-53e5279cb558"
TENANT_NEW = "0d5f3b7a-9c1e-4f2a-8b6d-3e7c5a9f1b2d"
CLIENT = "c5e055dd-c1c8-4bc7-8cf2-a7eb2667c772"


def fleet_config(clusters: int, kustomizations: int) -> str:
    lines = [
        'flux: {version: "2.9.4"}',
        "git:",
        "  url: ssh://git@github.com/contoso/fleet",
        f"azure: {{tenantId: {TENANT}}}",
        "sops:",
        "  keyVault: [{vault: kv-contoso-fleet, key: sops-flux}]",
        "clusters:",
    ]
    for c in range(clusters):
        lines += [
            f"  - name: cluster-{c:03d}",
            f"    oidcIssuer: https://westeurope.oic.prod-aks.azure.com/{TENANT}/{c:08d}/",
            f"    identity: {{name: id-flux-{c:03d}, clientId: {CLIENT}, resourceGroup: rg-fleet}}",
            "    kustomizations:",
        ]
        for k in range(kustomizations):
            lines.append(f"      - name: ks-{k:02d}")
            lines.append(f"        path: apps/cluster-{c:03d}/ks-{k:02d}")
            if k:
                lines.append(f"        dependsOn: [ks-{k - 1:02d}]")
            if k == kustomizations - 1:
                lines.append("        namespace: team-a")
                lines.append(f"        tenant: {{serviceAccount: sops, identity: {{clientId: {CLIENT}}}}}")
    return "\n".join(lines) + "\n"


SYS_TIME: dict[str, float] = {}


def _timed(func: Callable[[], T], label: str = "") -> tuple[T, float, float]:
    """Wall and CPU seconds of ``func``; the kernel's share of the CPU is kept under ``label``."""
    wall, cpu, before = time.perf_counter(), time.process_time(), os.times()
    result = func()
    SYS_TIME[label] = os.times().system - before.system
    return result, time.perf_counter() - wall, time.process_time() - cpu


def _durable_writes(files: dict[str, bytes], parent: str | None) -> float:
    """The writer before: write_atomic with a per-file fsync (the default), on 16 threads."""
    with tempfile.TemporaryDirectory(dir=parent) as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(lambda item: write_atomic(root / item[0], item[1]), files.items()))
        return time.perf_counter() - start


def _edit_every_flux_system(root: Path, clusters: int) -> None:
    """A user's extra patch in every cluster's flux-system/kustomization.yaml."""
    for c in range(clusters):
        path = root / "clusters" / f"cluster-{c:03d}" / "flux-system" / "kustomization.yaml"
        path.write_text(path.read_text() + USER_PATCH, encoding="utf-8")


USER_PATCH = """  - target:
      kind: Deployment
      name: kustomize-controller
    patch: |
      - op: add
        path: /spec/template/spec/containers/0/resources
        value: {limits: {memory: 2Gi}}
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clusters", type=int, default=200)
    parser.add_argument("--kustomizations", type=int, default=25)
    parser.add_argument("--dir", help="Parent folder of the temporary trees (default: the system temp folder).")
    args = parser.parse_args()
    text = fleet_config(args.clusters, args.kustomizations)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = Path(tmp)
        (root / "fluxforge.yaml").write_text(text, encoding="utf-8")
        config, load, _ = _timed(lambda: load_config(root))
        files, pure, _ = _timed(lambda: render_tree(config))
        first, cold, cold_cpu = _timed(lambda: run_render(root), "first")
        second, noop, noop_cpu = _timed(lambda: run_render(root), "noop")
        lock_bytes = (root / LOCK_NAME).read_bytes()
        _, lock_dump, _ = _timed(lambda: dumps(Lock("2.9.4", {p: d.decode() for p, d in files.items()})))
        _, lock_parse, _ = _timed(lambda: loads(lock_bytes))
        _edit_every_flux_system(root, args.clusters)
        kept, kept_wall, _ = _timed(lambda: run_render(root))
        (root / "fluxforge.yaml").write_text(text.replace(TENANT, TENANT_NEW), encoding="utf-8")
        merged, merge_wall, merge_cpu = _timed(lambda: run_render(root))
    durable = _durable_writes(files, args.dir)
    print(f"fleet: {args.clusters} clusters x {args.kustomizations} Kustomizations -> {first.total} files")
    print(f"load + validate config : {load:.2f} s")
    print(f"render (pure, in memory): {pure:.2f} s")
    print(
        f"first render, end to end: {len(first.written):5d} files written in {cold:.2f} s wall "
        f"({cold / 2.0:.0%} of 2 s), {cold_cpu:.2f} s CPU ({SYS_TIME['first']:.2f} s in the kernel); "
        f"lock written: {first.lock_changed}"
    )
    print(
        f"no-op render, end to end: {len(second.written):5d} files written in {noop:.2f} s wall "
        f"({noop / 2.0:.0%} of 2 s), {noop_cpu:.2f} s CPU; lock written: {second.lock_changed}"
    )
    print(
        f"{LOCK_NAME}: {len(lock_bytes) / 1e6:.1f} MB, build {lock_dump:.2f} s, parse {lock_parse:.2f} s "
        "(a no-op render only compares its bytes; it parses the lock when a file differs)"
    )
    print(
        f"render with {args.clusters} user-edited flux-system files (kept, lock parsed): "
        f"{len(kept.written)} written in {kept_wall:.2f} s"
    )
    print(
        f"config change merged into them (three-way): {len(merged.written)} written, {len(merged.merged)} merged "
        f"in {merge_wall:.2f} s wall, {merge_cpu:.2f} s CPU"
    )
    print(
        f"same {len(files)} files with a per-file fsync (write_atomic default, 16 threads, the writer before): "
        f"{durable:.2f} s for the writes alone"
    )
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())} (other work on the machine inflates wall time)")


if __name__ == "__main__":
    main()
