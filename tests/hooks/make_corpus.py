"""Regenerate tests/hooks/corpus with the REAL sops binary (run by hand: python tests/hooks/make_corpus.py).

Good files are sops output as is; bad files are sops output with one defect introduced by a
text edit, or plaintext where the rules demand ciphertext. ``expected.yaml`` lists, for every bad
file, the ``line:col: message`` fragments ``fluxforge check`` must print. The two age keys are
test-only keys committed with the corpus.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script: the repository root
from tests.helpers.hooks import SECRET as HOOK_SECRET

HERE = Path(__file__).resolve().parent / "corpus"

# the hook tests' plaintext Secret; the password placeholder becomes `{n}` for SECRET.format(n=...)
SECRET = HOOK_SECRET.format(password="corpus-secret-{n}")
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
"""
FLUXFORGE_CONFIG = """\
# a config with its own top-level `sops:` block: not sops metadata
flux:
  version: "2.9.4"
sops:
  keyVault:
    - vault: kv-fluxforge
      key: sops-flux
  age:
    - age1w6natlasagt5e5cs3d3ducgk8deu6drhszjn7msrjdyn0f0x2qrqfxkppj
"""


def keygen(name: str) -> str:
    path = HERE / name
    HERE.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        subprocess.run(["age-keygen", "-o", str(path)], check=True, capture_output=True)
    return re.search(r"age1[0-9a-z]+", path.read_text()).group(0)


def sops(rel: str, text: str, *args: str) -> str:
    """Encrypt ``text`` as if it lived at ``rel`` (rules of corpus/.sops.yaml apply)."""
    target = HERE / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    env = {**os.environ, "SOPS_AGE_KEY_FILE": str(HERE / "key1.txt")}
    out = subprocess.run(
        ["sops", "encrypt", *args, rel], cwd=HERE, env=env, check=True, capture_output=True, text=True
    ).stdout
    target.write_text(out)
    return out


def write(rel: str, text: str | bytes) -> None:
    target = HERE / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        target.write_bytes(text)
    else:
        target.write_text(text)


