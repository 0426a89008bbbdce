"""The Jinja environment of the pages: TeX-friendly delimiters, filters registered once.

Templates are looked up in the given folders first (a user's overrides), then in derive's own
`templates/`; they receive plain strings and numbers only (see `present.view`).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from .escape import escape_html, escape_latex, escape_markdown

_PACKAGE = Path(__file__).resolve().parents[1]
TEMPLATES = (_PACKAGE / "templates" if (_PACKAGE / "templates").is_dir()
             else _PACKAGE.parent / "templates")
"""derive's templates: inside the installed package (a wheel maps the project's top-level
templates/ folder there), else beside the package (a checkout, an editable install)."""


@cache
def environment(overrides: tuple[Path, ...] = ()) -> jinja2.Environment:
    """Jinja with `((* *))`, `((( )))`, `((= =))` so templates never clash with TeX braces."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([*overrides, TEMPLATES]),
        block_start_string="((*", block_end_string="*))",
        variable_start_string="(((", variable_end_string=")))",
        comment_start_string="((=", comment_end_string="=))",
        undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters.update(escape_latex=escape_latex, escape_markdown=escape_markdown,
                       escape_html=escape_html)
    return env


def render(template: str, overrides: tuple[Path, ...] = (), **context: Any) -> str:
    """One template rendered with the given context."""
    return environment(overrides).get_template(template).render(**context)
