"""A worked example in a notebook: the page as Markdown, one quantity or the whole document as
LaTeX, ready to paste."""

from __future__ import annotations

import numpy as np
import sympy

from ..errors import DeriveError
from ..training import TrainingStep, rational_matrix
from ..worked import WorkedExample
from . import notation
from .pages import document
from .render import render
from .view import RenderOptions, _Formatter, view


def markdown(worked: WorkedExample, options: RenderOptions = RenderOptions()) -> str:
    """The example's page as Markdown with math a notebook renders (no site-only parts)."""
    return render("example.md.j2", page=view(worked, options), site=False, diagram_alt="",
                  loss_alt="")


def latex(worked: WorkedExample, options: RenderOptions = RenderOptions()) -> str:
    """The example as a standalone LaTeX document (the site's `.tex`)."""
    return document(view(worked, options))


def matrix(worked: WorkedExample, name: str, step: int = 1,
           options: RenderOptions = RenderOptions()) -> str:
    """One quantity of one step as the page shows it: a bmatrix, or a number for L.

    `name` is any name the page uses: X, Y, W1, b1, S1, Z1, L, G1, delta1, dL_dW1, dL_db1, and
    W1_new (the weights after the step's update).
    """
    exact = worked.exact is not None and step <= len(worked.exact)
    steps = worked.exact if exact else worked.steps
    if not 1 <= step <= len(worked.steps):
        raise DeriveError(f"step: must be between 1 and {len(worked.steps)}, not {step}")
    quantities = _quantities(worked, steps[step - 1])
    if name not in quantities:
        raise DeriveError(f"{name!r}: not a quantity of this example; use one of "
                          + ", ".join(quantities))
    precision = worked.example.precision if options.precision is None else options.precision
    show = _Formatter(precision, options)
    value = quantities[name]
    if isinstance(value, sympy.MatrixBase) or np.ndim(value) == 2:
        return show.matrix(notation.symbol(name), value)["tex"]
    return show.number(value if isinstance(value, sympy.Basic) else float(value))


def _quantities(worked: WorkedExample, step: TrainingStep) -> dict:
    """Every quantity of a step by the name the page uses."""
    columns = list(step.samples)
    X, Y = worked.example.X[:, columns], worked.example.Y[:, columns]
    if isinstance(step.loss, sympy.Basic):
        X, Y = rational_matrix(X), rational_matrix(Y)
    return {"X": X, "Y": Y, **step.parameters, **step.values,
            **{f"{name}_new": value for name, value in step.updated.items()}}
