"""The element-wise cross-check: differentiate the fully expanded scalar loss weight by weight.

On a concrete example (data as exact rationals, every weight a symbol) SymPy expands L into one
scalar expression, differentiates it with respect to each weight, and shows that the difference
from the matrix-form chain rule simplifies to zero. It grows fast with widths and N, so it is
only done for small networks.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from .exact import rational_matrix
from .spec import Example
from .symbolic import Derivation

MAX_ENTRIES = 64
"""Largest number of parameters times samples that is still expanded (display and check)."""


@dataclass(frozen=True)
class Expansion:
    """The expanded loss, the element-wise gradients and their difference from the matrix form."""

    weights: dict[str, sympy.Matrix]
    loss: sympy.Basic
    elementwise: dict[str, sympy.Matrix]
    difference: dict[str, sympy.Matrix]

    def agrees(self) -> bool:
        """Whether every element-wise derivative equals the matrix form, exactly."""
        return all(d.is_zero_matrix for d in self.difference.values())


def is_small(example: Example) -> bool:
    """Whether expanding the loss entry by entry stays cheap enough to do and to show."""
    count = sum(p.size for p in example.parameters.values())
    return count * example.X.shape[1] <= MAX_ENTRIES


def expand(derivation: Derivation, example: Example) -> Expansion:
    """Expand the loss of `example`'s data with symbolic weights and compare both derivatives."""
    substitutions: dict[sympy.Basic, sympy.Basic] = {
        derivation.X: rational_matrix(example.X),
        derivation.Y: rational_matrix(example.Y),
        derivation.N: example.X.shape[1],
    }
    weights = {}
    for parameter, value in zip(derivation.parameters, example.parameters.values()):
        kind, layer = parameter.name[0].lower(), parameter.name[1:]
        weights[parameter.name] = sympy.Matrix(*value.shape, lambda i, j, k=kind, l=layer: (
            sympy.Symbol(f"{k}^{{({l})}}_{{{i + 1}{j + 1}}}", real=True)))
        substitutions[parameter] = weights[parameter.name]
    loss = derivation.composite(derivation.loss).xreplace(substitutions).doit()
    elementwise, difference = {}, {}
    for parameter, gradient in zip(derivation.parameters, derivation.gradients):
        symbols = weights[parameter.name]
        elementwise[parameter.name] = symbols.applyfunc(lambda w: sympy.diff(loss, w))
        matrix_form = sympy.Matrix(derivation.composite(gradient).xreplace(substitutions).doit())
        difference[parameter.name] = (elementwise[parameter.name] - matrix_form).applyfunc(
            sympy.expand)
    return Expansion(weights, loss, elementwise, difference)
