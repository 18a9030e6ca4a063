"""Benchmark: encrypt 1,000 small Kubernetes Secrets with an age recipient.

fluxforge (one process, ``fluxforge encrypt -i DIR``) against a loop of the real ``sops -e -i`` over
the same files, in the same run. Prints both wall times and the ratio (target: >= 30x, <= 1.5 s).

Usage: python bench/encrypt.py [--files N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: app-{n}
  namespace: team-{m}
type: Opaque
stringData:
  username: user-{n}
  password: p4ssw0rd-{n}-{m}
  url: https://db-{m}.example.com:5432/app
"""


def make_tree(root: Path, count: int, recipient: str) -> list[Path]:
    (root / ".sops.yaml").write_text(
        "creation_rules:\n  - path_regex: \\.yaml$\n    encrypted_regex: ^(data|stringData)$\n"
        f"    age: {recipient}\n")
    files = []
    for n in range(count):
        path = root / "secrets" / f"team-{n % 10}" / f"secret-{n}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(SECRET.format(n=n, m=n % 10))
        files.append(path)
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    args = parser.parse_args()
    sops = shutil.which("sops")
    fluxforge = shutil.which("fluxforge")
    if not sops or not fluxforge:
        print("need sops and fluxforge on PATH", file=sys.stderr)
        return 1
    import pyrage

    ident = pyrage.x25519.Identity.generate()
    recipient = str(ident.to_public())
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_")}
    env["SOPS_DISABLE_VERSION_CHECK"] = "1"
    with tempfile.TemporaryDirectory() as tmp:
        ours_root, theirs_root = Path(tmp, "ours"), Path(tmp, "theirs")
        ours_root.mkdir()
        theirs_root.mkdir()
        make_tree(ours_root, args.files, recipient)
        theirs = make_tree(theirs_root, args.files, recipient)

        start = time.perf_counter()
        subprocess.run([fluxforge, "encrypt", "-i", "secrets"], cwd=ours_root, env=env, check=True,
                       capture_output=True)
        ours_s = time.perf_counter() - start

        start = time.perf_counter()
        for path in theirs:
            subprocess.run([sops, "-e", "-i", str(path)], cwd=theirs_root, env=env, check=True,
                           capture_output=True)
        theirs_s = time.perf_counter() - start

        sample = next((ours_root / "secrets").rglob("*.yaml"))
        key_file = Path(tmp, "key.txt")
        key_file.write_text(f"{ident}\n")
        check = subprocess.run([sops, "decrypt", str(sample)], cwd=ours_root, capture_output=True, check=False,
                               env={**env, "SOPS_AGE_KEY_FILE": str(key_file)})
        ok = check.returncode == 0 and b"p4ssw0rd" in check.stdout

    print(f"files:             {args.files}")
    print(f"fluxforge (1 run): {ours_s:8.3f} s  ({ours_s / args.files * 1000:.2f} ms/file, process start included)")
    print(f"sops -e -i loop:   {theirs_s:8.3f} s  ({theirs_s / args.files * 1000:.2f} ms/file)")
    print(f"ratio:             {theirs_s / ours_s:8.1f}x  (target >= 30x, fluxforge <= 1.5 s)")
    print(f"sops decrypts a fluxforge file: {'yes' if ok else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
