"""LaTeX for the pages: SymPy expressions in textbook notation, numeric bmatrix tables, escaping."""

from __future__ import annotations

import re

import numpy as np
import sympy
from sympy.printing.latex import LatexPrinter

_NAMES = [
    (re.compile(r"dL_d([A-Za-z]+)(\d+)"), r"\frac{{\partial L}}{{\partial {0}_{{{1}}}}}"),
    (re.compile(r"delta(\d+)"), r"\delta_{{{0}}}"),
]


class DerivationPrinter(LatexPrinter):
    """SymPy's LaTeX printer with element-wise functions written as f(S) and named gradients."""

    def _print_ElementwiseApplyFunction(self, expr: sympy.Basic) -> str:
        (variable,), body = expr.function.variables, expr.function.expr
        names = self._settings["symbol_names"]
        self._settings["symbol_names"] = {**names, variable: self._print(expr.expr)}
        try:
            return self._print(body)
        finally:
            self._settings["symbol_names"] = names

    def _print_MatrixSymbol(self, expr: sympy.Basic) -> str:
        for pattern, template in _NAMES:
            match = pattern.fullmatch(expr.name)
            if match:
                return template.format(*match.groups())
        return super()._print_MatrixSymbol(expr)

    def _print_OneMatrix(self, expr: sympy.Basic) -> str:
        return r"\mathbf{1}"

    def _print_MatrixElement(self, expr: sympy.Basic) -> str:
        # Concrete indices count from 1, as on paper (SymPy and NumPy count from 0).
        indices = [i + 1 if i.is_Integer else i for i in (expr.i, expr.j)]
        return rf"{{{self._print(expr.parent)}}}_{{{','.join(self._print(i) for i in indices)}}}"

    def _print_Sum(self, expr: sympy.Basic) -> str:
        # A sum over 0..M-1 is written over 1..M, matching the 1-based indices above.
        (variable, low, high), = expr.limits
        body = self._print(expr.function)
        return rf"\sum_{{{self._print(variable)}={self._print(low + 1)}}}^{{{self._print(high + 1)}}} {body}"


_PRINTER = DerivationPrinter({"mat_symbol_style": "plain"})


def tex(expr: sympy.Basic) -> str:
    """An expression (or a symbol's name) in the notation of the pages."""
    return _PRINTER.doprint(expr)


def number(value: float | sympy.Basic, precision: int) -> str:
    """A number at the example's precision, never as -0.0000; an exact one as a fraction."""
    if isinstance(value, sympy.Basic):
        return tex(value)
    text = f"{value:.{precision}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


ELIDE_BEYOND = 10
"""Rows or columns shown in full; a longer side shows its first and last entries around dots."""
_HEAD, _TAIL = 4, 2


def bmatrix(values: np.ndarray | sympy.MatrixBase, precision: int) -> str:
    """A numeric matrix (or scalar) as a LaTeX bmatrix at the given precision (or exact).

    Large matrices are elided the way NumPy prints them: first and last rows and columns.
    """
    if not isinstance(values, sympy.MatrixBase):
        values = np.atleast_2d(np.asarray(values, dtype=float))
    table = values.tolist()
    rows, cols = _kept(len(table)), _kept(len(table[0]))
    dots = {"row": r"\vdots", "col": r"\cdots", "both": r"\ddots"}
    lines = []
    for i in rows:
        cells = [dots["both" if i is None else "col"] if j is None else
                 (dots["row"] if i is None else number(table[i][j], precision)) for j in cols]
        lines.append(" & ".join(cells))
    return r"\begin{bmatrix}" + r" \\ ".join(lines) + r"\end{bmatrix}"


def _kept(n: int) -> list[int | None]:
    """Indices shown along a side of n entries; None stands for the elided ones."""
    if n <= ELIDE_BEYOND:
        return list(range(n))
    return [*range(_HEAD), None, *range(n - _TAIL, n)]


def shape(values: np.ndarray | sympy.MatrixBase) -> str:
    """`3 \\times 4`: the shape of a matrix as it is written on the page."""
    rows, cols = values.shape if isinstance(values, sympy.MatrixBase) else np.atleast_2d(values).shape
    return rf"{rows} \times {cols}"


_TEX_SPECIALS = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
    "%": r"\%", "_": r"\_", "^": r"\^{}", "~": r"\~{}", "<": r"\textless{}", ">": r"\textgreater{}",
}


def escape_latex(text: str) -> str:
    """Plain text safe inside a LaTeX document: every special character made literal."""
    return "".join(_TEX_SPECIALS.get(c, c) for c in text)
