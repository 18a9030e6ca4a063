"""Build the wheel, install it into a fresh venv, and render the sample from there.

The venv sees the dependencies already installed for the interpreter running pytest (a ``.pth`` file
lists its site-packages, which works whether pytest itself runs in a venv or not) and gets the wheel
with ``--no-deps``, so no dependency is downloaded; the build itself uses ``python -m build``.
"""

from __future__ import annotations

import shutil
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from ruamel import yaml

from tests.helpers import REPO_ROOT

pytestmark = pytest.mark.slow

SAMPLE = REPO_ROOT / "sample-repo"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    build = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(REPO_ROOT)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    (wheel,) = dist.glob("fluxforge-*.whl")
    env_dir = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(system_site_packages=False, with_pip=False, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    # --system-site-packages would give the *base* interpreter's packages, not this venv's: list ours
    # after the new venv's own site-packages (plain path lines: the editable install's hook stays out)
    (purelib,) = (env_dir / "lib").glob("python3*/site-packages")
    (purelib / "_fluxforge_test_deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr
    return env_dir


def test_wheel_ships_templates_and_schemas_and_renders_the_sample(installed: Path, tmp_path: Path) -> None:
    python = installed / "bin" / "python"
    where = subprocess.run(
        [str(python), "-c", ("import generator, generator.resources as r; print(generator.__file__); "
         "print(r.data_dir('templates')); print(r.data_dir('schemas'))")],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    )  # fmt: skip
    module, templates, schemas = where.stdout.splitlines()
    for path in (module, templates, schemas):
        assert path.startswith(str(installed)), f"{path} does not come from the wheel"
    shutil.copy(SAMPLE / "fluxforge.yaml", tmp_path / "fluxforge.yaml")
    render = subprocess.run(
        [str(installed / "bin" / "fluxforge"), "render"], capture_output=True, text=True, check=False, cwd=tmp_path
    )
    assert render.returncode == 0, render.stderr
    rendered = {
        str(p.relative_to(tmp_path)): p.read_bytes()
        for p in tmp_path.rglob("*")
        if p.is_file() and p.name != "fluxforge.yaml"
    }
    # exactly the files the committed sample records as generated, and its lock
    listed = yaml.YAML(typ="safe").load((SAMPLE / "fluxforge.lock").read_text())["files"]
    assert sorted(rendered) == sorted([*listed, "fluxforge.lock"])
    assert len(listed) > 10
    for relpath, data in rendered.items():
        assert (SAMPLE / relpath).read_bytes() == data, relpath
