"""The output-layer proofs: why sigmoid + bce and softmax + cross-entropy start from ŷ - y.

SymPy differentiates one sample's loss with respect to the first pre-activation and shows that
the difference from ŷ₁ - y₁ simplifies to 0. A softmax is proven for at most `PROOF_CLASSES`
classes: the classes enter the loss symmetrically, so a larger k adds nothing but cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sympy

from ..ops import log_sigmoid, sigmoid

PROOF_CLASSES = 3
"""Classes of the softmax proof at most (the example's own number when smaller)."""


@dataclass(frozen=True)
class OutputProof:
    """One sample's loss, SymPy's derivative of it minus (ŷ₁ - y₁), and the classes it covers."""

    kind: str
    classes: int
    loss: sympy.Basic
    residual: sympy.Basic

    @property
    def holds(self) -> bool:
        return self.residual == 0


def output_proof(kind: str, classes: int) -> OutputProof:
    """The proof for the `kind` of output shortcut ("sigmoid_bce" or "softmax_ce")."""
    if kind == "sigmoid_bce":
        return _sigmoid_bce()
    return _softmax_ce(min(classes, PROOF_CLASSES))


@cache
def _sigmoid_bce() -> OutputProof:
    s, y = sympy.symbols("s y", real=True)
    ell = -(y * log_sigmoid(s) + (1 - y) * log_sigmoid(-s))
    residual = sympy.expand(sympy.diff(ell, s) - (sigmoid(s) - y))
    return OutputProof("sigmoid_bce", 1, ell, residual)


@cache
def _softmax_ce(k: int) -> OutputProof:
    """Given that a column's targets sum to 1 (the last is 1 minus the others)."""
    s = sympy.symbols(f"s1:{k + 1}", real=True)
    y = sympy.symbols(f"y1:{k + 1}", real=True)
    total = sum(sympy.exp(v) for v in s)
    ell = -sum(yj * (sj - sympy.log(total)) for yj, sj in zip(y, s))
    residual = sympy.diff(ell, s[0]) - (sympy.exp(s[0]) / total - y[0])
    return OutputProof("softmax_ce", k, ell, sympy.simplify(residual.subs(y[-1], 1 - sum(y[:-1]))))
