"""``fluxforge init``: a commented starter that renders as is; never overwrites."""

from __future__ import annotations

from pathlib import Path

from generator.commands.init import PLACEHOLDER_GUID
from generator.config.load import load_config


def test_init_then_render(chdir_tmp: Path, run_cli) -> None:
    result = run_cli("init")
    assert result.exit_code == 0, result.output
    text = (chdir_tmp / "fluxforge.yaml").read_text(encoding="utf-8")
    assert text.startswith("# fluxforge.yaml")
    assert text.count("\n#") + text.count("  # ") > 10  # commented
    config = load_config(chdir_tmp)
    assert config.tenant_id == PLACEHOLDER_GUID
    rendered = run_cli("render")
    assert rendered.exit_code == 0, rendered.output
    assert (chdir_tmp / "clusters/dev/flux-system/kustomization.yaml").is_file()
    assert run_cli("render", "--check").exit_code == 0


def test_init_uses_flags(tmp_path: Path, run_cli) -> None:
    target = tmp_path / "fleet"
    result = run_cli(
        "init",
        str(target),
        "--tenant-id", "95513a0e-a568-46f4-8d76-53e5279cb558",
        "--client-id", "c5e055dd-c1c8-4bc7-8cf2-a7eb2667c772",
        "--cluster", "prod-weu",
        "--oidc-issuer", "https://westeurope.oic.prod-aks.azure.com/t/c/",
        "--vault", "https://kv-fleet.vault.azure.net/",
        "--key", "sops-key",
        "--repo-url", "https://github.com/contoso/fleet.git",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output == f"wrote {target / 'fluxforge.yaml'}; next: fluxforge render {target}\n"
    config = load_config(target)
    cluster = config.cluster("prod-weu")
    assert config.tenant_id == "95513a0e-a568-46f4-8d76-53e5279cb558"
    assert cluster.identity.client_id == "c5e055dd-c1c8-4bc7-8cf2-a7eb2667c772"
    assert cluster.oidc_issuer == "https://westeurope.oic.prod-aks.azure.com/t/c/"
    assert [k.url for k in cluster.sops.key_vault] == ["https://kv-fleet.vault.azure.net/keys/sops-key"]
    assert config.git.url == "https://github.com/contoso/fleet.git"
    assert [ks.path for ks in cluster.kustomizations] == ["infrastructure/prod-weu", "apps/prod-weu"]
    assert run_cli("render", str(target)).exit_code == 0


def test_init_refuses_to_overwrite(chdir_tmp: Path, run_cli) -> None:
    (chdir_tmp / "fluxforge.yaml").write_text("# mine\n")
    result = run_cli("init", "--cluster", "x")
    assert result.exit_code == 1
    assert (
        result.stderr
        == "fluxforge.yaml: already exists; fluxforge init never overwrites it (edit it, or move it away)\n"
    )
    assert (chdir_tmp / "fluxforge.yaml").read_text() == "# mine\n"


def test_init_bad_flags_name_the_flag_and_write_nothing(chdir_tmp: Path, run_cli) -> None:
    result = run_cli("init", "--tenant-id", "nope", "--cluster", "Prod", "--oidc-issuer", "http://x")
    assert result.exit_code == 2  # a bad flag value is a usage error
    assert result.stderr.splitlines() == [
        "--tenant-id: 'nope' must be a GUID like 00000000-0000-0000-0000-000000000000",
        (
            "--cluster: 'Prod' must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending "
            "with a letter or digit, at most 63 characters"
        ),
        (
            "--oidc-issuer: 'http://x' must be an https:// URL "
            "(az aks show -g RG -n CLUSTER --query oidcIssuerProfile.issuerUrl -o tsv)"
        ),
    ]
    assert list(chdir_tmp.iterdir()) == []


def test_init_bad_tenant_id_alone_is_a_usage_error(chdir_tmp: Path, run_cli) -> None:
    result = run_cli("init", "--tenant-id", "notaguid")
    assert result.exit_code == 2
    assert result.stderr == "--tenant-id: 'notaguid' must be a GUID like 00000000-0000-0000-0000-000000000000\n"
    assert list(chdir_tmp.iterdir()) == []


def test_init_problem_not_from_a_flag_stays_a_config_error() -> None:
    """A line the config validation reports about no flag keeps the config path (exit 1)."""
    from generator.commands.init import _as_flag_problem

    assert _as_flag_problem("fluxforge.yaml:3: flux.version: bad") == "init: fluxforge.yaml:3: flux.version: bad"
    assert _as_flag_problem("fluxforge.yaml:9: azure.tenantId: 'x' must be a GUID") == "--tenant-id: 'x' must be a GUID"


def test_a_numeric_cluster_name_is_a_name_not_a_number(chdir_tmp: Path, run_cli) -> None:
    """The shell passes every flag as a string: `--cluster 1234` is a valid DNS-1123 label and must not
    be told to "quote" anything; `--tenant-id 1234` is wrong for what it is (not a GUID)."""
    result = run_cli("init", "--cluster", "1234")
    assert result.exit_code == 0, result.output
    config = load_config(chdir_tmp)
    assert [c.name for c in config.clusters] == ["1234"]
    assert [ks.path for ks in config.clusters[0].kustomizations] == ["infrastructure/1234", "apps/1234"]
    assert run_cli("render").exit_code == 0
    bad = run_cli("init", "other", "--tenant-id", "1234", "--client-id", "true")
    assert bad.exit_code == 2
    assert "quote" not in bad.stderr
    assert bad.stderr.splitlines() == [
        "--tenant-id: '1234' must be a GUID like 00000000-0000-0000-0000-000000000000",
        "--client-id: 'true' must be a GUID like 00000000-0000-0000-0000-000000000000",
    ]


def test_flag_values_cannot_inject_yaml(chdir_tmp: Path, run_cli) -> None:
    result = run_cli("init", "--cluster", "x\ny: 1", "--repo-url", "ssh://h/r\nazure: {}")
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert [line.split(":", 1)[0] for line in lines] == ["--repo-url", "--cluster"]
    assert lines[1].startswith("--cluster: 'x\\ny: 1' must be a DNS-1123 label")
    assert list(chdir_tmp.iterdir()) == []


AGE = "age1lfc652rhtrfqg2mhuj3edtv38wdrgpk7fwgt2zdexvnj3923nuqqd0g2rh"


def test_init_age_only(chdir_tmp: Path, run_cli) -> None:
    result = run_cli("init", "--cluster", "staging", "--age", AGE)
    assert result.exit_code == 0, result.output
    config = load_config(chdir_tmp)
    keys = config.cluster("staging").sops
    assert keys.age == (AGE,) and keys.key_vault == ()
    assert "sops-age" in (chdir_tmp / "fluxforge.yaml").read_text()
    both = run_cli("init", "both", "--age", AGE, "--vault", "kv-fleet")
    assert both.exit_code == 0
    keys = load_config(chdir_tmp / "both").clusters[0].sops
    assert keys.age == (AGE,) and [k.url for k in keys.key_vault] == ["https://kv-fleet.vault.azure.net/keys/sops-flux"]
    bad = run_cli("init", "bad", "--age", "age1nope")
    assert bad.exit_code == 2
    assert bad.stderr == (
        "--age: 'age1nope' must be an age recipient: age1 followed by at least 58 bech32 "
        "characters (age-keygen -y KEYFILE)\n"
    )
