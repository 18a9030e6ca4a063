"""The one Jinja environment: every template parses, and none needs one of Jinja's default globals (the
environment has none: each render would copy them into its context)."""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2 import meta

from generator.render.templates import make_env
from generator.resources import data_dir

JINJA_DEFAULT_GLOBALS = {"range", "dict", "lipsum", "cycler", "joiner", "namespace"}
TEMPLATES = sorted(p for p in Path(data_dir("templates")).rglob("*.j2"))


def test_the_templates_are_found() -> None:
    assert len(TEMPLATES) > 10
    assert any(p.name == "kustomization.yaml.j2" for p in TEMPLATES)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_no_template_needs_a_default_global(template: Path) -> None:
    env = make_env()
    assert not env.globals
    names = meta.find_undeclared_variables(env.parse(template.read_text(encoding="utf-8")))
    assert not names & JINJA_DEFAULT_GLOBALS
