"""The boundaries DESIGN.md promises, read from the imports of every module of the package.

Each rule names the modules allowed to import something; a new import elsewhere fails here with the
module and the line, so a boundary is moved on purpose (and DESIGN.md with it), never by accident.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT

PACKAGE = REPO_ROOT / "generator"


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _name(path: Path) -> str:
    return ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts).removesuffix(".__init__")


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """Every module an ``import``/``from … import`` names (function-level imports included), with its line."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.lineno, node.module
            yield from ((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)


def _violations(imported: str, allowed: set[str]) -> list[str]:
    found = []
    for path in _modules():
        if _name(path) in allowed:
            continue
        found += [
            f"{path.relative_to(REPO_ROOT)}:{line}: imports {name}"
            for line, name in _imports(path)
            if name == imported or name.startswith(imported + ".")
        ]
    return sorted(set(found))


@pytest.mark.parametrize(
    ("imported", "allowed"),
    [
        # generator.runner, the CLI's click-free half, loads click's ANSI stripping for a line holding an escape
        ("click", {"generator.cli", "generator.cli.commands", "generator.cli.hook_commands", "generator.runner"}),
        ("pygit2", {"generator.gitrepo"}),
        ("azure.identity", {"generator.sops.keys.azure_kv"}),
        ("azure.keyvault", {"generator.sops.keys.azure_kv"}),
        ("azure.core", {"generator.sops.keys.azure_kv", "generator.azure.arm"}),
        ("azure.mgmt", {"generator.azure.arm"}),
        ("jinja2", {"generator.render.templates"}),
        ("jsonschema", {"generator.config.load", "generator.config.problems"}),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_a_library_is_imported_only_at_its_edge(imported: str, allowed: set[str]) -> None:
    assert _violations(imported, allowed) == []


def test_outside_the_sops_package_only_its_api_is_imported() -> None:
    """``generator.sops.api`` is the one door into the SOPS engine: check, hook, lint and the CLI use the
    engine's own definitions (selectors, ENC values, key kinds) through it, never a copy or a module behind it."""
    found = []
    for path in _modules():
        if _name(path).startswith("generator.sops"):
            continue
        found += [
            f"{path.relative_to(REPO_ROOT)}:{line}: imports {name}"
            for line, name in _imports(path)
            if name.startswith("generator.sops.") and not name.startswith("generator.sops.api")
        ]
    assert found == []


def test_one_yaml_factory() -> None:
    """Only ``yamlio`` constructs ``ruamel.yaml.YAML()``: every reader and writer shares its configuration."""
    found = []
    for path in _modules():
        if _name(path) == "generator.yamlio":
            continue
        found.extend(
            f"{path.relative_to(REPO_ROOT)}:{node.lineno}"
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Call)
            and "YAML" in (getattr(node.func, "id", None), getattr(node.func, "attr", None))
        )
    assert found == []


def test_the_top_level_of_the_package_stays_small() -> None:
    """Concepts live in sub-packages (config, render, merge, flux, check, commands, sops, azure, …); the top
    level keeps the CLI and the shared edges (at most 12 modules besides ``__init__``/``__main__``)."""
    top = sorted(p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py"))
    assert len(top) <= 12, top


# The measure of dense code: radon's cyclomatic complexity (branches, loops, boolean operators and
# comprehension conditions). Above 10 a function is a candidate for named steps. BUDGET is how many are
# left; it only goes down: split a function rather than raise it. Above 20 only the functions named here.
COMPLEXITY_LIMIT = 10
COMPLEXITY_BUDGET = 7
COMPLEXITY_CEILING = 20
ABOVE_CEILING: dict[str, int] = {}


def _complexities() -> dict[str, int]:
    from radon.complexity import cc_visit
    from radon.visitors import Function

    return {
        f"{path.relative_to(REPO_ROOT).as_posix()}:{block.fullname}": block.complexity
        for path in _modules()
        for block in cc_visit(path.read_text(encoding="utf-8"))
        if isinstance(block, Function)
    }


def test_dense_functions_stay_within_the_budget() -> None:
    found = _complexities()
    dense = sorted(f"{name} ({cc})" for name, cc in found.items() if cc > COMPLEXITY_LIMIT)
    assert len(dense) <= COMPLEXITY_BUDGET, dense
    too_dense = {name: cc for name, cc in found.items() if cc > COMPLEXITY_CEILING}
    assert all(cc <= ABOVE_CEILING.get(name, COMPLEXITY_CEILING) for name, cc in too_dense.items()), too_dense
