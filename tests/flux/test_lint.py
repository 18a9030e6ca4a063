"""Upgrade lint: removed API versions, index-based JSON patches, strict post-build substitutions."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from generator.errors import UsageError
from generator.flux.lint import Finding, lint_text, lint_tree, target_version
from generator.flux.substitution import PostBuild, postbuild_kustomizations, postbuild_scopes
from generator.flux.versions import parse_version


def d(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def at(findings: list[Finding], level: str | None = None) -> list[int]:
    return [f.line for f in findings if level is None or f.level == level]


DOC = "apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: x\n"


@pytest.mark.parametrize(
    ("api", "kind", "first_bad_minor"),
    [
        ("kustomize.toolkit.fluxcd.io/v1beta1", "Kustomization", 7),
        ("source.toolkit.fluxcd.io/v1beta1", "GitRepository", 7),
        ("helm.toolkit.fluxcd.io/v2beta1", "HelmRelease", 7),
        ("kustomize.toolkit.fluxcd.io/v1beta2", "Kustomization", 8),
        ("source.toolkit.fluxcd.io/v1beta2", "HelmRepository", 8),
        ("helm.toolkit.fluxcd.io/v2beta2", "HelmRelease", 8),
        ("image.toolkit.fluxcd.io/v1beta2", "ImagePolicy", 9),
        ("notification.toolkit.fluxcd.io/v1beta2", "Provider", 9),
    ],
)
def test_removed_api_versions_by_target(api: str, kind: str, first_bad_minor: int) -> None:
    text = "# header\n---\n" + DOC.format(api=api, kind=kind)
    before = lint_text("a.yaml", text, parse_version(f"2.{first_bad_minor - 1}.0"))
    assert before == []
    after = lint_text("a.yaml", text, parse_version(f"2.{first_bad_minor}.0"))
    assert [(f.line, f.level) for f in after] == [(3, "error")]
    assert f"no longer served from Flux 2.{first_bad_minor}" in after[0].message
    assert "flux migrate" in after[0].message
    assert str(after[0]).startswith("a.yaml:3: error: " + api + " " + kind)


def test_removed_api_names_the_replacement() -> None:
    text = DOC.format(api="notification.toolkit.fluxcd.io/v1beta2", kind="Alert")
    (finding,) = lint_text("a.yaml", text, parse_version("2.9.4"))
    assert finding.message.endswith("then set apiVersion: notification.toolkit.fluxcd.io/v1beta3")


def test_current_apis_and_kustomize_file_format_are_fine() -> None:
    text = d("""
        apiVersion: kustomize.config.k8s.io/v1beta1
        kind: Kustomization
        resources: [a.yaml]
        ---
        apiVersion: kustomize.toolkit.fluxcd.io/v1
        kind: Kustomization
        metadata:
          name: apps
        """)
    assert lint_text("k.yaml", text, parse_version("2.9.4")) == []


KUSTOMIZATION_WITH_PATCHES = d("""
    apiVersion: kustomize.config.k8s.io/v1beta1
    kind: Kustomization
    patches:
      - target:
          kind: ClusterRole
          name: crd-controller-flux-system
        patch: |
          - op: remove
            path: /rules/10
      - target:
          kind: Deployment
          name: kustomize-controller
        patch: |-
          - op: add
            path: /spec/template/spec/containers/0/args/-
            value: --feature-gates=ObjectLevelWorkloadIdentity=true
          - op: add
            path: /spec/template/spec/containers/0/resources
            value: {}
          - op: replace
            path: /spec/template/spec/containers/0/args/2
            value: --log-level=debug
      - patch: '[{"op": "move", "from": "/spec/x/3", "path": "/spec/y/-"}]'
        target:
          kind: Deployment
    patchesJson6902:
      - target: {kind: Service, name: s}
        patch: |
          - op: test
            path: /spec/ports/0/port
            value: 80
    """)


def test_index_based_json_patches_are_flagged_with_their_line() -> None:
    found = lint_text("clusters/a/flux-system/kustomization.yaml", KUSTOMIZATION_WITH_PATCHES, parse_version("2.6.0"))
    assert at(found, "warning") == [9, 18, 21, 23, 30]
    assert all(f.level == "warning" for f in found)
    lines = KUSTOMIZATION_WITH_PATCHES.splitlines()
    assert "/rules/10" in lines[9 - 1]
    assert "/containers/0/resources" in lines[18 - 1]
    assert "/args/2" in lines[21 - 1]
    assert "/spec/ports/0/port" in lines[30 - 1]
    assert "'remove /rules/10'" in found[0].message
    assert "crd-controller ClusterRole that all Flux controllers share" in found[0].message
    assert "serviceaccounts/token rule /rules/10 became /rules/11 in 2.7" in found[0].message


def test_append_is_not_flagged_and_separate_patch_files_are_read() -> None:
    patch_file = "- op: add\n  path: /spec/template/spec/containers/0/env/-\n  value: {name: A}\n"
    assert lint_text("p.yaml", patch_file, parse_version("2.9.4")) == []
    bad = "- op: remove\n  path: /spec/template/spec/containers/0/env/1\n"
    assert at(lint_text("p.yaml", bad, parse_version("2.9.4"))) == [2]


def test_flux_kustomization_inline_patches_are_checked() -> None:
    text = d("""
        apiVersion: kustomize.toolkit.fluxcd.io/v1
        kind: Kustomization
        metadata:
          name: apps
        spec:
          patches:
            - patch: |
                - op: replace
                  path: /spec/rules/0/host
                  value: example.com
              target:
                kind: Ingress
        """)
    assert at(lint_text("apps.yaml", text, parse_version("2.9.4"))) == [9]
    second = "# first document\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\n" + text
    assert at(lint_text("apps.yaml", second, parse_version("2.9.4"))) == [9 + 7]


SUBST = d("""
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: cfg
    data:
      # ${commented} is fine
      region: ${region}
      zone: ${zone:=westeurope}
      tier: ${tier:-gold}
      env: ${env=dev}
      escaped: $${literal}
      cluster: ${cluster_name}
    """)


APPS = PostBuild("apps", "clusters/a/apps.yaml", "apps", frozenset())


def test_strict_substitution_warnings_only_from_29() -> None:
    assert lint_text("c.yaml", SUBST, parse_version("2.8.0"), (APPS,)) == []
    found = lint_text("c.yaml", SUBST, parse_version("2.9.0"), (APPS,))
    assert [(f.line, f.message.split()[0]) for f in found] == [(7, "${region}"), (12, "${cluster_name}")]
    assert "StrictPostBuildSubstitutions" in found[0].message
    assert "Kustomization apps (postBuild) does not set it" in found[0].message
    assert "${region:=default}" in found[0].message
    defined = lint_text(
        "c.yaml", SUBST, parse_version("2.9.0"), (APPS, PostBuild("b", "b.yaml", "apps", frozenset({"region"})))
    )
    assert [(f.line, "Kustomization apps, b" in f.message) for f in defined] == [(7, False), (12, True)]
    assert "Kustomization apps (postBuild)" in defined[0].message  # b sets region, apps does not


def test_no_postbuild_kustomization_no_substitution_warning() -> None:
    """kustomize-controller substitutes only under spec.postBuild: a ${var} elsewhere is left as is."""
    assert lint_text("c.yaml", SUBST, parse_version("2.9.4")) == []


def test_objects_with_substitution_disabled_are_skipped() -> None:
    text = d("""
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: script
          annotations:
            kustomize.toolkit.fluxcd.io/substitute: disabled
        data:
          run.sh: echo ${HOME}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: labelled
          labels:
            kustomize.toolkit.fluxcd.io/substitute: "disabled"
        data:
          x: ${also_fine}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: cfg
          annotations:
            kustomize.toolkit.fluxcd.io/substitute: Disabled
        data:
          region: ${region}
        """)
    found = lint_text("c.yaml", text, parse_version("2.9.4"), (APPS,))
    assert [(f.line, f.message.split()[0]) for f in found] == [(26, "${region}")]  # "Disabled" is not "disabled"


KS_POSTBUILD = d("""
    apiVersion: kustomize.toolkit.fluxcd.io/v1
    kind: Kustomization
    metadata:
      name: apps
      namespace: flux-system
    spec:
      path: ./apps/staging
      postBuild:
        substitute:
          cluster_name: staging
        substituteFrom:
          - kind: ConfigMap
            name: cluster-vars
          - kind: Secret
            name: not-in-the-repository
            optional: true
    ---
    apiVersion: kustomize.toolkit.fluxcd.io/v1
    kind: Kustomization
    metadata:
      name: infra
    spec:
      path: ./infrastructure
    """)


def test_postbuild_kustomizations_and_the_variables_they_set() -> None:
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cluster-vars\ndata:\n  region: eu\n"
    other = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: unrelated\ndata:\n  tier: x\n"
    found = postbuild_kustomizations({"clusters/a/apps.yaml": KS_POSTBUILD, "cm.yaml": cm, "other.yaml": other})
    assert found == [PostBuild("apps", "clusters/a/apps.yaml", "apps/staging", frozenset({"cluster_name", "region"}))]


def _tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def test_only_what_a_postbuild_kustomization_builds_is_checked(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "clusters/a/apps.yaml": KS_POSTBUILD,
            "clusters/a/vars.yaml": (
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cluster-vars\ndata:\n  region: eu\n"
            ),
            # apps/staging has a kustomization.yaml that pulls in ../base (and a patch file); not stray.yaml
            "apps/staging/kustomization.yaml": (
                "resources:\n  - ../base\n  - app.yaml\npatches:\n  - path: patch.yaml\n"
            ),
            "apps/staging/app.yaml": SUBST,
            "apps/staging/patch.yaml": "kind: Deployment\nmetadata:\n  name: x\n  labels:\n    tier: ${tier}\n",
            "apps/staging/stray.yaml": "x: ${stray}\n",
            "apps/base/deploy.yaml": "kind: Deployment\nmetadata:\n  name: ${app_name}\n",
            "apps/base/nested/more.yaml": "kind: Service\nmetadata:\n  name: ${svc}\n",
            # built by a Kustomization without postBuild: never substituted
            "infrastructure/ns.yaml": "kind: Namespace\nmetadata:\n  name: ${not_substituted}\n",
        },
    )
    scopes = postbuild_scopes(
        tmp_path, {p.relative_to(tmp_path).as_posix(): p.read_text() for p in tmp_path.rglob("*.yaml")}
    )
    assert sorted(scopes) == [
        "apps/base/deploy.yaml",
        "apps/base/nested/more.yaml",
        "apps/staging/app.yaml",
        "apps/staging/patch.yaml",
    ]
    found = lint_tree(tmp_path, parse_version("2.9.4"))
    # region comes from the ConfigMap substituteFrom names, cluster_name from substitute: app.yaml is fine
    assert sorted((f.file, f.message.split()[0]) for f in found) == [
        ("apps/base/deploy.yaml", "${app_name}"),
        ("apps/base/nested/more.yaml", "${svc}"),
        ("apps/staging/patch.yaml", "${tier}"),
    ]


def test_lint_tree_skips_git_and_flux_components(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.yaml").write_text(DOC.format(api="source.toolkit.fluxcd.io/v1beta1", kind="Bucket"))
    fs = tmp_path / "clusters" / "a" / "flux-system"
    fs.mkdir(parents=True)
    (fs / "gotk-components.yaml").write_text("# Flux Version: v2.6.0\nx: ${var}\n")
    (fs / "kustomization.yaml").write_text(KUSTOMIZATION_WITH_PATCHES)
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps" / "old.yml").write_text(
        DOC.format(api="kustomize.toolkit.fluxcd.io/v1beta2", kind="Kustomization")
    )
    (tmp_path / "apps" / "vars.yaml").write_text(SUBST)
    (tmp_path / "clusters" / "a" / "apps.yaml").write_text(POSTBUILD_ROOT.replace("path: ./", "path: ./apps"))
    (tmp_path / "apps" / "broken.yaml").write_text("- op: remove\n  path: [1\n")
    (tmp_path / "apps" / "broken-no-ops.yaml").write_text("a: [1\n")  # only files with ops are parsed
    (tmp_path / "apps" / "chart.yaml").write_text("x: {{ .Values.x }}\n")
    found = lint_tree(tmp_path, parse_version("2.9.4"))
    files = sorted({f.file for f in found})
    assert files == ["apps/broken.yaml", "apps/old.yml", "apps/vars.yaml", "clusters/a/flux-system/kustomization.yaml"]
    assert [f.level for f in found if f.file == "apps/old.yml"] == ["error"]
    assert [f.message for f in found if f.file == "apps/broken.yaml"] == [
        "not valid YAML, not checked for JSON patches"
    ]


def test_target_version_forms() -> None:
    assert str(target_version(None)) == "2.9.4"
    assert str(target_version("2.9")) == "2.9.4"
    assert str(target_version("v2.7")) == "2.7.0"
    assert str(target_version("2.6.3")) == "2.6.3"
    with pytest.raises(UsageError, match="--to"):
        target_version("3.1")
    with pytest.raises(UsageError, match="MAJOR.MINOR.PATCH"):
        target_version("latest")


POSTBUILD_ROOT = (
    "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: all\n"
    "spec:\n  path: ./\n  postBuild:\n    substitute: {}\n"
)


def test_cli_lint_exit_codes(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "ok.yaml").write_text(SUBST)
    (tmp_path / "ks.yaml").write_text(POSTBUILD_ROOT)  # builds the whole repository, with substitution
    warn_only = run_cli("lint", str(tmp_path), "--to", "2.9")
    assert warn_only.exit_code == 0
    assert warn_only.stdout.count(": warning: ") == 2
    assert "lint for Flux 2.9.4: 0 error(s), 2 warning(s)" in warn_only.stderr
    assert run_cli("lint", str(tmp_path), "--to", "2.9", "--strict").exit_code == 1
    assert run_cli("lint", str(tmp_path), "--to", "2.8").stdout == ""
    (tmp_path / "old.yaml").write_text(DOC.format(api="kustomize.toolkit.fluxcd.io/v1beta1", kind="Kustomization"))
    failed = run_cli("lint", str(tmp_path), "--to", "2.7.0")
    assert failed.exit_code == 1
    assert failed.stdout.startswith("old.yaml:1: error: kustomize.toolkit.fluxcd.io/v1beta1 Kustomization")
    bad = run_cli("lint", str(tmp_path), "--to", "1.0")
    assert bad.exit_code == 2
    assert "--to: Flux 1.0.0 is not documented here" in bad.stderr


@pytest.mark.parametrize(
    ("api", "kind", "first"),
    [
        ("source.toolkit.fluxcd.io/v1", "OCIRepository", 6),
        ("source.toolkit.fluxcd.io/v1", "Bucket", 4),
        ("source.extensions.fluxcd.io/v1beta1", "ArtifactGenerator", 7),
        ("source.toolkit.fluxcd.io/v1", "ExternalArtifact", 7),
        ("image.toolkit.fluxcd.io/v1beta2", "ImageUpdateAutomation", 3),
        ("image.toolkit.fluxcd.io/v1", "ImagePolicy", 7),
        ("helm.toolkit.fluxcd.io/v2", "HelmRelease", 3),
    ],
)
def test_api_versions_the_target_does_not_serve_yet(api: str, kind: str, first: int) -> None:
    text = DOC.format(api=api, kind=kind)
    assert lint_text("a.yaml", text, parse_version(f"2.{first}.0")) == []
    (finding,) = lint_text("a.yaml", text, parse_version(f"2.{first - 1}.0"))
    assert (
        str(finding)
        == f"a.yaml:1: error: {api} {kind} is served from Flux 2.{first} on, not by the target 2.{first - 1}.0"
    )


def test_receiver_v1_is_served_from_20_and_replacements_follow_the_history() -> None:
    receiver = DOC.format(api="notification.toolkit.fluxcd.io/v1", kind="Receiver")
    assert lint_text("r.yaml", receiver, parse_version("2.0.0")) == []
    old = DOC.format(api="image.toolkit.fluxcd.io/v1beta1", kind="ImageUpdateAutomation")
    (finding,) = lint_text("i.yaml", old, parse_version("2.7.0"))
    assert finding.message.endswith("then set apiVersion: image.toolkit.fluxcd.io/v1")


def test_build_inputs_follow_local_references_only(tmp_path: Path) -> None:
    from generator.flux.kustomize_refs import build_inputs

    _tree(
        tmp_path / "repo",
        {
            "a/kustomization.yaml": "resources:\n  - ../b\n  - https://github.com/org/repo//base?ref=v1\n"
            "  - github.com/org/repo/base\n  - ../../outside\ncomponents:\n  - ../c\n",
            "b/kustomization.yml": "resources:\n  - ../a\n  - svc.yaml\n",  # a cycle back to a
            "b/svc.yaml": "kind: Service\n",
            "c/Kustomization": "patchesStrategicMerge:\n  - p.yaml\ncrds:\n  - crd.yaml\n",
            "c/p.yaml": "kind: Deployment\n",
            "c/crd.yaml": "kind: CustomResourceDefinition\n",
            "c/unused.yaml": "kind: ConfigMap\n",
        },
    )
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "x.yaml").write_text("kind: Secret\n")
    found = build_inputs(tmp_path / "repo", "a")
    assert sorted(found.files) == ["b/svc.yaml", "c/crd.yaml", "c/p.yaml"]
    assert sorted(found.folders) == ["a", "b", "c"]
    assert build_inputs(tmp_path / "repo", "missing").files == set()


def test_real_paths_agree_with_path_resolve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The remembered real paths of the kustomize walk are exactly ``Path.resolve`` relative to the root:
    symlinks to folders inside and outside the repository, ``..`` after a symlink, missing components, a
    relative root; a symlink loop (where ``Path.resolve`` raises) is taken as written, not a crash."""
    from generator.flux.kustomize_refs import RealPaths

    repo = tmp_path / "repo"
    (repo / "apps" / "base").mkdir(parents=True)
    (repo / "apps" / "base" / "svc.yaml").write_text("kind: Service\n")
    (tmp_path / "outside" / "deep").mkdir(parents=True)
    (repo / "apps" / "link").symlink_to(repo / "apps" / "base")
    (repo / "apps" / "rel-link").symlink_to("base")
    (repo / "out").symlink_to(tmp_path / "outside" / "deep")
    (repo / "loop").symlink_to("loop")
    (tmp_path / "repo-link").symlink_to(repo)
    asked = [
        "",
        "apps",
        "apps/base/svc.yaml",
        "apps/link/svc.yaml",
        "apps/link/../base",
        "apps/rel-link/../../apps",
        "apps/../apps/./base",
        "out",
        "out/..",
        "out/../..",
        "../repo/apps",
        "missing/below/../x",
        "apps/base/svc.yaml/below",
    ]

    def expected(root: Path, rel: str) -> str | None:
        try:
            found = (root / rel).resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            return None
        return "" if found == "." else found

    for root in (repo, tmp_path / "repo-link"):
        real = RealPaths(root)
        for _ in range(2):  # asked again: from what it remembered
            assert [real.relative(root / rel) for rel in asked] == [expected(root, rel) for rel in asked]
    monkeypatch.chdir(tmp_path)
    relative_root = Path("repo")
    real = RealPaths(relative_root)
    assert [real.relative(relative_root / rel) for rel in asked] == [expected(relative_root, rel) for rel in asked]
    assert real.relative(relative_root / "loop" / "x") == "loop/x"
