"""LaTeX for the pages: SymPy expressions in textbook notation, numbers and bmatrix tables.

Every name goes through `notation`; every element-wise product is written with ∘, and an
operand that is a sum or a product inside one is parenthesised, so no formula can be read as a
matrix product or with the wrong precedence.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import sympy
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.printing.latex import LatexPrinter

from . import notation


class DerivationPrinter(LatexPrinter):
    """SymPy's LaTeX printer with derive's names, element-wise functions written as f(S), and
    element-wise products always as ∘."""

    def __init__(self, settings: dict | None = None) -> None:
        super().__init__({"mat_symbol_style": "plain", **(settings or {})})
        self._elementwise = False

    def _print_MatrixSymbol(self, expr: sympy.MatrixSymbol) -> str:
        return notation.symbol(expr.name)

    def _print_Symbol(self, expr: sympy.Symbol, style: str = "plain") -> str:
        if expr.name in notation.SCALARS or notation.is_width(expr.name):
            return notation.symbol(expr.name)
        return super()._print_Symbol(expr, style)

    def _print_OneMatrix(self, expr: sympy.Basic) -> str:
        return r"\mathbf{1}"

    def _print_ElementwiseApplyFunction(self, expr: ElementwiseApplyFunction) -> str:
        # The scalar body with its variable standing for the matrix: 1 - tanh^2(S), whose
        # products act entry by entry (see _print_Mul).
        (variable,), body = expr.function.variables, expr.function.expr
        names = self._settings["symbol_names"]
        self._settings["symbol_names"] = {**names, variable: self._print(expr.expr)}
        outer, self._elementwise = self._elementwise, True
        try:
            return self._print(body)
        finally:
            self._settings["symbol_names"], self._elementwise = names, outer

    def _print_Mul(self, expr: sympy.Mul) -> str:
        if not self._elementwise:
            return super()._print_Mul(expr)
        coefficient, factors = expr.as_coeff_mul()
        if len(factors) < 2:
            return super()._print_Mul(expr)
        # Plain factors first: sigma(S) ∘ (1 - sigma(S)).
        ordered = sorted(factors, key=lambda f: isinstance(f, sympy.Add))
        product = r" \circ ".join(self._operand(f) for f in ordered)
        if coefficient == 1:
            return product
        if coefficient == -1:
            return f"- {product}"
        return rf"{self._print(coefficient)} \left({product}\right)"

    def _print_HadamardProduct(self, expr: sympy.HadamardProduct) -> str:
        return r" \circ ".join(self._operand(a) for a in expr.args)

    def _operand(self, factor: sympy.Basic) -> str:
        """A factor of an element-wise product: a sum or a matrix product in parentheses."""
        text = self._print(factor)
        if isinstance(factor, ElementwiseApplyFunction):
            grouped = isinstance(factor.function.expr, sympy.Add)
        else:
            grouped = isinstance(factor, sympy.Add | sympy.MatAdd | sympy.MatMul)
        return rf"\left({text}\right)" if grouped else text

    def _print_MatrixElement(self, expr: sympy.Basic) -> str:
        # Concrete indices count from 1, as on paper (SymPy and NumPy count from 0).
        row, column = (self._print(i + 1 if i.is_Integer else i) for i in (expr.i, expr.j))
        if isinstance(expr.parent, sympy.MatrixSymbol):
            return notation.entry(expr.parent.name, row, column)
        return rf"\left({self._print(expr.parent)}\right)_{{{row},{column}}}"

    def _print_Sum(self, expr: sympy.Basic) -> str:
        # A sum over 0..M-1 is written over 1..M, matching the 1-based indices above.
        (variable, low, high), = expr.limits
        body = self._print(expr.function)
        return (rf"\sum_{{{self._print(variable)}={self._print(low + 1)}}}"
                rf"^{{{self._print(high + 1)}}} {body}")


def tex(expr: sympy.Basic, symbol_names: dict | None = None) -> str:
    """An expression in the notation of the pages (`symbol_names` renames scalar symbols)."""
    if symbol_names:
        return DerivationPrinter({"symbol_names": symbol_names}).doprint(expr)
    return _tex(expr)


@lru_cache(maxsize=4096)
def _tex(expr: sympy.Basic) -> str:
    """Printed once per process: every example of an architecture shows the same formulas."""
    return DerivationPrinter({"symbol_names": {}}).doprint(expr)


def number(value: float | sympy.Basic, precision: int) -> str:
    """A number at the given precision, never as -0.0000; an exact one as a fraction."""
    if isinstance(value, sympy.Basic):
        return tex(value)
    text = f"{value:.{precision}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def scientific(value: float, digits: int = 1) -> str:
    """A number as TeX in scientific notation: 1.0 \\times 10^{-5} (0 as 0)."""
    if value == 0:
        return "0"
    exponent = math.floor(math.log10(abs(value)))
    if exponent < -300:  # 10^exponent would underflow (a subnormal value): scale in two steps
        mantissa = value * 1e300 / 10 ** (exponent + 300)
    else:
        mantissa = value / 10 ** exponent
    if round(abs(mantissa), digits) >= 10:
        mantissa, exponent = mantissa / 10, exponent + 1
    return rf"{mantissa:.{digits}f} \times 10^{{{exponent}}}"


def setting(value: float) -> str:
    """A setting (learning rate, λ, μ, a slope) as TeX, as written: 0.5, 0.001,
    1.5 \\times 10^{-5}."""
    text = f"{value:.6g}"
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    return rf"{mantissa} \times 10^{{{int(exponent)}}}"


def kept(n: int, limit: int, head: int, tail: int) -> list[int | None]:
    """Indices shown along a side of n entries; None stands for the elided ones."""
    if n <= limit:
        return list(range(n))
    return [*range(head), None, *range(n - tail, n)]


def bmatrix(table: Sequence[Sequence[str]], rows: list[int | None],
            columns: list[int | None]) -> str:
    """Formatted entries as a LaTeX bmatrix, keeping the given rows and columns (None: dots)."""
    dots = {"row": r"\vdots", "col": r"\cdots", "both": r"\ddots"}
    lines = []
    for i in rows:
        cells = [dots["both" if i is None else "col"] if j is None else
                 (dots["row"] if i is None else table[i][j]) for j in columns]
        lines.append(" & ".join(cells))
    return r"\begin{bmatrix}" + r" \\ ".join(lines) + r"\end{bmatrix}"
