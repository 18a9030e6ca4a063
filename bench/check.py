"""Benchmark: keyless `fluxforge check` of a 10,000-file tree against `sops-checker` (PyPI) on the same tree.

The tree: a `.sops.yaml` whose rule covers `secrets/**.yaml` (encrypted_regex ^(data|stringData)$, an
age recipient); 30 % sops-encrypted Secrets there (made by `fluxforge encrypt`, decryptable by the real
sops), 60 % non-secret YAML (Deployments, ConfigMaps, Kustomizations), 10 % other text. Both tools pass
it. The tree is a git repository with everything committed (where `fluxforge check` runs: CI, a
developer's clone). B = one `sops-checker` process (a text search for `sops:` and `ENC[`: the floor
for walking and reading). A, twice: `fluxforge check` after a first run filled its verdict cache
(.git/fluxforge/check-cache: every file is still read and hashed, unchanged ones are not parsed), and
`fluxforge check --no-cache` (every file parsed: a first run, a fresh clone). Each is alternated with
B (bench/harness.py); medians, peak memory, the machine's load; ratios are withheld on a busy machine.

Then the verdicts: both tools on a corpus of broken files (also a git repository; fluxforge runs twice,
the second time from its cache, and must print the same); every file only one tool flags is listed
with the reason (fluxforge must be the same or stricter).

Usage: python bench/check.py [--files N] [--pairs P] [--record]
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    SECRET,
    alternate,
    clean_env,
    machine,
    options,
    record,
    report,
    run_process,
    tools,
    worst,
)

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{n}
  namespace: team-{m}
  labels: {{app.kubernetes.io/name: app-{n}}}
spec:
  replicas: 2
  selector:
    matchLabels: {{app.kubernetes.io/name: app-{n}}}
  template:
    metadata:
      labels: {{app.kubernetes.io/name: app-{n}}}
    spec:
      containers:
        - name: app
          image: ghcr.io/contoso/app:1.{n}.0
          ports: [{{containerPort: 8080}}]
          envFrom: [{{secretRef: {{name: app-{n}}}}}]
"""
CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings-{n}
data:
  LOG_LEVEL: info
  FEATURE_FLAGS: "a,b,c"
"""
KUSTOMIZATION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deploy-{n}.yaml
  - ../../secrets/team-{m}
"""
NOTE = "# team {m}\n\nThe app reads its password from the Secret app-{n}.\n"
SOPS_YAML = (
    "creation_rules:\n  - path_regex: secrets/.*\\.yaml$\n    encrypted_regex: ^(data|stringData)$\n"
    "    age: {recipient}\n"
)

# the verdict corpus: file -> content; what each tool should say is explained in VERDICT_NOTES
BROKEN = {
    "secrets/plain.yaml": SECRET.format(n=1, m=1),
    "secrets/half.yaml": None,  # an encrypted file with one value decrypted back to plaintext: built below
    "secrets/no-mac.yaml": None,  # an encrypted file whose MAC line was deleted
    "secrets/config-like.yaml": "sops:\n  age: [age1notakey]\nsettings: {password: hunter2}\n",
    "secrets/mentions.yaml": "kind: ConfigMap\ndata:\n  doc: 'values look like ENC[AES256_GCM,...]'\n"
    "  password: hunter2\n",
    "apps/leaked-secret.yaml": SECRET.format(n=2, m=2),
    "apps/deploy.yaml": DEPLOYMENT.format(n=3, m=3),
}
VERDICT_NOTES = {
    "secrets/half.yaml": "one value is plaintext: sops-checker sees other ENC[ values and passes it",
    "secrets/no-mac.yaml": "no MAC: sops refuses to decrypt it; sops-checker sees `sops:` and passes it",
    "secrets/config-like.yaml": "a `sops:` key that is not sops metadata: sops-checker passes plaintext",
    "secrets/mentions.yaml": "the text ENC[ inside a plaintext value: sops-checker passes it",
    "apps/leaked-secret.yaml": "a plaintext Kubernetes Secret outside the rules: sops-checker only looks "
    "at files a path_regex matches",
}


def make_tree(root: Path, count: int, recipient: str, fluxforge: str) -> None:
    """The benchmark tree; the encrypted Secrets are 100 encryptions copied (the keyless check reads no
    key, so copies cost the same to check as distinct files)."""
    root.mkdir(parents=True)
    (root / ".sops.yaml").write_text(SOPS_YAML.format(recipient=recipient))
    seeds = root / "secrets" / "seed"
    seeds.mkdir(parents=True)
    secrets = count * 3 // 10
    for n in range(min(100, secrets)):
        (seeds / f"secret-{n}.yaml").write_text(SECRET.format(n=n, m=n % 10))
    subprocess.run([fluxforge, "encrypt", "-i", str(seeds)], cwd=root, check=True, capture_output=True)
    encrypted = sorted(seeds.iterdir())
    for n in range(secrets - len(encrypted)):
        target = root / "secrets" / f"team-{n % 10}" / f"secret-{n}.yaml"
        target.parent.mkdir(exist_ok=True)
        shutil.copyfile(encrypted[n % len(encrypted)], target)
    for n in range(count - secrets - 1):
        team = root / "apps" / f"team-{n % 20}" / f"app-{n // 40}"
        team.mkdir(parents=True, exist_ok=True)
        kind = n % 10
        if kind < 6:
            (team / f"deploy-{n}.yaml").write_text(DEPLOYMENT.format(n=n, m=n % 10))
        elif kind < 8:
            (team / f"configmap-{n}.yaml").write_text(CONFIGMAP.format(n=n))
        elif kind < 9:
            (team / f"kustomization-{n}.yaml").write_text(KUSTOMIZATION.format(n=n, m=n % 10))
        else:
            (team / f"README-{n}.md").write_text(NOTE.format(n=n, m=n % 10))


