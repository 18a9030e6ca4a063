"""Benchmark: encrypt N Secret files with an Azure Key Vault key, fluxforge vs a loop of the real sops.

Both run inside the namespace sandbox against the emulator with production URLs and the same developer
credential (client secret); the emulator adds LATENCY to every request, like a remote Key Vault / Entra ID.
Prints wall time and the Key Vault / Entra requests each made (from the emulator's request log).

    python bench/azure_encrypt.py [--files 1000] [--sops-files 1000] [--latency-ms 20]

``--sops-files`` below ``--files`` runs sops on that many files only and scales its time (printed as such).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.emulator import Emulator, Sandbox

KEY = "sops-key"


def make_files(root: Path, count: int, key_url: str) -> list[Path]:
    (root / "secrets").mkdir(parents=True)
    (root / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: \\.yaml$\n"
        f"    encrypted_regex: ^(data|stringData)$\n    azure_keyvault: {key_url}\n"
    )
    files = []
    for i in range(count):
        path = root / "secrets" / f"secret-{i:04}.yaml"
        path.write_text(
            f"apiVersion: v1\nkind: Secret\nmetadata:\n    name: secret-{i:04}\n    namespace: apps\n"
            f"type: Opaque\nstringData:\n    username: user-{i}\n    password: pw-{i:04}-bench\n"
        )
        files.append(path)
    return files


def counts(emu: Emulator, mark: int) -> tuple[int, int]:
    entries = emu.log.since(mark)
    return (
        sum(e.service == "kv" for e in entries),
        sum(e.service == "entra" and e.path.endswith("/token") for e in entries),
    )


def timed_run(
    emu: Emulator, box: Sandbox, argv: list[str], env: dict[str, str], cwd: Path, timeout: float
) -> tuple[float, int, int] | None:
    """Wall time, Key Vault and token requests of one command in the sandbox (the same measure for
    fluxforge and the sops loop); None, with its stderr printed, when it fails."""
    mark = emu.log.mark()
    start = time.perf_counter()
    done = box.run(argv, env=env, cwd=cwd, timeout=timeout)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        return None
    return (elapsed, *counts(emu, mark))


def run(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="fluxforge-bench-"))  # holds plaintext Secrets and emulator keys
    try:
        return measure(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(args: argparse.Namespace, work: Path) -> int:
    emu = Emulator(work / "emulator").start()
    try:
        return measure_with(args, work, emu)
    finally:
        emu.stop()


def measure_with(args: argparse.Namespace, work: Path, emu: Emulator) -> int:
    version = emu.vault().create_key(KEY)
    key_url = emu.vault().key_url(KEY, version)
    developer = emu.add_identity("developer", roles=["Key Vault Crypto User"], secret="bench-secret")
    env = {**emu.secret_env(developer), "SOPS_DISABLE_VERSION_CHECK": "1"}
    emu.faults.latency = args.latency_ms / 1000
    with Sandbox(emu, work / "sandbox") as box:
        ours = make_files(work / "fluxforge", args.files, key_url)
        ff = timed_run(
            emu, box, [sys.executable, "-m", "generator", "encrypt", "-i", "secrets"], env, work / "fluxforge", 3600
        )
        if ff is None:
            return 1
        ff_time, ff_kv, ff_tokens = ff
        assert all(b"ENC[AES256_GCM" in p.read_bytes() for p in ours)

        theirs = make_files(work / "sops", args.files, key_url)[: args.sops_files]
        names = " ".join(f"secrets/{p.name}" for p in theirs)
        loop = timed_run(
            emu,
            box,
            ["sh", "-c", f'for f in {names}; do sops encrypt -i "$f" || exit 1; done'],
            env,
            work / "sops",
            7200,
        )
        if loop is None:
            return 1
        sops_time, sops_kv, sops_tokens = loop
        check = box.run(["sops", "decrypt", str(ours[0])], env=env, cwd=work / "fluxforge")
        assert check.returncode == 0 and "pw-0000-bench" in check.stdout, check.stderr

    scale = args.files / len(theirs)
    sops_total = sops_time * scale
    print(f"files: {args.files}, added latency per request: {args.latency_ms} ms, key: RSA-2048 {key_url}")
    print(f"fluxforge encrypt -i : {ff_time:8.2f} s  Key Vault requests: {ff_kv:6d}  token requests: {ff_tokens}")
    label = "sops loop" if scale == 1 else f"sops loop (ran {len(theirs)}, x{scale:.1f})"
    print(
        f"{label:21}: {sops_total:8.2f} s  Key Vault requests: {round(sops_kv * scale):6d}  "
        f"token requests: {round(sops_tokens * scale)}"
    )
    print(
        f"speed-up: {sops_total / ff_time:.1f}x   Key Vault requests: {ff_kv} vs {round(sops_kv * scale)} "
        f"(target: <= 2 and >= 50x)"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--sops-files", type=int, default=None, help="run sops on this many files and scale")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    args = parser.parse_args()
    args.sops_files = min(args.sops_files or args.files, args.files)
    reason = Sandbox.available()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 1
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
