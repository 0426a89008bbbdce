"""The one mapping from derive's names (W1, delta2, dL_db1, ...) to the TeX on every page.

The layer is a bracketed superscript, so no index can be misread: W^{[1]} is layer 1's weight
matrix and W^{[1]}_{i,k} its entry in row i, column k, even from layer 10 on (W^{[10]}_{1,2}).
"""

from __future__ import annotations

import re

_NAME = re.compile(r"(?:d(?P<of>[LRJ])_d)?(?P<base>[A-Za-z]+?)(?P<layer>\d+)")
_BASES = {"delta": r"\delta"}
SCALARS = {"weight_decay": r"\lambda"}
"""Scalar names written as a letter."""
_UNLAYERED = {"GM": "G^{M}"}
"""Matrices of no layer written otherwise than their name: G^M = ∂L/∂M, of the hinge loss's
margins M."""


def symbol(name: str) -> str:
    """The TeX of a matrix or scalar by its name: W1 as W^{[1]}, dL_dW1 as ∂L/∂W^{[1]} (and
    dJ_dW1, dR_dW1 for the objective J = L + R with weight decay R)."""
    if name in SCALARS:
        return SCALARS[name]
    if name in _UNLAYERED:
        return _UNLAYERED[name]
    match = _NAME.fullmatch(name)
    if match is None:
        return name
    layered = f"{_BASES.get(match['base'], match['base'])}^{{[{match['layer']}]}}"
    if match["of"]:
        return rf"\frac{{\partial {match['of']}}}{{\partial {layered}}}"
    return layered


def is_width(name: str) -> bool:
    """Whether `name` is a layer's width (n0, n1, ...), written n^{[l]}."""
    return re.fullmatch(r"n\d+", name) is not None


def entry(name: str, row: str | int, column: str | int | None = None) -> str:
    """One entry: W^{[1]}_{i,k}; a bias (a column) has one index, b^{[1]}_{i}."""
    indices = str(row) if column is None or _is_bias(name) else f"{row},{column}"
    base = symbol(name)
    if base.startswith(r"\frac"):
        base = rf"\left({base}\right)"
    return f"{base}_{{{indices}}}"


def updated(name: str) -> str:
    """A parameter after the SGD update."""
    return rf"{symbol(name)}_{{\text{{new}}}}"


def velocity(name: str) -> str:
    """The momentum velocity of a parameter after the step: v_{W^{[1]}}."""
    return rf"v_{{{symbol(name)}}}"


def _is_bias(name: str) -> bool:
    return re.fullmatch(r"(d[LRJ]_d)?b\d+", name) is not None
