"""Mutated sops files and .sops.yaml configs never crash fluxforge: every command ends with exit 0, 1 or 2
and a one-line error, never exit 3 (item 8). Files come from the real sops; the mutations replace,
delete or insert lines with hostile YAML/JSON/dotenv fragments."""

from __future__ import annotations

import subprocess

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.cli import main
from tests.hostile.world import PLAIN, World

pytestmark = pytest.mark.interop

JUNK = [
    "5",
    "[1, 2]",
    "{a: 1}",
    "null",
    "''",
    '"x"',
    "!!binary zz",
    "*nope",
    "&a x",
    "- x",
    "true",
    "1e999",
    "-",
    "[",
    "{",
    "ENC[AES256_GCM,data:xx,iv:yy,tag:zz,type:str]",
    "99999999999999999999999",
    "\t",
    "\u2028",
    "!!python/object/apply:os.system ['true']",
    "<<: *nope",
    "~",
    "v3.11",
    "0x10",
    "2026-13-45T99:99:99Z",
]
SOURCES = {
    "s.yaml": f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  password: {PLAIN}\n"
    "  list: [1, 2.5, true, null]\n",
    "s.json": f'{{"a": "{PLAIN}", "b": [1, {{"c": true}}]}}\n',
    "s.env": f"A={PLAIN}\nB=2\n",
}


@pytest.fixture(scope="module")
def encrypted(tmp_path_factory: pytest.TempPathFactory) -> tuple[World, dict[str, str]]:
    world = World(tmp_path_factory.mktemp("fuzz") / "w")
    world.rules("path_regex: \\.(yaml|json|env)$\nage: {age}")
    out = {}
    for name, text in SOURCES.items():
        world.write(name, text)
        done = subprocess.run(["sops", "encrypt", name], cwd=world.root, env=world.env, capture_output=True, check=True)
        out[name] = done.stdout.decode()
    return world, out


_edit = st.tuples(st.sampled_from(["delete", "value", "insert"]), st.integers(0, 200), st.sampled_from(JUNK))


def _mutate(text: str, edits: list[tuple[str, int, str]]) -> str:
    lines = text.split("\n")
    for op, index, junk in edits:
        j = index % len(lines)
        if op == "delete" and len(lines) > 1:
            del lines[j]
        elif op == "value":
            head, sep, _ = lines[j].partition(":") if ":" in lines[j] else lines[j].partition("=")
            lines[j] = f"{head}{sep} {junk}" if sep else junk
        else:
            lines.insert(j, junk)
    return "\n".join(lines)


def _assert_clean(world: World, *args: str) -> None:
    result = CliRunner().invoke(main, list(args), env={**world.env, "EDITOR": "true"})
    assert result.exit_code in (0, 1, 2), (args, result.exit_code, repr(result.exception), result.output[-500:])
    assert "internal error" not in result.output and "Traceback" not in result.output


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(sorted(SOURCES)), edits=st.lists(_edit, min_size=1, max_size=3))
def test_mutated_encrypted_files_never_crash(
    encrypted: tuple[World, dict[str, str]],
    name: str,
    edits: list[tuple[str, int, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world, texts = encrypted
    monkeypatch.chdir(world.root)
    target = "m." + name.split(".")[1]
    world.write(target, _mutate(texts[name], edits))
    for command in ("decrypt", "check", "rotate", "updatekeys", "encrypt"):
        _assert_clean(world, command, target)


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(_edit, min_size=1, max_size=3))
def test_mutated_sops_configs_never_crash(
    encrypted: tuple[World, dict[str, str]], edits: list[tuple[str, int, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    world, texts = encrypted
    config = (
        f"stores:\n  yaml:\n    indent: 2\ncreation_rules:\n  - path_regex: sub/.*\\.yaml$\n"
        f"    encrypted_regex: ^(data|stringData)$\n    shamir_threshold: 1\n    key_groups:\n"
        f"      - age:\n          - {world.recipient}\n"
    )
    sub = world.root / "sub"
    sub.mkdir(exist_ok=True)
    (sub / ".sops.yaml").write_text(_mutate(config, edits))
    (sub / "s.yaml").write_text(SOURCES["s.yaml"])
    (sub / "enc.yaml").write_text(texts["s.yaml"])
    monkeypatch.chdir(sub)
    for args in (("encrypt", "s.yaml"), ("check", "."), ("updatekeys", "enc.yaml"), ("decrypt", "enc.yaml")):
        _assert_clean(world, *args)
