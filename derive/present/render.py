"""The Jinja environment of the pages: TeX-friendly delimiters, filters registered once.

Templates are looked up in the given folders first (a user's overrides), then in derive's own
`templates/`; they receive plain strings and numbers only (see `present.view`).
"""

from __future__ import annotations

import html
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from .latex import escape_latex

_PACKAGE = Path(__file__).resolve().parents[1]
TEMPLATES = (_PACKAGE / "templates" if (_PACKAGE / "templates").is_dir()
             else _PACKAGE.parent / "templates")
"""derive's templates: inside the installed package (a wheel maps the project's top-level
templates/ folder there), else beside the package (a checkout, an editable install)."""

_MARKDOWN_SPECIALS = re.compile(r"[\\`*_{}\[\]()#+\-!|$~<>&]")


def escape_markdown(text: str) -> str:
    """Text from an example file, shown literally: every Markdown, math and HTML special
    character becomes a numeric entity (backslashes would read as math delimiters)."""
    return _MARKDOWN_SPECIALS.sub(lambda m: f"&#{ord(m.group())};", text)


def escape_html(text: str) -> str:
    """Text for an HTML attribute or a YAML front-matter string (quoted, HTML-escaped; any
    Unicode kept as itself, since YAML would drop the halves of an escaped emoji)."""
    return json.dumps(html.escape(text), ensure_ascii=False)


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
