"""Index notation and hand calculations, both read off SymPy's matrix expressions.

Indexing a matrix expression (`expr[i, n]`) makes SymPy write it entry by entry, with explicit
sums; indexing with numbers and `doit()` gives the very terms a careful hand calculation adds up.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from .latex import number, tex
from .symbolic import Definition

MAX_TERMS = 6
"""Terms of a hand calculation written out; longer sums show the first and last few."""
TERMS_PER_LINE = 2
"""Numeric terms per line, so that a hand calculation fits the page's column."""

_ROW, _COLUMN, _SAMPLE, _UNIT = sympy.symbols("i j n k", integer=True)


def index_form(definition: Definition, N: sympy.Symbol) -> str:
    """`{δ_1}_{i,n} = step(S_{i,n}) G_{i,n}`: one entry of `definition`, as SymPy indexes it.

    Sample columns are indexed by n, other columns by j; sums run over n (samples) or k (units).
    """
    column = _SAMPLE if definition.symbol.shape[1] == N else _COLUMN
    entry = definition.expr[_ROW, column]
    entry = entry.replace(
        lambda e: isinstance(e, sympy.Sum),
        lambda e: e.xreplace({e.variables[0]: _SAMPLE if e.limits[0][2] == N - 1 else _UNIT}),
    )
    return f"{tex(definition.symbol[_ROW, column])} = {tex(entry)}"


@dataclass(frozen=True)
class HandCalculation:
    """The first entry of a quantity: its terms, the same with numbers, and the result."""

    entry: str
    formula: str
    numbers: list[str]
    """The numeric terms in lines of `TERMS_PER_LINE`, each line after the first starting with +."""
    result: str


def hand_calculation(definition: Definition, sizes: dict, values: dict, precision: int,
                     ) -> HandCalculation:
    """Entry (1, 1) of `definition` written out term by term with the step's numbers."""
    entry = definition.expr.xreplace(sizes)[0, 0].doit()
    terms = list(sympy.Add.make_args(entry))
    shown = terms if len(terms) <= MAX_TERMS else terms[: MAX_TERMS - 1]

    def numeric(term: sympy.Basic) -> str:
        return r" \cdot ".join(_factor(f, values, precision) for f in sympy.Mul.make_args(term))

    formula = " + ".join(tex(t) for t in shown)
    numbers = [numeric(t) for t in shown]
    if len(shown) < len(terms):
        formula += rf" + \cdots + {tex(terms[-1])}"
        numbers += [r"\cdots", numeric(terms[-1])]
    result = number(values[definition.symbol.name][0, 0], precision)
    lines = [" + ".join(numbers[i:i + TERMS_PER_LINE])
             for i in range(0, len(numbers), TERMS_PER_LINE)]
    return HandCalculation(tex(definition.symbol[0, 0]), formula,
                           [lines[0], *(f"{{}} + {line}" for line in lines[1:])], result)


def _factor(factor: sympy.Basic, values: dict, precision: int) -> str:
    if isinstance(factor, sympy.matrices.expressions.matexpr.MatrixElement):
        value = values[factor.parent.name][int(factor.i), int(factor.j)]
    else:
        value = factor
    text = number(value if isinstance(value, sympy.Basic) else float(value), precision)
    return f"({text})" if text.startswith("-") else text
