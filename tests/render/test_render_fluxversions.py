from __future__ import annotations

import pytest

from generator.flux.versions import (
    NEWEST,
    FluxVersion,
    api_versions,
    features_for,
    parse_version,
    removed_apis_between,
)


@pytest.mark.parametrize("text", ["2.6.4", "v2.6.4", " 2.6.4 "])
def test_parse_version_accepts_tag_and_plain(text: str) -> None:
    assert parse_version(text) == FluxVersion(2, 6, 4)
    assert parse_version(text).tag == "v2.6.4"


@pytest.mark.parametrize("text", ["2.6", "latest", "2.6.4-rc.1", ""])
def test_parse_version_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="MAJOR.MINOR.PATCH"):
        parse_version(text)


@pytest.mark.parametrize("text", ["1.9.0", "2.10.0", "3.0.0"])
def test_features_outside_documented_range(text: str) -> None:
    with pytest.raises(ValueError, match=r"2\.0\.0 to 2\.9\.x"):
        features_for(text)


def test_legacy_workload_identity_form() -> None:
    f = features_for("2.5.1")
    assert f.workload_identity.service_account_use_label
    assert f.workload_identity.deployment_use_label
    assert not f.workload_identity.tenant_id_annotation
    assert not f.object_level_identity
    assert f.kustomize_controller == "1.5"


def test_current_workload_identity_form() -> None:
    f = features_for("2.6.0")
    assert f.workload_identity.tenant_id_annotation
    assert not f.workload_identity.service_account_use_label
    assert not f.workload_identity.deployment_use_label
    assert f.object_level_identity
    assert not f.default_decryption_service_account
    assert features_for("2.7.0").default_decryption_service_account


def test_api_versions_per_range() -> None:
    assert api_versions(parse_version("2.2.0"))["HelmRelease"] == "helm.toolkit.fluxcd.io/v2beta2"
    assert api_versions(parse_version("2.3.0"))["HelmRelease"] == "helm.toolkit.fluxcd.io/v2"
    assert api_versions(parse_version("2.5.0"))["OCIRepository"] == "source.toolkit.fluxcd.io/v1beta2"
    assert api_versions(NEWEST)["OCIRepository"] == "source.toolkit.fluxcd.io/v1"
    assert api_versions(NEWEST)["Alert"] == "notification.toolkit.fluxcd.io/v1beta3"
    assert api_versions(parse_version("2.0.0"))["Kustomization"] == "kustomize.toolkit.fluxcd.io/v1"


def test_removed_apis_between() -> None:
    removed = removed_apis_between(parse_version("2.6.0"), parse_version("2.8.1"))
    pairs = {(r.kind, r.api_version, r.removed_in) for r in removed}
    assert ("Kustomization", "kustomize.toolkit.fluxcd.io/v1beta1", "2.7") in pairs
    assert ("HelmRelease", "helm.toolkit.fluxcd.io/v2beta2", "2.8") in pairs
    assert not any(r.removed_in == "2.9" for r in removed)
    assert removed_apis_between(parse_version("2.8.0"), parse_version("2.8.3")) == []