def make_broken(root: Path, recipient: str, fluxforge: str) -> None:
    root.mkdir(parents=True)
    (root / ".sops.yaml").write_text(SOPS_YAML.format(recipient=recipient))
    for rel, text in BROKEN.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text if text is not None else SECRET.format(n=9, m=9))
    half, no_mac = root / "secrets/half.yaml", root / "secrets/no-mac.yaml"
    subprocess.run([fluxforge, "encrypt", "-i", str(half), str(no_mac)], cwd=root, check=True, capture_output=True)
    half.write_text(re.sub(r"password: ENC\[[^\]]*\]", "password: p4ssw0rd", half.read_text()))
    no_mac.write_text(re.sub(r"(?m)^    mac: .*\n", "", no_mac.read_text()))


def commit_all(root: Path) -> None:
    """``root`` as a git repository with every file committed (the git CLI, no user config needed)."""
    for args in (
        ["init", "-q"],
        ["add", "-A"],
        [
            "-c",
            "user.name=bench",
            "-c",
            "user.email=bench@fluxforge.invalid",
            "-c",
            "commit.gpgsign=false",
            "commit",
            "-qm",
            "tree",
        ],
    ):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def flagged(root: Path, fluxforge: str, checker: str) -> tuple[set[str], set[str]]:
    ours = subprocess.run([fluxforge, "check"], cwd=root, capture_output=True, text=True, check=False)
    again = subprocess.run([fluxforge, "check"], cwd=root, capture_output=True, text=True, check=False)
    if (again.stderr, again.returncode) != (ours.stderr, ours.returncode):
        raise SystemExit("fluxforge check printed something else from its cache: a bug")
    theirs = subprocess.run([checker, "."], cwd=root, capture_output=True, text=True, check=False)
    mine = {line.split(":", 1)[0] for line in ours.stderr.splitlines() if re.match(r"^[^ :]+:\d+:\d+: ", line)}
    peer = set(re.findall(r"MISSING_ENCRYPTION\S*\]\s+(\S+)", theirs.stdout))
    return mine, peer


def main() -> int:
    args = options(__doc__, files=10_000, pairs=5).parse_args()
    found = tools("fluxforge", "sops-checker")
    if found is None:
        return 1
    fluxforge, checker = found
    import pyrage

    recipient = str(pyrage.x25519.Identity.generate().to_public())
    env = clean_env()
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp, "tree")
        make_tree(tree, args.files, recipient, fluxforge)
        commit_all(tree)
        run_process([fluxforge, "check"], cwd=tree, env=env)  # fills the cache (untimed)
        box = machine()
        a, b = alternate(
            args.pairs,
            lambda: run_process([fluxforge, "check"], cwd=tree, env=env),
            lambda: run_process([checker, "."], cwd=tree, env=env),
            a_label="fluxforge check (cache)",
            b_label="sops-checker",
        )
        cold, b2 = alternate(
            args.pairs,
            lambda: run_process([fluxforge, "check", "--no-cache"], cwd=tree, env=env),
            lambda: run_process([checker, "."], cwd=tree, env=env),
            a_label="fluxforge check --no-cache",
            b_label="sops-checker",
        )
        box = worst(box, machine())
        broken = Path(tmp, "broken")
        make_broken(broken, recipient, fluxforge)
        commit_all(broken)
        mine, peer = flagged(broken, fluxforge, checker)
    print(
        f"keyless check of {args.files:,} files (30 % encrypted Secrets, 60 % other YAML, 10 % text), "
        f"{args.pairs} pairs"
    )
    # the ratio says how many times faster fluxforge is: below 1 it is slower (the bar: within 5x)
    target = "fluxforge <= 1 s, and >= 0.2x, i.e. within 5x of sops-checker"
    print("\n".join(report(a, b, box, target=target)))
    print("\n".join(report(cold, b2, box, target=target)[1:]))
    print(f"verdicts on {len(BROKEN)} broken/plain files: fluxforge flags {len(mine)}, sops-checker {len(peer)}")
    for rel in sorted(peer - mine):
        print(f"  ONLY sops-checker flags {rel}  (fluxforge must be the same or stricter)")
    for rel in sorted(mine - peer):
        print(f"  only fluxforge flags {rel}: {VERDICT_NOTES.get(rel, 'unexplained')}")
    ok = not (peer - mine) and all(rel in VERDICT_NOTES for rel in mine - peer)
    if args.record and ok:
        record(
            f"check-{args.files}",
            f"| keyless check of {args.files:,} files (git repo: cache / --no-cache) | "
            f"{a.median:.2f} s / {cold.median:.2f} s, {max(a.peak_mb, cold.peak_mb):.0f} MB "
            f"| sops-checker {b.median:.2f} s | {b.median / a.median:.2f}x / "
            f"{b2.median / cold.median:.2f}x | load {box.load1:.1f}/{box.cores} |",
            box,
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
