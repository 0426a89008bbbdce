"""Exact arithmetic: every number of the training steps as a SymPy Rational.

With short decimal inputs and rational operations (linear, relu, leaky_relu, l2, mse) each
intermediate is a fraction; evaluating the same SymPy definitions on explicit rational matrices
gives them exactly, and the float path can be checked against them.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import sympy

from .spec import Example
from .symbolic import derive


def rational(value: float) -> sympy.Rational:
    """The short decimal a float was written as, as an exact rational (0.1 -> 1/10)."""
    fraction = Fraction(repr(float(value)))
    return sympy.Rational(fraction.numerator, fraction.denominator)


def rational_matrix(values: np.ndarray) -> sympy.ImmutableMatrix:
    return sympy.ImmutableMatrix(*values.shape, lambda i, j: rational(values[i, j]))


@dataclass(frozen=True)
class ExactStep:
    """One SGD step in fractions; the same fields as the float `TrainingStep`."""

    parameters: dict[str, sympy.ImmutableMatrix]
    values: dict[str, sympy.Basic]
    loss: sympy.Rational
    gradients: dict[str, sympy.ImmutableMatrix]
    updated: dict[str, sympy.ImmutableMatrix]


def exact_steps(example: Example, count: int) -> list[ExactStep]:
    """Run the example's first `count` SGD steps in exact rational arithmetic."""
    derivation = derive(example.network)
    known: dict[sympy.Basic, sympy.Basic] = {
        derivation.X: rational_matrix(example.X),
        derivation.Y: rational_matrix(example.Y),
        derivation.N: example.X.shape[1],
        **dict(zip(derivation.widths, example.network.sizes)),
    }
    rate = rational(example.learning_rate)
    parameters = {name: rational_matrix(value) for name, value in example.parameters.items()}
    steps = []
    for _ in range(min(count, example.steps)):
        values = dict(known)
        values.update({p: parameters[p.name] for p in derivation.parameters})
        for definition in derivation.definitions:
            values[definition.symbol] = _explicit(definition.expr.xreplace(values).doit())
        named = {symbol.name: value for symbol, value in values.items()
                 if isinstance(symbol, (sympy.MatrixSymbol, sympy.Symbol)) and symbol.name != "N"}
        gradients = {p.name: named[f"dL_d{p.name}"] for p in derivation.parameters}
        updated = {name: parameters[name] - rate * gradients[name] for name in parameters}
        steps.append(ExactStep(parameters, {d.symbol.name: named[d.symbol.name]
                                            for d in derivation.definitions},
                               named["L"], gradients, updated))
        parameters = updated
    return steps


def _explicit(value: sympy.Basic) -> sympy.Basic:
    """A matrix expression made an explicit ImmutableMatrix; a scalar left as it is."""
    if isinstance(value, sympy.MatrixBase | sympy.MatrixExpr):
        return sympy.ImmutableMatrix(value.as_explicit())
    return sympy.nsimplify(value) if value.is_Float else value
