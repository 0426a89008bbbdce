"""What a term of a sum of the derivation's matrices is once its matrices of ones are broadcast:
the rule both printers (NumPy and JavaScript) print, each in its own language."""

from __future__ import annotations

from typing import NamedTuple

import sympy


class SumTerm(NamedTuple):
    """`kind` is "one" (a matrix of ones: 1 over every entry), "broadcast" (a bias times a row
    of ones: the bias itself, `matrix`), "column sums" (`coefficient` times ones times the
    product of `factors`: every row the column sums of that product) or "plain" (`matrix`)."""

    kind: str
    matrix: sympy.MatrixExpr | None = None
    coefficient: sympy.Expr = sympy.S.One
    factors: tuple[sympy.MatrixExpr, ...] = ()


def sum_term(term: sympy.MatrixExpr) -> SumTerm:
    """`term` as a sum broadcasts it: a column over the samples, a row over the units, a
    number over every entry."""
    if isinstance(term, sympy.OneMatrix):
        return SumTerm("one")
    if isinstance(term, sympy.MatMul):
        coefficient, (first, *rest) = term.as_coeff_matrices()
        if rest and isinstance(rest[-1], sympy.OneMatrix) and rest[-1].shape[0] == 1:
            return SumTerm("broadcast", sympy.MatMul(*term.args[:-1]))
        if rest and isinstance(first, sympy.OneMatrix):
            return SumTerm("column sums", coefficient=coefficient, factors=tuple(rest))
    return SumTerm("plain", term)
