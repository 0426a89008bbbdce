"""The element-wise cross-check: differentiate the fully expanded scalar loss weight by weight.

On a concrete example (data as exact rationals, every weight a symbol) SymPy evaluates the
forward pass on explicit matrices, so L becomes one scalar expression, differentiates it with
respect to each weight, and shows that the difference from the matrix-form chain rule (evaluated
the same way) expands to zero. It grows fast with widths and N, so only small networks are
expanded.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from ..spec import Example
from ..symbolic import Derivation
from ..training import rational, rational_matrix

MAX_ENTRIES = 64
"""Largest number of parameters times samples that is still expanded (display and check)."""


@dataclass(frozen=True)
class Expansion:
    """The expanded objective (the loss, plus the decay term with weight decay), the
    element-wise gradients and their difference from the matrix form."""

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


def weight_symbol(name: str, row: int, column: int) -> sympy.Symbol:
    """The real symbol standing for entry (row, column) of parameter `name`, counted from 0."""
    return sympy.Symbol(f"{name}[{row},{column}]", real=True)


def expand(derivation: Derivation, example: Example) -> Expansion:
    """Expand the loss of `example`'s data with symbolic weights and compare both derivatives."""
    weights = {p.name: sympy.ImmutableMatrix(*value.shape,
                                             lambda i, j, n=p.name: weight_symbol(n, i, j))
               for p, value in zip(derivation.parameters, example.parameters.values())}
    Y = rational_matrix(example.Y)
    if derivation.output_shortcut == "softmax_ce":
        # The output delta Ŷ - Y holds for targets summing to 1 exactly; as fractions, decimal
        # targets may miss 1 by a rounding error, which the last row absorbs.
        Y = Y[:-1, :].col_join(sympy.ones(1, Y.cols) - sympy.ones(1, Y.rows - 1) * Y[:-1, :])
    known: dict[sympy.Basic, sympy.Basic] = {
        derivation.X: rational_matrix(example.X),
        derivation.Y: Y,
        derivation.N: example.X.shape[1],
        **dict(zip(derivation.widths, example.network.sizes)),
        **{p: weights[p.name] for p in derivation.parameters},
    }
    if derivation.penalty is not None:
        known[derivation.penalty] = rational(example.weight_decay)
    values = derivation.evaluate(known)
    loss = values[derivation.objective]
    elementwise, difference = {}, {}
    for parameter, gradient in zip(derivation.parameters, derivation.gradients):
        symbols = weights[parameter.name]
        elementwise[parameter.name] = symbols.applyfunc(lambda w: sympy.diff(loss, w))
        difference[parameter.name] = (elementwise[parameter.name] - values[gradient]).applyfunc(
            _simplified)
    return Expansion(weights, loss, elementwise, difference)


def _simplified(difference: sympy.Basic) -> sympy.Basic:
    """The difference expanded, and where that leaves a sum of fractions (a softmax's
    exponentials over their sum), put over one denominator and cancelled."""
    expanded = sympy.expand(difference)
    return expanded if expanded == 0 else sympy.cancel(sympy.together(expanded))
