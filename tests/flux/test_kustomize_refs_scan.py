"""What a build of a folder without a kustomization file reads (kustomize-controller's generated
kustomization: every manifest below it, a sub-folder with its own kustomization file as one resource),
on a tree with the shapes a listing must not get wrong: symlinks to folders and files, a broken symlink, a
symlink loop, hidden and dotted names, ``.git``, and a nested kustomization."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from hypothesis import given
from hypothesis import strategies as st

from generator.flux.kustomize_refs import RealPaths, _suffix, build_inputs
from generator.render.index import Watch


def _tree(root: Path) -> None:
    app = root / "apps" / "web"
    for name in ("a.yaml", "b.yml", "c.json", "d.txt", ".hidden.yaml", "..yaml", "e.", "F.YAML", "g.yaml.bak"):
        (app / name).parent.mkdir(parents=True, exist_ok=True)
        (app / name).write_text("kind: ConfigMap\n")
    (app / "sub" / "deeper").mkdir(parents=True)
    (app / "sub" / "deeper" / "h.yaml").write_text("kind: ConfigMap\n")
    (app / "nested").mkdir()
    (app / "nested" / "kustomization.yaml").write_text("resources: [i.yaml]\n")
    (app / "nested" / "i.yaml").write_text("kind: ConfigMap\n")
    (app / ".git").mkdir()
    (app / ".git" / "j.yaml").write_text("kind: ConfigMap\n")
    (root / "shared").mkdir()
    (root / "shared" / "k.yaml").write_text("kind: ConfigMap\n")
    (app / "to-shared").symlink_to("../../shared")
    (app / "l.yaml").symlink_to("a.yaml")
    (app / "broken.yaml").symlink_to("missing.yaml")
    (app / "loop.yaml").symlink_to("loop.yaml")


def test_a_generated_kustomization_reads_every_manifest_below_its_folder(tmp_path: Path) -> None:
    _tree(tmp_path)
    watch = Watch()
    real = RealPaths(tmp_path, see=watch.see)
    found = build_inputs(tmp_path, "apps/web", real)
    web = "apps/web"
    assert found.files == {
        f"{web}/{name}" for name in ("a.yaml", "b.yml", "c.json", "..yaml", ".hidden.yaml", "sub/deeper/h.yaml")
    } | {"shared/k.yaml", f"{web}/nested/i.yaml"}  # l.yaml is a.yaml; F.YAML: suffixes are case-sensitive
    assert found.folders == {web, f"{web}/sub", f"{web}/sub/deeper", f"{web}/nested", "shared"}
    assert real.linked
    seen = {os.path.relpath(path, tmp_path) for path in watch.paths}
    assert {f"{web}/sub", f"{web}/sub/deeper", f"{web}/nested", f"{web}/to-shared"} <= seen
    assert f"{web}/.git" not in seen


@given(st.text(alphabet="ab.-_ ", max_size=8).filter(lambda name: name not in {"", ".", ".."}))
def test_suffix_is_paths_suffix(name: str) -> None:
    assert _suffix(name) == PurePosixPath(name).suffix
