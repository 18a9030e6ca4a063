"""A fleet's clusters rendered by fluxforge and forked copies of it (``each_cluster``: the encrypt batches'
``generator.sops.batch``) give the tree one process gives, byte for byte, for ``render`` and ``upgrade``;
a small fleet or ``FLUXFORGE_JOBS=1`` uses one process."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.commands.render import each_cluster, run_render
from generator.config.load import parse_config
from generator.errors import UsageError
from generator.render.files import render_tree
from generator.sops import batch
from tests.render.test_render_writes import _fleet, _tree

SMALL = _fleet(2, 3)
FLEET = _fleet(40, 6)  # 240 Kustomizations: two processes on a machine with two cores


def test_every_cluster_is_rendered_once_in_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLUXFORGE_JOBS", "2")
    config = parse_config(FLEET)
    forked: list[int] = []
    in_order = batch.in_order
    monkeypatch.setattr(
        batch, "in_order", lambda items, work, jobs: (forked.append(jobs), in_order(items, work, jobs))[1]
    )
    assert render_tree(config, each=each_cluster(config)) == render_tree(config)
    assert forked == [2]
    monkeypatch.setenv("FLUXFORGE_JOBS", "1")
    assert each_cluster(config) is map
    monkeypatch.setenv("FLUXFORGE_JOBS", "4")
    assert each_cluster(parse_config(SMALL)) is map  # 6 Kustomizations: not worth a process
    monkeypatch.setenv("FLUXFORGE_JOBS", "two")
    with pytest.raises(UsageError, match="FLUXFORGE_JOBS"):
        each_cluster(config)


def test_render_in_processes_writes_the_tree_one_process_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trees = {}
    for jobs in ("1", "2"):
        root = tmp_path / jobs
        root.mkdir()
        (root / "fluxforge.yaml").write_text(FLEET)
        monkeypatch.setenv("FLUXFORGE_JOBS", jobs)
        report = run_render(root / "fluxforge.yaml")
        assert len(report.written) > 40 * 6
        trees[jobs] = _tree(root)
    assert trees["1"] == trees["2"]
