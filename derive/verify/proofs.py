"""The output-layer proofs: the steps whose matrix form SymPy proves entry by entry.

sigmoid + bce and softmax + cross-entropy start from ŷ - y: SymPy differentiates one sample's
loss with respect to the first pre-activation and shows that the difference from ŷ₁ - y₁
simplifies to 0. A softmax with another loss passes its upstream gradient g back as
z ∘ (g − 1 (zᵀ g)): SymPy differentiates Σ_j g_j softmax_j(s) with respect to s₁ and shows the
difference from z₁ (g₁ − Σ_j z_j g_j) simplifies to 0. A softmax is proven for at most
`PROOF_CLASSES` classes: the classes enter symmetrically, so a larger k adds nothing but cost.
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
    """The proof for the `kind` of output layer: "sigmoid_bce", "softmax_ce" or "softmax_vjp"."""
    if kind == "sigmoid_bce":
        return _sigmoid_bce()
    if kind == "softmax_vjp":
        return _softmax_vjp(min(classes, PROOF_CLASSES))
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


@cache
def _softmax_vjp(k: int) -> OutputProof:
    """`loss` is the upstream gradient's product with the softmax, gᵀ softmax(s)."""
    s = sympy.symbols(f"s1:{k + 1}", real=True)
    g = sympy.symbols(f"g1:{k + 1}", real=True)
    total = sum(sympy.exp(v) for v in s)
    z = [sympy.exp(v) / total for v in s]
    product = sum(gj * zj for gj, zj in zip(g, z))
    residual = sympy.diff(product, s[0]) - z[0] * (g[0] - product)
    return OutputProof("softmax_vjp", k, product, sympy.simplify(residual))