def main() -> None:
    for sub in ("good", "bad"):
        shutil.rmtree(HERE / sub, ignore_errors=True)
    pub1, pub2 = keygen("key1.txt"), keygen("key2.txt")
    (HERE / ".sops.yaml").write_text(f"""\
creation_rules:
  - path_regex: secrets/.*\\.yaml$
    encrypted_regex: ^(data|stringData)$
    age: {pub1}
  - path_regex: env/.*\\.env$
    age: {pub1}
  - path_regex: json/.*\\.json$
    age: {pub1}
  - path_regex: files/.*\\.key$
    age: {pub1}
  - path_regex: full/.*\\.yaml$
    age: {pub1}
""")
    # --- good -----------------------------------------------------------------------------------
    sops("good/secrets/app.yaml", SECRET.format(n=1))
    sops("good/secrets/multi.yaml", SECRET.format(n=2) + "---\n" + SECRET.format(n=3).replace("app", "db"))
    write("good/secrets/deployment.yaml", DEPLOYMENT)
    sops("good/env/app.env", "DB_PASSWORD=corpus-secret-4\nDB_USER=admin\n")
    sops("good/json/creds.json", '{"token": "corpus-secret-5", "port": 5432, "enabled": true}\n')
    sops("good/files/tls.key", "-----BEGIN PRIVATE KEY-----\ncorpus-secret-6\n-----END PRIVATE KEY-----\n")
    sops("good/full/values.yaml", "db:\n  password: corpus-secret-7\n  host_unencrypted: db.local\nreplicas: 3\n")
    write("good/plain/deployment.yaml", DEPLOYMENT)
    write(
        "good/plain/secret-substituted.yaml",
        SECRET.replace("corpus-secret-{n}", "${DB_PASSWORD}").replace("admin", "${DB_USER:=admin}"),
    )
    write("good/plain/secret-empty.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: empty\ndata: {}\n")
    write(
        "good/plain/secret-delete-patch.yaml",
        "$patch: delete\napiVersion: v1\nkind: Secret\nmetadata:\n  name: old\ndata:\n  a: YQ==\n",
    )
    write("good/plain/fluxforge.yaml", FLUXFORGE_CONFIG)
    write("good/plain/readme.md", "# Secrets live under secrets/ and are encrypted with sops.\n")
    write("good/plain/blob.bin", bytes(range(256)))
    outside = sops(
        "good/secrets/outside.yaml", SECRET.format(n=8), "--age", pub2, "--encrypted-regex", "^(data|stringData)$"
    )
    (HERE / "good/secrets/outside.yaml").unlink()
    write("good/other/encrypted-outside.yaml", outside)

    # --- bad ------------------------------------------------------------------------------------
    write("bad/secrets/plain-secret.yaml", SECRET.format(n=10))
    text = sops("bad/secrets/no-mac.yaml", SECRET.format(n=11))
    write("bad/secrets/no-mac.yaml", re.sub(r"(?m)^    mac: .*\n", "", text))
    text = sops("bad/secrets/plain-value.yaml", SECRET.format(n=12))
    write("bad/secrets/plain-value.yaml", re.sub(r"(?m)^    user: .*$", "    user: admin", text))
    text = sops("bad/secrets/enc-outside.yaml", SECRET.format(n=13))
    enc = re.search(r"ENC\[[^\]]+\]", text).group(0)
    write("bad/secrets/enc-outside.yaml", text.replace("    namespace: default", f"    namespace: {enc}"))
    sops(
        "bad/secrets/wrong-recipient.yaml",
        SECRET.format(n=14),
        "--age",
        pub2,
        "--encrypted-regex",
        "^(data|stringData)$",
    )
    text = sops("bad/full/wrong-selector.yaml", SECRET.format(n=15))  # the default-suffix rule
    (HERE / "bad/full/wrong-selector.yaml").unlink()
    write("bad/secrets/wrong-selector.yaml", text)
    text = sops("bad/secrets/bad-version.yaml", SECRET.format(n=16))
    write("bad/secrets/bad-version.yaml", re.sub(r"(?m)^    version: .*$", "    version: fluxforge-1", text))
    text = sops("bad/secrets/malformed-enc.yaml", SECRET.format(n=17))
    write(
        "bad/secrets/malformed-enc.yaml",
        re.sub(r"(    password: ENC\[AES256_GCM,data:[^,]+,iv:)[^,]+", r"\1c2hvcnQ=", text),
    )
    write("bad/secrets/broken.yaml", "apiVersion: v1\nkind: Secret\nstringData:\n  a: [unclosed\n")
    text = sops("bad/secrets/no-lastmodified.yaml", SECRET.format(n=18))
    write("bad/secrets/no-lastmodified.yaml", re.sub(r"(?m)^    lastmodified: .*\n", "", text))
    text = sops("bad/secrets/no-keys.yaml", SECRET.format(n=19))
    write("bad/secrets/no-keys.yaml", re.sub(r"(?ms)^    age:\n.*?-----END AGE ENCRYPTED FILE-----\n", "", text))
    write("bad/env/plain.env", "API_TOKEN=corpus-secret-20\n")
    text = sops("bad/env/no-mac.env", "API_TOKEN=corpus-secret-21\n")
    write("bad/env/no-mac.env", re.sub(r"(?m)^sops_mac=.*\n", "", text))
    write("bad/json/plain.json", '{"token": "corpus-secret-22"}\n')
    text = sops("bad/json/plain-value.json", '{"token": "corpus-secret-23", "port": 5432}\n')
    write("bad/json/plain-value.json", re.sub(r'"port": "ENC\[[^"]+"', '"port": 5432', text))
    write("bad/files/plain.key", "-----BEGIN PRIVATE KEY-----\ncorpus-secret-24\n-----END PRIVATE KEY-----\n")
    write("bad/plain/secret.yaml", SECRET.format(n=25))
    write(
        "bad/plain/multi-secret.yaml",
        DEPLOYMENT + "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n  password: Y29ycHVz\n",
    )
    write("bad/full/plain.yaml", "db:\n  password: corpus-secret-26\n")
    print("corpus written to", HERE, file=sys.stderr)


if __name__ == "__main__":
    main()
