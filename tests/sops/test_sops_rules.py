""".sops.yaml: lookup from the CWD, first matching rule, path relative to the config directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.errors import SopsError
from generator.sops import api
from generator.sops.rules import rule_path

CONFIG = """\
stores:
  yaml:
    indent: 2
creation_rules:
  - path_regex: ^clusters/prod/.*\\.yaml$
    encrypted_regex: ^(data|stringData)$
    azure_keyvault: https://v1.vault.azure.net/keys/k1/abc, https://v2.vault.azure.net/keys/k2/def
    age: age1aaa,age1bbb
  - path_regex: \\.env$
    age:
      - age1ccc
      - " age1ddd "
  - path_regex: groups/
    shamir_threshold: 1
    key_groups:
      - age: [age1eee]
        azure_keyvault:
          - vaultUrl: https://v3.vault.azure.net/
            key: k3
            version: "123"
      - age: [age1fff]
  - age: age1catchall
    unencrypted_suffix: _plain
"""


@pytest.fixture
def rules(tmp_path: Path) -> api.SopsRules:
    config = tmp_path / ".sops.yaml"
    config.write_text(CONFIG)
    return api.load_rules(config)


def test_first_match_and_relative_paths(rules: api.SopsRules, tmp_path: Path) -> None:
    prod = rules.rule_for(tmp_path / "clusters/prod/app/secret.yaml")
    assert prod is not None and prod.selector == ("encrypted_regex", "^(data|stringData)$")
    assert prod.key_groups == [
        [
            ("age", "age1aaa"),
            ("age", "age1bbb"),
            ("azure_kv", "https://v1.vault.azure.net/keys/k1/abc"),
            ("azure_kv", "https://v2.vault.azure.net/keys/k2/def"),
        ]
    ]
    assert prod.yaml_indent == 2
    env = rules.rule_for(tmp_path / "clusters/prod/app.env")
    assert env is not None and env.key_groups == [[("age", "age1ccc"), ("age", "age1ddd")]]
    other = rules.rule_for(tmp_path / "clusters/dev/secret.yaml")
    assert other is not None and other.key_groups == [[("age", "age1catchall")]]
    assert other.selector == ("unencrypted_suffix", "_plain")
    assert rule_path(rules.path, tmp_path / "a/b.yaml") == "a/b.yaml"
    assert rule_path(rules.path, "/elsewhere/x.yaml") == "/elsewhere/x.yaml"


def test_key_groups(rules: api.SopsRules, tmp_path: Path) -> None:
    rule = rules.rule_for(tmp_path / "groups/x.yaml")
    assert rule is not None and rule.shamir_threshold == 1
    assert rule.key_groups == [
        [("age", "age1eee"), ("azure_kv", "https://v3.vault.azure.net/keys/k3/123")],
        [("age", "age1fff")],
    ]


def test_lookup_starts_at_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".sops.yaml").write_text(CONFIG)
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert api.find_sops_config() == tmp_path / ".sops.yaml"
    monkeypatch.setenv("SOPS_CONFIG", "/x/custom.yaml")
    assert api.find_sops_config() == Path("/x/custom.yaml")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("missing.yaml", "No such file or directory"),
        ("a" * 300, "File name too long"),
        ("dir/missing.yaml", "No such file or directory"),
    ],
)
def test_a_sops_config_that_cannot_be_read_is_a_user_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, reason: str
) -> None:
    """``SOPS_CONFIG`` naming a file that is not there (or a name too long to look at): one line naming it and
    the OS reason, exit 1 (it was "internal error", exit 3)."""
    from click.testing import CliRunner

    from generator.cli import main

    monkeypatch.chdir(tmp_path)
    Path("s.yaml").write_text("kind: Secret\nstringData:\n  p: x\n")
    monkeypatch.setenv("SOPS_CONFIG", name)
    with pytest.raises(SopsError) as err:
        api.load_rules(api.find_sops_config())  # type: ignore[arg-type]
    assert err.value.problems == [f"{name} (named by SOPS_CONFIG): cannot read it: {reason}"]
    result = CliRunner().invoke(main, ["encrypt", "-i", "s.yaml"])
    assert (result.exit_code, result.stderr) == (1, err.value.problems[0] + "\n")
    assert Path("s.yaml").read_text() == "kind: Secret\nstringData:\n  p: x\n"


def test_bad_rules_are_reported_with_index(tmp_path: Path) -> None:
    config = tmp_path / ".sops.yaml"
    config.write_text(
        "creation_rules:\n  - age: age1x\n    encrypted_regex: a\n    unencrypted_regex: b\n"
        "  - path_regex: '(unclosed'\n    age: age1y\n"
    )
    with pytest.raises(SopsError) as err:
        api.load_rules(config)
    assert len(err.value.problems) == 2
    assert "creation_rules[0]" in err.value.problems[0] and "creation_rules[1].path_regex" in err.value.problems[1]


def test_detect_format() -> None:
    """is_encrypted: tests/sops/test_sops_detect.py (sops's rule, checked against the binary)."""
    assert [api.detect_format(n) for n in ("a.yaml", "b.YML", "c.json", "d.env", "e.ini", "e.txt", "f")] == [
        "yaml",
        "yaml",
        "json",
        "dotenv",
        "ini",
        "binary",
        "binary",
    ]


def test_rule_index_is_rule_for(rules: api.SopsRules, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``rule_index`` (the check asks it for every file: the config's folder is taken once) names the rule
    ``rule_for`` gives, for paths below the config, relative to the working directory and outside it; a
    config named relative to the working directory follows the working directory as sops does."""
    names = ["clusters/prod/app/secret.yaml", "clusters/prod/app.env", "groups/x.yaml", "clusters/dev/s.yaml"]
    expected = [0, 1, 2, 3]
    for name, index in zip(names, expected, strict=True):
        assert rules.rule_index(tmp_path / name) == index
        assert rules.rule_for(tmp_path / name) is rules.rules[index]
    monkeypatch.chdir(tmp_path.parent)
    relative = api.SopsRules(Path(tmp_path.name) / ".sops.yaml", rules.rules[:1])
    assert relative.rule_index(f"{tmp_path.name}/clusters/prod/a.yaml") == 0
    monkeypatch.chdir(tmp_path)  # the same relative config name is now another file: its rule matches no more
    assert relative.rule_index("clusters/prod/a.yaml") is None
    assert relative.rule_index(tmp_path / "clusters/prod/a.yaml") is None
    assert api.SopsRules(tmp_path / ".sops.yaml", rules.rules[:1]).rule_index("clusters/prod/a.yaml") == 0
