"""Benchmark: render 200 clusters x 25 Kustomizations (budget 2 s), then a no-op render (0 writes).

Usage: python bench/render.py [--clusters N] [--kustomizations M]
Prints the figures; asserts nothing (performance is never a test).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from generator.config import load_config
from generator.render import render_tree
from generator.tree import run_render

TENANT = "95513a0e-a568-46f4-8d76-53e5279cb558"
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clusters", type=int, default=200)
    parser.add_argument("--kustomizations", type=int, default=25)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "fluxforge.yaml").write_text(fleet_config(args.clusters, args.kustomizations), encoding="utf-8")
        start = time.perf_counter()
        config = load_config(root)
        loaded = time.perf_counter()
        render_tree(config)
        rendered = time.perf_counter()
        cpu = time.process_time()
        first = run_render(root)
        cold = time.perf_counter() - rendered
        cold_cpu = time.process_time() - cpu
        start2, cpu = time.perf_counter(), time.process_time()
        second = run_render(root)
        noop = time.perf_counter() - start2
        noop_cpu = time.process_time() - cpu
    print(f"fleet: {args.clusters} clusters x {args.kustomizations} Kustomizations -> {first.total} files")
    print(f"load + validate config : {loaded - start:.2f} s")
    print(f"render (pure, in memory): {rendered - loaded:.2f} s")
    print(
        f"first render, end to end: {len(first.written):5d} files written in {cold:.2f} s wall "
        f"({cold / 2.0:.0%} of 2 s), {cold_cpu:.2f} s CPU"
    )
    print(
        f"no-op render, end to end: {len(second.written):5d} files written in {noop:.2f} s wall "
        f"({noop / 2.0:.0%} of 2 s), {noop_cpu:.2f} s CPU"
    )
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())} (other work on the machine inflates wall time)")


if __name__ == "__main__":
    main()
