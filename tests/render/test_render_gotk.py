from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from generator.config.load import parse_config
from generator.errors import RenderError
from generator.flux.gotk import header_mismatches, parse_header, read_header
from generator.flux.versions import FluxVersion
from tests.helpers import FIXTURES, SAMPLE_REPO

FIXTURE = FIXTURES / "gotk-components.yaml"
SAMPLE = (SAMPLE_REPO / "fluxforge.yaml").read_text(encoding="utf-8")


def test_reads_the_flux_install_header() -> None:
    header = read_header(FIXTURE)
    assert header is not None
    assert header.version == FluxVersion(2, 9, 4)
    assert header.components == (
        "source-controller",
        "kustomize-controller",
        "helm-controller",
        "notification-controller",
    )


def test_absent_file_and_missing_lines() -> None:
    assert read_header(Path("/nonexistent/gotk-components.yaml")) is None
    header = parse_header("---\napiVersion: v1\nkind: Namespace\n")
    assert header.version is None and header.components is None
    assert parse_header("# Flux Version: vNext\n").version is None


def test_matching_header_is_silent_and_missing_header_is_reported(tmp_path: Path) -> None:
    config = parse_config(SAMPLE)
    folder = tmp_path / "clusters/staging/flux-system"
    folder.mkdir(parents=True)
    (folder / "gotk-components.yaml").write_bytes(FIXTURE.read_bytes())
    assert header_mismatches(config, tmp_path) == []
    (folder / "gotk-components.yaml").write_text("---\napiVersion: v1\n")
    assert header_mismatches(config, tmp_path) == [
        (
            "clusters/staging/flux-system/gotk-components.yaml: no '# Flux Version:' header; "
            "regenerate it with `flux install --export`"
        )
    ]


def test_extra_component_is_named(tmp_path: Path) -> None:
    config = parse_config(SAMPLE)
    folder = tmp_path / "clusters/production/flux-system"
    folder.mkdir(parents=True)
    text = FIXTURE.read_text().replace("notification-controller\n", "notification-controller,source-watcher\n", 1)
    (folder / "gotk-components.yaml").write_text(text)
    assert header_mismatches(config, tmp_path) == [
        (
            "clusters/production/flux-system/gotk-components.yaml: components differ from flux.components "
            "(not in flux.components: source-watcher)"
        )
    ]


def test_unreadable_components_file_is_a_clean_error_naming_the_path(tmp_path: Path, run_cli) -> None:
    """A folder where gotk-components.yaml belongs, or a file where its folder belongs: exit 1, the path
    named, no traceback (was exit 3), for render and upgrade alike."""
    repo = tmp_path / "repo"
    shutil.copytree(SAMPLE_REPO, repo)
    gotk = repo / "clusters/staging/flux-system/gotk-components.yaml"
    gotk.unlink(missing_ok=True)
    gotk.mkdir()
    for args in (("render", str(repo)), ("render", str(repo), "--check"), ("upgrade", str(repo), "--dry-run")):
        result = run_cli(*args)
        assert result.exit_code == 1, (args, result.output)
        assert result.stderr == f"{gotk}: is a folder, but `flux install --export` writes a file there\n", args
    gotk.rmdir()
    gotk.write_text("# Flux Version: v2.5.1\n")
    with pytest.raises(RenderError, match=r"gotk-components.yaml/x: a folder on this path is a file; move it away"):
        read_header(gotk / "x")
