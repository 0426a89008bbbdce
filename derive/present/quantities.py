"""One quantity of one step of a worked example, as its page writes it: for notebooks and for
`derive` blocks embedded in hand-written pages."""

from __future__ import annotations

import numpy as np
import sympy

from ..errors import DeriveError
from ..training import TrainingStep, rational_matrix
from ..worked import WorkedExample
from . import notation
from .latex import tex
from .options import DEFAULTS, RenderOptions
from .view import _Formatter


def quantity(worked: WorkedExample, name: str, step: int = 1,
             options: RenderOptions = DEFAULTS) -> dict[str, str]:
    """`{"symbol", "value", "shape", "formula"}` of `name` at `step`, counted from 1.

    `value` is a bmatrix (a number for L), `shape` its `rows \\times columns` ("" for a number),
    `formula` the definition it was computed by ("" for data, parameters and updates). `name` is
    any name the page uses: X, Y, W1, b1, S1, Z1, L, G1, delta1, dL_dW1, dL_db1, W1_new, ...
    """
    if not 1 <= step <= len(worked.steps):
        raise DeriveError(f"step: must be between 1 and {len(worked.steps)}, not {step}")
    exact = worked.exact is not None and step <= len(worked.exact)
    values = _values(worked, (worked.exact if exact else worked.steps)[step - 1])
    if name not in values:
        raise DeriveError(f"{name!r}: not a quantity of this example; use one of "
                          + ", ".join(values))
    precision = worked.example.precision if options.precision is None else options.precision
    show = _Formatter(precision, options)
    definitions = {d.symbol.name: d for d in worked.derivation.definitions}
    symbol = (notation.updated(name.removesuffix("_new")) if name.endswith("_new")
              else notation.symbol(name))
    formula = tex(definitions[name].expr) if name in definitions else _update(worked, name)
    value = values[name]
    if isinstance(value, sympy.MatrixBase) or np.ndim(value) == 2:
        matrix = show.matrix(symbol, value)
        return {"symbol": symbol, "value": matrix["tex"], "shape": matrix["shape"],
                "formula": formula}
    number = show.number(value if isinstance(value, sympy.Basic) else float(value))
    return {"symbol": symbol, "value": number, "shape": "", "formula": formula}


def _update(worked: WorkedExample, name: str) -> str:
    """The SGD update that gives `name` (W1_new from W1), or "" for any other name."""
    parameter = name.removesuffix("_new")
    if parameter == name or parameter not in worked.example.parameters:
        return ""
    if parameter in worked.example.freeze:
        return notation.symbol(parameter)
    gradient = dict(zip((p.name for p in worked.derivation.parameters),
                        (g.name for g in worked.derivation.gradients)))[parameter]
    step = (notation.velocity(parameter) if worked.example.momentum
            else notation.symbol(gradient))
    return rf"{notation.symbol(parameter)} - \eta \, {step}"


def _values(worked: WorkedExample, step: TrainingStep) -> dict:
    """Every quantity of a step by the name the page uses."""
    columns = list(step.samples)
    X, Y = worked.example.X[:, columns], worked.example.Y[:, columns]
    if isinstance(step.loss, sympy.Basic):
        X, Y = rational_matrix(X), rational_matrix(Y)
    return {"X": X, "Y": Y, **step.parameters, **step.values,
            **{f"{name}_new": value for name, value in step.updated.items()}}
