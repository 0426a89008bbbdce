"""SGD on an example's whole batch, recording every number: in floats, or as exact fractions.

The float steps run the lambdified code. With short decimal inputs and rational operations
(linear, relu, leaky_relu, l2, mse) every intermediate is a fraction, and evaluating the same
SymPy definitions on explicit rational matrices gives them exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import sympy

from .compile.compiled import Compiled, compile_derivation
from .errors import DeriveError
from .spec import Example
from .symbolic import Derivation, derive


@dataclass(frozen=True)
class TrainingStep:
    """One SGD step: the parameters used, every intermediate, the gradients and the update.

    Floats as NumPy arrays, or (exact steps) fractions as SymPy matrices and Rationals.
    """

    parameters: dict[str, Any]
    values: dict[str, Any]
    loss: Any
    gradients: dict[str, Any]
    updated: dict[str, Any]


def train(example: Example, compiled: Compiled | None = None) -> tuple[TrainingStep, ...]:
    """Run the example's SGD steps on the whole batch in floats.

    Raises `DeriveError` naming the step and the quantity when a number stops being finite.
    """
    compiled = compiled or compile_derivation(derive(example.network))
    derivation = compiled.derivation
    names = [p.name for p in derivation.parameters]
    parameters = example.parameters
    steps = []
    for index in range(1, example.steps + 1):
        with np.errstate(all="ignore"):
            results = compiled.intermediates(example.X, example.Y, *parameters.values())
            values = {d.symbol.name: np.asarray(r, dtype=float)
                      for d, r in zip(derivation.definitions, results)}
            gradients = {name: values[f"dL_d{name}"] for name in names}
            updated = {name: parameters[name] - example.learning_rate * gradients[name]
                       for name in names}
        step = TrainingStep(parameters, values, float(values["L"]), gradients, updated)
        _require_finite(example, index, step)
        steps.append(step)
        parameters = updated
    return tuple(steps)


def final_loss(example: Example, compiled: Compiled, last: TrainingStep) -> float:
    """The loss over the whole data after the last step's update."""
    with np.errstate(all="ignore"):
        loss = compiled.loss(example.X, example.Y, *last.updated.values())
    if not np.isfinite(loss):
        raise DeriveError(f"{example.path}: training: after step {example.steps}: the loss is "
                          f"{loss}; lower training.learning_rate or scale the data and weights down")
    return loss


def _require_finite(example: Example, index: int, step: TrainingStep) -> None:
    quantities = {**step.values, **{f"updated {n}": v for n, v in step.updated.items()}}
    for name, value in quantities.items():
        if not np.all(np.isfinite(value)):
            shown = {"L": "the loss", **{f"dL_d{n}": f"dL/d{n}" for n in step.gradients}}
            kind = "nan" if np.any(np.isnan(value)) else "inf"
            raise DeriveError(f"{example.path}: training: step {index}: "
                              f"{shown.get(name, name)} is {kind}; lower training.learning_rate "
                              "or scale the data and weights down")


def rational(value: float) -> sympy.Rational:
    """The short decimal a float was written as, as an exact rational (0.1 -> 1/10)."""
    fraction = Fraction(repr(float(value)))
    return sympy.Rational(fraction.numerator, fraction.denominator)


def rational_matrix(values: np.ndarray) -> sympy.ImmutableMatrix:
    """A float matrix as the fractions its entries were written as."""
    return sympy.ImmutableMatrix(*values.shape, lambda i, j: rational(values[i, j]))


def exact_steps(example: Example, derivation: Derivation, count: int) -> tuple[TrainingStep, ...]:
    """Run the example's first `count` SGD steps in exact rational arithmetic."""
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
        values = derivation.evaluate(
            {**known, **{p: parameters[p.name] for p in derivation.parameters}})
        named = {d.symbol.name: values[d.symbol] for d in derivation.definitions}
        gradients = {p.name: named[f"dL_d{p.name}"] for p in derivation.parameters}
        updated = {name: parameters[name] - rate * gradients[name] for name in parameters}
        steps.append(TrainingStep(parameters, named, named["L"], gradients, updated))
        parameters = updated
    return tuple(steps)
