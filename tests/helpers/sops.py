"""Test helpers for the sops suite: the real sops binary, age keys, masking of random parts."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SOPS = shutil.which("sops")


def require(tool: str) -> str:
    """The path of a peer tool; a missing tool is a failure, never a skip."""
    path = shutil.which(tool)
    assert path, f"{tool} is not on PATH (scripts/test.sh installs it)"
    return path


@dataclass(frozen=True)
class AgeKey:
    identity: str
    recipient: str
    key_file: Path


def make_age_key(directory: Path, name: str = "keys.txt") -> AgeKey:
    import pyrage

    ident = pyrage.x25519.Identity.generate()
    path = directory / name
    path.write_text(f"# test key\n{ident}\n")
    return AgeKey(str(ident), str(ident.to_public()), path)


def run_sops(
    *args: str, cwd: Path, key_file: Path | None = None, input: bytes | None = None, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_")}
    env["SOPS_DISABLE_VERSION_CHECK"] = "1"
    if key_file is not None:
        env["SOPS_AGE_KEY_FILE"] = str(key_file)
    done = subprocess.run([require("sops"), *args], cwd=cwd, env=env, input=input, capture_output=True, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"sops {' '.join(args)} failed ({done.returncode}): {done.stderr.decode()}")
    return done


_VALUE = re.compile(r"data:([^,]*),iv:[^,]*,tag:[^,]*,")
_AGE = re.compile(r"-----BEGIN AGE ENCRYPTED FILE-----.*?-----END AGE ENCRYPTED FILE-----(\\n|\n)?", re.DOTALL)
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def mask(text: str) -> str:
    """Replace the random parts (ciphertext, IV, tag, age stanzas, timestamps), keep lengths."""
    text = _VALUE.sub(lambda m: f"data:<{len(m.group(1))}>,iv:<>,tag:<>,", text)
    text = _AGE.sub("<AGE>", text)
    return _TIME.sub("<TIME>", text)


def write_rule(directory: Path, recipient: str, extra: str = "", path_regex: str = "") -> Path:
    lines = ["creation_rules:", "  - age: " + recipient]
    if path_regex:
        lines.append(f"    path_regex: '{path_regex}'")
    lines.extend("    " + line for line in extra.splitlines() if line.strip())
    config = directory / ".sops.yaml"
    config.write_text("\n".join(lines) + "\n")
    return config
