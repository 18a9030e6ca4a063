from __future__ import annotations

from pathlib import Path

import pytest

from generator.config.load import config_path_for, load_config, parse_config
from generator.errors import ConfigError
from generator.flux.versions import NEWEST, FluxVersion
from tests.helpers import REPO_ROOT

MINIMAL = """\
git:
  url: ssh://git@github.com/contoso/fleet
azure:
  tenantId: 95513A0E-A568-46F4-8D76-53E5279CB558
sops:
  keyVault:
    - {vault: kv-contoso, key: sops-flux}
    - {vault: "https://KV-Other.vault.azure.net:443/", key: k2, version: bad6639b7a09782fb620e036242cb891}
clusters:
  - name: staging
    oidcIssuer: https://issuer.example/x/
    identity: {clientId: c5e055dd-c1c8-4bc7-8cf2-a7eb2667c772}
    kustomizations:
      - name: apps
"""


def test_defaults_are_applied() -> None:
    config = parse_config(MINIMAL)
    assert config.flux.version == NEWEST
    assert config.flux.namespace == "flux-system"
    assert config.flux.components == (
        "source-controller",
        "kustomize-controller",
        "helm-controller",
        "notification-controller",
    )
    assert (config.git.branch, config.git.secret_ref, config.git.interval) == ("main", "flux-system", "1m")
    cluster = config.cluster("staging")
    assert (cluster.path, cluster.environment) == ("clusters/staging", "staging")
    ks = cluster.kustomization("apps")
    assert (ks.path, ks.namespace, ks.interval, ks.prune, ks.wait, ks.decryption) == (
        "apps/staging",
        "flux-system",
        "10m",
        True,
        False,
        True,
    )
    assert ks.tenant is None and ks.depends_on == () and ks.timeout is None


def test_ids_are_lowercased_and_key_urls_built() -> None:
    config = parse_config(MINIMAL)
    assert config.tenant_id == "95513a0e-a568-46f4-8d76-53e5279cb558"
    urls = [key.url for key in config.cluster("staging").sops.key_vault]
    assert urls == [
        "https://kv-contoso.vault.azure.net/keys/sops-flux",
        "https://kv-other.vault.azure.net/keys/k2/bad6639b7a09782fb620e036242cb891",
    ]


def _schema_defaults() -> dict[tuple[str, str], object]:
    """Every ``default`` of config.schema.json as {(owner, key): value}: owner is a ``$defs`` entry or a
    top-level block."""
    from generator.resources import load_schema

    schema = load_schema("config.schema.json")
    owners = {**schema["$defs"], **schema["properties"]}
    return {
        (owner, key): spec["default"]
        for owner, node in owners.items()
        if isinstance(node, dict)
        for key, spec in (node.get("properties") or {}).items()
        if "default" in spec
    }


def test_each_default_is_declared_once_in_the_schema_and_applied_by_the_loader() -> None:
    """The schema holds every default; the loader reads it from there, the model declares none of its own
    (where a dataclass must keep one, it agrees), and the code's constants are the schema's."""
    import dataclasses

    from generator.config import model
    from generator.flux.versions import DEFAULT_COMPONENTS
    from generator.resources import load_schema

    defaults = _schema_defaults()
    assert defaults[("flux", "version")] == str(NEWEST)
    assert tuple(defaults[("flux", "components")]) == DEFAULT_COMPONENTS
    config = parse_config(MINIMAL)
    applied = {
        ("flux", "version"): str(config.flux.version),
        ("flux", "namespace"): config.flux.namespace,
        ("flux", "components"): list(config.flux.components),
        ("flux", "install"): config.flux.install,
        ("git", "branch"): config.git.branch,
        ("git", "secretRef"): config.git.secret_ref,
        ("git", "interval"): config.git.interval,
        ("git", "recurseSubmodules"): config.git.recurse_submodules,
        ("azure", "encryptorsRunSops"): config.azure.encryptors_run_sops,
        ("identity", "existing"): config.clusters[0].identity.existing,
        ("keyVaultKey", "existing"): config.sops.key_vault[0].existing,
        **{
            ("kustomization", key): getattr(config.clusters[0].kustomizations[0], attr)
            for key, attr in (
                ("interval", "interval"),
                ("prune", "prune"),
                ("wait", "wait"),
                ("decryption", "decryption"),
            )
        },
    }
    podinfo = (
        load_config(REPO_ROOT / "sample-repo" / "fluxforge.yaml").clusters[0].workloads[0]
    )  # no kind, mountPath, type
    applied |= {
        ("workload", "kind"): podinfo.kind,
        ("workload", "mountPath"): podinfo.mount_path,
        ("vaultObject", "type"): podinfo.objects[0].type,
    }
    tenant = load_config(REPO_ROOT / "sample-repo" / "fluxforge.yaml").clusters[0].kustomizations[2].tenant
    assert tenant is not None  # team-a names no reconciler
    applied |= {
        ("flux", "lockdown"): config.flux.lockdown,
        ("tenantReconciler", "role"): tenant.role,
        ("tenantReconciler", "roleKind"): tenant.role_kind,
    }
    assert applied == defaults
    synced = load_config(REPO_ROOT / "sample-repo" / "fluxforge.yaml").clusters[0].workloads[0].objects[0]
    assert (synced.sync_secret, synced.sync_type) == ("podinfo-api", "Opaque")  # syncAs without a type
    syncas = load_schema("config.schema.json")["$defs"]["vaultObject"]["properties"]["syncAs"]
    assert syncas["properties"]["type"]["default"] == synced.sync_type
    kept = {
        (model.Identity, "existing"): ("identity", "existing"),
        (model.KeyVaultKey, "existing"): ("keyVaultKey", "existing"),
        (model.AzureSettings, "encryptors_run_sops"): ("azure", "encryptorsRunSops"),
        (model.FluxSettings, "lockdown"): ("flux", "lockdown"),
    }
    for cls in (
        model.FluxSettings,
        model.GitSource,
        model.KustomizationSpec,
        model.Identity,
        model.KeyVaultKey,
        model.AzureSettings,
        model.Tenant,
    ):
        for f in dataclasses.fields(cls):
            if (cls, f.name) in kept:
                assert f.default == defaults[kept[(cls, f.name)]], (cls.__name__, f.name)
    for cls, attrs in (
        (model.FluxSettings, ("namespace", "components")),
        (model.GitSource, ("branch", "secret_ref", "interval", "recurse_submodules")),
        (model.KustomizationSpec, ("interval", "prune", "wait", "decryption")),
        (model.Tenant, ("role", "role_kind")),
        (model.Workload, ("kind", "mount_path")),
        (model.VaultObject, ("type", "sync_type")),
    ):
        fields = {f.name: f for f in dataclasses.fields(cls)}
        assert all(fields[a].default is dataclasses.MISSING for a in attrs), cls.__name__


