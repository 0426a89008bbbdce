"""A worked example in a notebook: the page as Markdown, one quantity or the whole document as
LaTeX, ready to paste."""

from __future__ import annotations

from ..worked import WorkedExample
from .options import DEFAULTS, RenderOptions
from .pages import document
from .quantities import quantity
from .render import render
from .view import view


def markdown(worked: WorkedExample, options: RenderOptions = DEFAULTS) -> str:
    """The example's page as Markdown with math a notebook renders (no site-only parts)."""
    return render("example.md.j2", page=view(worked, options), site=False, diagram_alt="",
                  loss_alt="")


def latex(worked: WorkedExample, options: RenderOptions = DEFAULTS) -> str:
    """The example as a standalone LaTeX document (the site's `.tex`)."""
    return document(view(worked, options))


def matrix(worked: WorkedExample, name: str, step: int = 1,
           options: RenderOptions = DEFAULTS) -> str:
    """One quantity of one step as the page shows it: a bmatrix, or a number for L."""
    return quantity(worked, name, step, options)["value"]
