"""Unit tests of the YAML three-way merge (base = last generated, ours = user file, theirs = new render)."""

from __future__ import annotations

import textwrap

import pytest

from generator.merge.layout import layout_of
from generator.merge.text import merge_text, split_documents
from generator.yamlio import dump_rt, load_rt
from tests.helpers.user_patches import LIMITS_PATCH


def d(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


KUST_25 = d("""
    apiVersion: kustomize.config.k8s.io/v1beta1
    kind: Kustomization
    resources:
      - gotk-components.yaml
      - gotk-sync.yaml
    patches:
      - target:
          kind: ServiceAccount
          name: kustomize-controller
        patch: |
          apiVersion: v1
          kind: ServiceAccount
          metadata:
            name: kustomize-controller
            annotations:
              azure.workload.identity/client-id: 11111111-1111-1111-1111-111111111111
            labels:
              azure.workload.identity/use: "true"
      - target:
          kind: Deployment
          name: kustomize-controller
        patch: |
          apiVersion: apps/v1
          kind: Deployment
          metadata:
            name: kustomize-controller
            labels:
              azure.workload.identity/use: "true"
          spec:
            template:
              metadata:
                labels:
                  azure.workload.identity/use: "true"
    """)

KUST_26 = d("""
    apiVersion: kustomize.config.k8s.io/v1beta1
    kind: Kustomization
    resources:
      - gotk-components.yaml
      - gotk-sync.yaml
    patches:
      - target:
          kind: ServiceAccount
          name: kustomize-controller
        patch: |
          apiVersion: v1
          kind: ServiceAccount
          metadata:
            name: kustomize-controller
            annotations:
              azure.workload.identity/client-id: 11111111-1111-1111-1111-111111111111
              azure.workload.identity/tenant-id: 22222222-2222-2222-2222-222222222222
      - target:
          kind: Deployment
          name: kustomize-controller
        patch: |
          apiVersion: apps/v1
          kind: Deployment
          metadata:
            name: kustomize-controller
          spec:
            template:
              metadata:
                labels:
                  azure.workload.identity/use: "true"
      - target:
          kind: Deployment
          name: kustomize-controller
        patch: |
          - op: add
            path: /spec/template/spec/containers/0/args/-
            value: --feature-gates=ObjectLevelWorkloadIdentity=true
    """)

LIMITS = "  # our own: more memory for big repos\n" + LIMITS_PATCH


def test_trivial_cases() -> None:
    assert merge_text("a: 1\n", "a: 1\n", "a: 2\n").text == "a: 2\n"
    assert merge_text("a: 1\n", "a: 3\n", "a: 1\n").text == "a: 3\n"
    assert merge_text("a: 1\n", "a: 3\n", "a: 3\n").text == "a: 3\n"
    assert merge_text(None, None, "a: 1\n").text == "a: 1\n"
    assert merge_text("a: 1\n", "a: 1\n", None).text is None


def test_disjoint_key_changes_merge_and_keep_comments() -> None:
    base = "a: 1  # one\nb: 2\nc: 3\n"
    ours = "# mine\na: 1  # one\nb: 5  # I changed this\nc: 3\nmine: x\n"
    theirs = "a: 10\nb: 2\nc: 3\nnew: y\n"
    merged = merge_text(base, ours, theirs)
    assert merged.clean
    assert merged.text == "# mine\na: 10 # one\nb: 5  # I changed this\nc: 3\nmine: x\nnew: y\n"


def test_same_key_changed_differently_is_a_conflict_with_path() -> None:
    base = "spec:\n  interval: 10m\n"
    merged = merge_text(base, "spec:\n  interval: 5m\n", "spec:\n  interval: 1h\n")
    assert [c.path for c in merged.conflicts] == ["spec.interval"]
    line = merged.conflicts[0].line("clusters/a/apps.yaml")
    assert line.startswith("clusters/a/apps.yaml: spec.interval: conflict: your file has '5m'")
    assert "'1h'" in line
    assert merged.text == "spec:\n  interval: 5m\n"


def test_modified_vs_deleted_conflicts_both_ways() -> None:
    deleted_by_upgrade = merge_text("a: 1\nb: 2\n", "a: 1\nb: 3\n", "a: 1\n")
    assert [c.path for c in deleted_by_upgrade.conflicts] == ["b"]
    deleted_by_user = merge_text("a: 1\nb: 2\n", "a: 1\n", "a: 1\nb: 4\n")
    assert [c.path for c in deleted_by_user.conflicts] == ["b"]
    # untouched deletions simply apply
    assert merge_text("a: 1\nb: 2\nc: 1\n", "a: 1\nb: 2\nc: 2\n", "a: 1\nc: 1\n").text == "a: 1\nc: 2\n"
    assert merge_text("a: 1\nb: 2\nc: 1\n", "a: 1\nc: 1\n", "a: 1\nb: 2\nc: 5\n").text == "a: 1\nc: 5\n"


def test_wi_patches_follow_the_new_form_and_user_patch_survives() -> None:
    ours = KUST_25 + LIMITS
    merged = merge_text(KUST_25, ours, KUST_26)
    assert merged.clean, merged.conflicts
    assert merged.text is not None
    # the generated part is exactly the new render, the user's patch (and its comment) follow unchanged
    gate = KUST_26[
        KUST_26.index(
            "  - target:\n      kind: Deployment\n      name: kustomize-controller\n    patch: |\n      - op"
        ) :
    ]
    assert merged.text == KUST_26[: len(KUST_26) - len(gate)] + LIMITS + gate


def test_user_patch_first_in_list_still_matched_by_identity() -> None:
    head, patches = KUST_25.split("patches:\n")
    ours = head + "patches:\n" + LIMITS + patches
    merged = merge_text(KUST_25, ours, KUST_26)
    assert merged.clean
    assert merged.text is not None
    assert merged.text.startswith(head + "patches:\n" + LIMITS)
    assert "tenant-id: 22222222" in merged.text
    assert merged.text.count("azure.workload.identity/use") == 1
    assert merged.text.endswith("value: --feature-gates=ObjectLevelWorkloadIdentity=true\n")


def test_reordered_list_keeps_user_order() -> None:
    base = "resources:\n  - a.yaml\n  - b.yaml\n  - c.yaml\n"
    ours = "resources:\n  - c.yaml\n  - a.yaml\n  - b.yaml\n"
    theirs = "resources:\n  - a.yaml\n  - b.yaml\n  - c.yaml\n  - d.yaml\n"
    assert merge_text(base, ours, theirs).text == "resources:\n  - c.yaml\n  - a.yaml\n  - b.yaml\n  - d.yaml\n"
    theirs_mid = "resources:\n  - a.yaml\n  - x.yaml\n  - b.yaml\n  - c.yaml\n"
    assert merge_text(base, ours, theirs_mid).text == ("resources:\n  - c.yaml\n  - a.yaml\n  - x.yaml\n  - b.yaml\n")
    theirs_drop = "resources:\n  - a.yaml\n  - c.yaml\n"
    assert merge_text(base, ours, theirs_drop).text == "resources:\n  - c.yaml\n  - a.yaml\n"


def test_edit_inside_generated_patch_merges_with_new_form() -> None:
    ours = KUST_25.replace(
        "    name: kustomize-controller\n        annotations:",
        "    name: kustomize-controller\n        namespace: flux-system\n        annotations:",
        1,
    )
    assert ours != KUST_25
    merged = merge_text(KUST_25, ours, KUST_26)
    assert merged.clean, merged.conflicts
    assert merged.text is not None
    sa_patch = merged.text.split("kind: ServiceAccount\n")[2]
    assert "namespace: flux-system" in sa_patch
    assert "tenant-id: 22222222" in sa_patch
    assert "azure.workload.identity/use" not in sa_patch.split("- target:")[0]


def test_conflict_inside_embedded_patch_names_the_inner_path() -> None:
    ours = KUST_25.replace(
        "client-id: 11111111-1111-1111-1111-111111111111", "client-id: 33333333-3333-3333-3333-333333333333"
    )
    theirs = KUST_26.replace(
        "client-id: 11111111-1111-1111-1111-111111111111", "client-id: 44444444-4444-4444-4444-444444444444"
    )
    merged = merge_text(KUST_25, ours, theirs)
    assert [c.path for c in merged.conflicts] == [
        'patches[ServiceAccount/kustomize-controller].patch:metadata.annotations["azure.workload.identity/client-id"]'
    ]
    assert merged.text is not None
    # the conflicting value keeps the user's side, the rest of the upgrade is applied
    assert "client-id: 33333333" in merged.text
    assert "tenant-id: 22222222" in merged.text
    forced = merge_text(KUST_25, ours, theirs, force=True)
    assert forced.conflicts == merged.conflicts
    assert forced.text == theirs


def test_deleted_generated_patch_stays_deleted_unless_changed() -> None:
    head, _rest = KUST_25.split("  - target:\n      kind: Deployment")
    ours = head.rstrip("\n") + "\n"  # user removed the Deployment patch
    merged = merge_text(KUST_25, ours, KUST_25.replace("gotk-sync.yaml", "gotk-sync.yaml\n  - extra.yaml"))
    assert merged.clean
    assert "kind: Deployment" not in (merged.text or "")
    assert "extra.yaml" in (merged.text or "")
    changed = merge_text(KUST_25, ours, KUST_26)
    assert any(c.path == "patches[Deployment/kustomize-controller]" for c in changed.conflicts)


MULTI_BASE = d("""
    # This manifest was generated by flux. DO NOT EDIT.
    ---
    apiVersion: source.toolkit.fluxcd.io/v1
    kind: GitRepository
    metadata:
      name: flux-system
      namespace: flux-system
    spec:
      interval: 1m0s
    ---
    apiVersion: kustomize.toolkit.fluxcd.io/v1
    kind: Kustomization
    metadata:
      name: flux-system
      namespace: flux-system
    spec:
      interval: 10m0s
    """)


def test_multi_document_streams_match_documents_by_kind_and_name() -> None:
    assert "".join(h + b for h, b in split_documents(MULTI_BASE)) == MULTI_BASE
    assert len(split_documents(MULTI_BASE)) == 3
    ours = MULTI_BASE.replace("interval: 10m0s", "interval: 5m0s  # faster")
    theirs = MULTI_BASE.replace("interval: 1m0s", "interval: 2m0s")
    merged = merge_text(MULTI_BASE, ours, theirs)
    assert merged.clean
    assert merged.text == ours.replace("interval: 1m0s", "interval: 2m0s")
    extra = "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: mine\n"
    theirs_new = theirs + "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: new\n"
    merged2 = merge_text(MULTI_BASE, ours + extra, theirs_new)
    assert merged2.text == ours.replace("interval: 1m0s", "interval: 2m0s") + extra + (
        "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: new\n"
    )


def test_no_base_is_conservative() -> None:
    merged = merge_text(None, "a: 1\nmine: 2\n", "a: 3\nnew: 4\n")
    assert [c.path for c in merged.conflicts] == ["a"]
    assert merged.text == "a: 1\nmine: 2\nnew: 4\n"


def test_comment_before_deleted_key_is_kept() -> None:
    base = "a: 1\nb: 2\nc: 3\n"
    ours = "a: 1\n# about b\nb: 2\n# about c\nc: 3\n"
    theirs = "a: 1\nc: 3\n"
    assert merge_text(base, ours, theirs).text == "a: 1\n# about b\n# about c\nc: 3\n"


def test_comment_at_end_stays_at_end_when_a_key_is_appended() -> None:
    base = "a: 1\n"
    ours = "a: 1\n# the end\n"
    assert merge_text(base, ours, "a: 1\nb: 2\n").text == "a: 1\nb: 2\n# the end\n"


def test_unparseable_user_file_is_a_conflict_not_a_crash() -> None:
    merged = merge_text("a: 1\n", "a: [1\n", "a: 2\n")
    assert merged.text == "a: [1\n"
    assert merged.conflicts and "cannot read" in merged.conflicts[0].ours


@pytest.mark.parametrize("sep", ["---\n", "--- # doc\n"])
def test_split_documents_round_trips(sep: str) -> None:
    text = f"a: 1\n{sep}b: 2\n{sep}"
    assert "".join(h + b for h, b in split_documents(text)) == text


def test_both_sides_add_the_same_patch_once() -> None:
    gate = (
        "  - target:\n      kind: Deployment\n      name: x\n"
        "    patch: |\n      - op: add\n        path: /a/-\n        value: b\n"
    )
    base = "patches:\n  - target:\n      kind: ServiceAccount\n      name: x\n    patch: |\n      a: 1\n"
    merged = merge_text(base, base + gate, base + gate)
    assert merged.text == base + gate
    twice = merge_text(base, base + gate, base.replace("a: 1", "a: 2") + gate)
    assert twice.clean
    assert twice.text == base.replace("a: 1", "a: 2") + gate


def test_lists_without_identity_are_merged_whole() -> None:
    base = "m:\n  - [1, 2]\n  - [3]\n"
    assert merge_text(base, base, "m:\n  - [1, 2]\n  - [4]\n").text == "m:\n  - [1, 2]\n  - [4]\n"
    assert merge_text(base, "m:\n  - [9]\n", base).text == "m:\n  - [9]\n"
    clash = merge_text(base, "m:\n  - [9]\n", "m:\n  - [8]\n")
    assert [c.path for c in clash.conflicts] == ["m"]
    assert "a different list" in clash.conflicts[0].line("f")


def test_type_change_on_one_side_applies_and_on_both_conflicts() -> None:
    assert merge_text("a: {b: 1}\n", "a: {b: 1}\n", "a: text\n").text == "a: text\n"
    both = merge_text("a: {b: 1}\n", "a: [1]\n", "a: text\n")
    assert [c.path for c in both.conflicts] == ["a"]


def test_containers_matched_by_name_not_index() -> None:
    base = d("""
        containers:
          - name: manager
            image: kc:v1.5.0
          - name: sidecar
            image: s:1
        """)
    ours = d("""
        containers:
          - name: sidecar
            image: s:2   # bumped by us
          - name: manager
            image: kc:v1.5.0
        """)
    theirs = base.replace("kc:v1.5.0", "kc:v1.9.4")
    merged = merge_text(base, ours, theirs)
    assert merged.clean
    assert merged.text == ours.replace("kc:v1.5.0", "kc:v1.9.4")


def test_comment_before_a_removed_list_item_moves_up() -> None:
    base = "l:\n  - a\n  - b\n  - c\n"
    ours = "l:\n  - a\n  - b  # bee\n  # keep c last\n  - c\n"
    merged = merge_text(base, ours, "l:\n  - a\n  - c\n")
    assert merged.text == "l:\n  - a\n  # keep c last\n  - c\n"


def test_header_comment_follows_the_render_unless_edited() -> None:
    base = "# Flux 2.5.1\nkind: K\nspec: 1\n"
    theirs = "# Flux 2.9.4\nkind: K\nspec: 1\n"
    assert merge_text(base, "# Flux 2.5.1\nkind: K\nspec: 2\n", theirs).text == "# Flux 2.9.4\nkind: K\nspec: 2\n"
    kept = merge_text(base, "# mine\nkind: K\nspec: 2\n", theirs)
    assert kept.text == "# mine\nkind: K\nspec: 2\n"


@pytest.mark.parametrize("layout", [(2, 2, 0), (4, 6, 4), (2, 4, 2), (4, 4, 2)])
def test_merged_file_keeps_the_users_indentation(layout: tuple[int, int, int]) -> None:
    """A file re-indented by the user (e.g. `kustomize edit` writes unindented lists) keeps its layout."""
    ours = dump_rt(load_rt(KUST_25 + LIMITS), indent=layout)
    theirs = KUST_26[: KUST_26.rindex("  - target:")]  # the 2.6 form without the object-level gate
    expected = dump_rt(load_rt(theirs + LIMITS), indent=layout)
    assert ours != KUST_25 + LIMITS or layout == (2, 4, 2)
    merged = merge_text(KUST_25, ours, theirs)
    assert merged.clean
    assert layout_of(ours) == layout
    assert merged.text == expected
