"""A worked example in a notebook: the page as Markdown, one quantity or the whole document as
LaTeX, ready to paste.

Jupyter renders Markdown as CommonMark with GitHub's extensions, not as MkDocs does, so example
text is escaped for it here (see `escape_notebook`) and the figures come inline, as images
whose source is the SVG itself (a notebook has no files beside it; JupyterLab's sanitizer of
untrusted output keeps an image but drops an inline `<svg>`).
"""

from __future__ import annotations

import base64
import html
import re
from functools import cache

import jinja2

from ..errors import DeriveError
from ..site.blocks import FORMS, Block, _render
from ..spec import MAX_PRECISION
from ..worked import WorkedExample
from .figures import diagram_alt, loss_alt, loss_curve, network_diagram
from .options import DEFAULTS, RenderOptions
from .pages import document
from .render import environment
from .view import view

_INLINE = {"\\": "&#92;", "$": "&#36;", "<": "&lt;", "&": "&amp;", "~": "&#126;",
           **{c: "\\" + c for c in "`*[]#"}}
"""Characters that are markup anywhere in a line, and how each shows as itself: a backslash
escape where both CommonMark and Python-Markdown honour one; `\\` and `$` as entities that the
page template puts in elements of their own (Jupyter's MathJax reads a cell's text after
Markdown, entities decoded, and finds no delimiter split across elements); `~` (GitHub's
strikethrough), which Python-Markdown cannot escape, as an entity."""
_SPECIAL = re.compile(r"_+|[\\$<&~`*\[\]#]")
_LINE_START = re.compile(r"^[ \t]*(?:(\d+)([.)])|([-+>=]))?", re.MULTILINE)
"""Indentation (indented code), and what opens a block at a line's start: a numbered or bulleted
item, a quote, or (with `-`, `=`) a setext underline or a rule."""
_RULE = re.compile(r"^[ \t]*[-=:|][-=:| \t]*$", re.MULTILINE)
"""A line that could underline a heading, draw a rule or start a table's body."""


class Latex(str):
    """LaTeX source that Jupyter shows typeset (`_repr_latex_`); `str()` is the source itself."""

    __slots__ = ()

    def _repr_latex_(self) -> str:
        return f"$$\n{self}\n$$"


def escape_notebook(text: str) -> str:
    """Example text for a notebook's Markdown, shown as written: ordinary characters stay
    themselves (`2-3-1` is `2-3-1`), only what would be markup is escaped, and no line opens a
    Markdown block."""
    escaped = _SPECIAL.sub(_inline, text)
    escaped = _RULE.sub(lambda m: m[0].replace("-", "\\-"), escaped)
    return _LINE_START.sub(_line_start, escaped)


def _inline(match: re.Match) -> str:
    """A special character made literal; a run of `_` inside a word (leaky_relu) is no
    emphasis in either Markdown, so it stays."""
    found, text = match[0], match.string
    if found[0] != "_":
        return _INLINE[found]
    inside = [text[i] for i in (match.start() - 1, match.end()) if 0 <= i < len(text)]
    if len(inside) == 2 and all(c.isascii() and c.isalnum() for c in inside):
        return found
    return "\\_" * len(found)


def _line_start(match: re.Match) -> str:
    """A line's start with its indentation dropped and its block marker made literal."""
    digits, closer, marker = match.groups()
    if digits:
        return f"{digits}\\{closer}"
    if marker == "=":
        return "&#61;"  # Python-Markdown has no escape for it
    return f"\\{marker}" if marker else ""


@cache
def _environment() -> jinja2.Environment:
    """derive's templates with example text escaped for Jupyter instead of MkDocs."""
    notebook = environment().overlay(cache_size=50)
    notebook.filters = {**notebook.filters, "escape_markdown": escape_notebook}
    return notebook


def markdown(worked: WorkedExample, options: RenderOptions = DEFAULTS) -> str:
    """The example's page as Markdown a notebook renders: math, the network diagram and the
    loss curve inline, no site-only parts."""
    page = view(worked, options)
    text = _environment().get_template("example.md.j2").render(
        page=page, site=False, loss_alt="")
    diagram = _image(network_diagram(worked.example, options), diagram_alt(worked.example))
    text = _after(text, "## The network\n\n", diagram)
    losses = page["loss_table"]["losses"]
    if len(losses) > 1:
        text = _after(text, "## Loss over the steps\n\n", _image(loss_curve(losses),
                                                                 loss_alt(losses)))
    return text


def _after(text: str, heading: str, block: str) -> str:
    """`text` with `block` as the first paragraph under `heading`."""
    if heading not in text:
        raise ValueError(f"the page template has no {heading.strip()!r} heading")
    return text.replace(heading, f"{heading}{block}\n\n", 1)


def _image(svg: str, alt: str) -> str:
    """An SVG as an HTML image holding its own bytes."""
    data = base64.b64encode(svg.encode()).decode()
    return f'<img src="data:image/svg+xml;base64,{data}" alt="{html.escape(alt)}">'


def latex(worked: WorkedExample, options: RenderOptions = DEFAULTS) -> str:
    """The example as a standalone LaTeX document (the site's `.tex`)."""
    return document(worked, view(worked, options), options)


def matrix(worked: WorkedExample, name: str, step: int = 1, precision: int | None = None,
           form: str = "numbers") -> Latex:
    """One quantity of one step as the page writes it, as a `derive` block's `form` asks: its
    numbers (a bmatrix, or a number for L), its formula, or both.

    `name` is any name of the page (Y, dL_dW1, W1_new), the example file (y) or `derive
    values` (loss, gradients.W1, updated.W1, intermediates.delta2).
    """
    if form not in FORMS:
        raise DeriveError(f"form: must be one of {', '.join(FORMS)}, not {form!r}")
    if precision is not None and (isinstance(precision, bool) or not isinstance(precision, int)
                                  or not 0 <= precision <= MAX_PRECISION):
        raise DeriveError(f"precision: must be a whole number from 0 to {MAX_PRECISION}")
    block = Block(line=0, example=str(worked.example.path), show=page_name(worked, name),
                  step=step, form=form, precision=precision)
    return Latex(_render(block, worked, None).strip().removeprefix("$$").removesuffix("$$")
                 .strip())


def page_name(worked: WorkedExample, name: str) -> str:
    """The page's name of a quantity named as the page, the example file or `derive values`
    name it; an error listing every accepted name otherwise."""
    names = _names(worked)
    if name in names:
        return names[name]
    parameters = ", ".join(worked.example.parameters)
    raise DeriveError(
        f"{name!r}: not a quantity of this example; use one of "
        f"{', '.join(n for n, page in names.items() if n == page)}; or as the example file and "
        f"derive values name them: y, loss, weights.P, gradients.P, updated.P (P one of "
        f"{parameters}) and intermediates.NAME")


def _names(worked: WorkedExample) -> dict[str, str]:
    """Every accepted name of a quantity, mapped to the page's name of it."""
    derivation = worked.derivation
    parameters = [p.name for p in derivation.parameters]
    defined = [d.symbol.name for d in derivation.definitions]
    page = ["X", "Y", *parameters, *defined, *(f"{p}_new" for p in parameters)]
    aliases = {"y": "Y", "loss": "L",
               **{f"intermediates.{n}": n for n in defined if n[:4] not in ("dL_d", "dJ_d")}}
    for parameter, gradient in zip(parameters, derivation.gradients):
        aliases |= {f"weights.{parameter}": parameter, f"gradients.{parameter}": gradient.name,
                    f"updated.{parameter}": f"{parameter}_new"}
    return {name: name for name in page} | aliases