def test_cluster_sops_block_replaces_the_default() -> None:
    text = MINIMAL.replace(
        "    kustomizations:",
        "    sops:\n      age: [age1lfc652rhtrfqg2mhuj3edtv38wdrgpk7fwgt2zdexvnj3923nuqqd0g2rh]\n    kustomizations:",
    )
    cluster = parse_config(text).cluster("staging")
    assert cluster.sops.key_vault == ()
    assert cluster.sops.age == ("age1lfc652rhtrfqg2mhuj3edtv38wdrgpk7fwgt2zdexvnj3923nuqqd0g2rh",)


def test_paths_are_normalised() -> None:
    text = MINIMAL.replace("      - name: apps\n", "      - name: apps\n        path: ./apps//staging/\n")
    assert parse_config(text).cluster("staging").kustomization("apps").path == "apps/staging"


def test_flux_version_accepts_tag_form() -> None:
    config = parse_config("flux:\n  version: v2.5.3\n" + MINIMAL)
    assert config.flux.version == FluxVersion(2, 5, 3)
    assert not config.flux.features.object_level_identity


def test_sample_config_loads() -> None:
    config = load_config(REPO_ROOT / "sample-repo")
    assert [c.name for c in config.clusters] == ["staging", "production"]
    team = config.cluster("staging").kustomization("team-a")
    assert team.tenant is not None and team.tenant.service_account == "team-a-sops"
    assert config.cluster("staging").tenants == (team,)
    assert config.root == REPO_ROOT / "sample-repo"


def test_config_path_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert config_path_for(tmp_path) == tmp_path / "fluxforge.yaml"
    assert config_path_for(tmp_path / "other.yaml") == tmp_path / "other.yaml"
    (tmp_path / "fluxforge.yaml").write_text("# here\n")
    assert config_path_for(None) == Path("fluxforge.yaml")


def test_config_is_found_in_parent_folders_like_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    deep = tmp_path / "fleet" / "apps" / "staging"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    with pytest.raises(ConfigError, match="not found here or in a parent folder; create one with `fluxforge init`"):
        config_path_for(None)
    (tmp_path / "fleet" / "fluxforge.yaml").write_text("# fleet\n")
    assert config_path_for(None) == Path("../../fluxforge.yaml")
    monkeypatch.chdir(tmp_path)  # above it: never advise creating it, say where it is
    with pytest.raises(ConfigError) as err:
        config_path_for(None)
    assert err.value.problems == [
        (
            "fluxforge.yaml: not found here or in a parent folder; fleet/fluxforge.yaml is in "
            "a subfolder: name its folder as the argument (fleet)"
        )
    ]


def test_missing_file_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found; create one with `fluxforge init`"):
        load_config(tmp_path)


def test_messages_name_the_file_as_given(tmp_path: Path) -> None:
    bad = tmp_path / "fleet.yaml"
    bad.write_text(MINIMAL.replace("kv-contoso", "k"), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(bad)
    assert info.value.problems == [
        (
            f"{bad}:7: sops.keyVault[0].vault: 'k' must be a Key Vault name (3-24 letters, digits, '-') "
            "or an https://<name>.vault.azure.net URL"
        )
    ]


def test_not_utf8_is_reported(tmp_path: Path) -> None:
    (tmp_path / "fluxforge.yaml").write_bytes(b"git: \xff\xfe\n")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path)


def test_config_reference_is_up_to_date() -> None:
    from generator.config.docs import reference_markdown

    committed = (REPO_ROOT / "docs" / "config-reference.md").read_text(encoding="utf-8")
    assert committed == reference_markdown(), "run: python -m generator.config.docs"
    assert "`clusters[].kustomizations[].tenant.identity.clientId`" in committed
