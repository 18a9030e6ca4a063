"""The one strict Jinja environment and the one way to render a template with it.

Undefined names fail, output is byte-for-byte predictable (trailing newline kept, no autoescape: the
output is YAML and Bicep, not HTML), and a template error is a ``RenderError`` naming the template.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2

from generator.errors import RenderError
from generator.render.context import bicep_string, go_duration, yaml_scalar
from generator.resources import data_dir

__all__ = ["make_env", "render_template"]


@cache
def make_env() -> jinja2.Environment:
    """The strict template environment: undefined names fail, output is byte-for-byte predictable."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(data_dir("templates"))),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        auto_reload=False,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # noqa: S701 - YAML, not HTML
    )
    env.globals.clear()  # no range, dict, namespace, ...: the templates use none, and every render copies them
    env.filters["yq"] = yaml_scalar
    env.filters["go_duration"] = go_duration
    env.filters["bq"] = bicep_string
    return env


def render_template(name: str, **context: Any) -> str:
    """``templates/<name>`` rendered with ``context``; a ``RenderError`` naming the template on failure."""
    try:
        return make_env().get_template(name).render(**context)
    except jinja2.TemplateError as err:
        raise RenderError(f"template {name}: {err}") from err
