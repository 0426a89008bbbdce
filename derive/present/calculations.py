"""Index notation and hand calculations, both read off SymPy's matrix expressions.

Indexing a matrix expression (`expr[i, n]`) makes SymPy write it entry by entry, with explicit
sums; indexing with numbers and `doit()` gives the very terms a careful hand calculation adds up.
"""

from __future__ import annotations

import json
from decimal import Decimal, localcontext
from fractions import Fraction
from functools import lru_cache

import sympy
from sympy.matrices.expressions.matexpr import MatrixElement

from ..symbolic import Definition
from .latex import number, tex

_ROW, _COLUMN, _SAMPLE, _UNIT = sympy.symbols("i j n k", integer=True)


@lru_cache(maxsize=1024)
def index_form(definition: Definition, N: sympy.Symbol) -> str:
    """`δ^{[1]}_{i,n} = step(S^{[1]}_{i,n}) G^{[1]}_{i,n}`: one entry, as SymPy indexes it.

    Sample columns are indexed by n, other columns by j; sums run over n (samples) or k (units).
    """
    column = _SAMPLE if definition.symbol.shape[1] == N else _COLUMN
    entry = definition.expr[_ROW, column]
    entry = entry.replace(
        lambda e: isinstance(e, sympy.Sum),
        lambda e: e.xreplace({e.variables[0]: _SAMPLE if e.limits[0][2] == N - 1 else _UNIT}),
    )
    return f"{tex(definition.symbol[_ROW, column])} = {tex(entry)}"


def hand_calculation(definition: Definition, sizes: dict, values: dict, *, precision: int,
                     max_terms: int, terms_per_line: int) -> dict:
    """Entry (1, 1) of `definition` written out term by term with the step's numbers.

    `formula` and `numbers` are lines of `terms_per_line` terms each, the numbers' lines under
    the formula's term for term (a line after the first starts with "{} + ");
    `shown_sum` is the sum of the terms exactly as shown (their rounded factors multiplied and
    added without further rounding), None when terms are elided or the numbers are exact;
    `result` is the unrounded value at the page's precision; `live` (JSON) is what an
    interactive page writes the same calculation from with the reader's numbers (derive.js's
    `handTex`): the entry, the formula's lines, each shown term's factors (`[matrix, row,
    column]` of the step's values, or a constant's TeX), the last term's when terms are elided,
    the terms per line and the definition whose entry is the result.
    """
    terms = _first_entry_terms(definition.expr, tuple(sizes.items()))
    shown = terms if len(terms) <= max_terms else terms[: max_terms - 1]
    factors = [[_factor(f, values, precision) for f in sympy.Mul.make_args(t)] for t in shown]
    formula = [tex(t) for t in shown]
    numbers = [r" \cdot ".join(f"({f})" if f.startswith("-") else f for f in term)
               for term in factors]
    if len(shown) < len(terms):
        formula += [r"\cdots", tex(terms[-1])]
        last = [_factor(f, values, precision) for f in sympy.Mul.make_args(terms[-1])]
        numbers += [r"\cdots", r" \cdot ".join(f"({f})" if f.startswith("-") else f for f in last)]
    value = values[definition.symbol.name][0, 0]
    exact = isinstance(value, sympy.Basic)
    entry, lines = tex(definition.symbol[0, 0]), _lines(formula, terms_per_line)
    last = None if len(shown) == len(terms) else _references(terms[-1])
    return {
        "entry": entry,
        "formula": lines,
        "numbers": _lines(numbers, terms_per_line),
        "shown_sum": None if exact or len(shown) < len(terms) else _exact_sum(factors),
        "result": number(value if exact else float(value), precision),
        "exact": exact,
        "live": json.dumps({"entry": entry, "formula": lines,
                            "terms": [_references(t) for t in shown], "last": last,
                            "per_line": terms_per_line, "name": definition.symbol.name}),
    }


def _references(term: sympy.Basic) -> list[list | str]:
    """A term's factors as a page's script reads them: `[matrix, row, column]` for an entry of
    the step's values, the TeX of a constant."""
    return [[f.parent.name, int(f.i), int(f.j)] if isinstance(f, MatrixElement) else tex(f)
            for f in sympy.Mul.make_args(term)]


def _lines(terms: list[str], per_line: int) -> list[str]:
    """The terms summed `per_line` to a line, short enough for a phone's column; a line after
    the first continues the sum."""
    lines = [" + ".join(terms[i:i + per_line]) for i in range(0, len(terms), per_line)]
    return [lines[0], *(f"{{}} + {line}" for line in lines[1:])]


@lru_cache(maxsize=1024)
def _first_entry_terms(expr: sympy.MatrixExpr, sizes: tuple) -> tuple[sympy.Basic, ...]:
    """The terms of entry (1, 1) at the given sizes: the same for every example of a shape."""
    return sympy.Add.make_args(expr.xreplace(dict(sizes))[0, 0].doit())


def _factor(factor: sympy.Basic, values: dict, precision: int) -> str:
    if isinstance(factor, MatrixElement):
        value = values[factor.parent.name][int(factor.i), int(factor.j)]
    else:
        value = factor
    return number(value if isinstance(value, sympy.Basic) else float(value), precision)


def _exact_sum(terms: list[list[str]]) -> str | None:
    """The sum of products of the numbers as written, in exact arithmetic, as a decimal (None
    when a factor is not a plain number or the sum has no finite decimal expansion)."""
    total = Fraction(0)
    try:
        for factors in terms:
            product = Fraction(1)
            for factor in factors:
                product *= _fraction(factor)
            total += product
    except (ValueError, ZeroDivisionError):
        return None
    denominator = total.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    if denominator != 1:
        return None
    with localcontext() as context:
        context.prec = len(str(total.numerator)) + len(str(total.denominator)) + 2
        text = format(Decimal(total.numerator) / Decimal(total.denominator), "f")
    return text[1:] if text.startswith("-") and total == 0 else text


def _fraction(text: str) -> Fraction:
    """A factor as written: a decimal, or a TeX fraction of integers such as \\frac{1}{4}."""
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("- ")
    if body.startswith(r"\frac{"):
        numerator, denominator = body[len(r"\frac{"):].rstrip("}").split("}{")
        return sign * Fraction(int(numerator), int(denominator))
    return sign * Fraction(body)
