"""The JavaScript source of a `Derivation`, printed by SymPy's JavaScript printer.

The same chain of definitions the pages write in TeX and lambdify prints as NumPy, one line each
(`const S1 = given.S1 ?? rt.matmul(W1, X);`), over the matrix runtime `rt` that a page loads
(templates/assets/derive-runtime.js): matrices are float64, products, transposes, broadcasting
sums and element-wise maps are calls into it. Nothing here is written per architecture.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from functools import cache
from types import MappingProxyType

import sympy
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.printing.jscode import JavascriptCodePrinter
from sympy.printing.precedence import PRECEDENCE

from ..symbolic import Derivation
from .ones import sum_term

RUNTIME = "rt"
"""The name under which the printed functions receive the runtime (derive-runtime.js)."""


class MatrixJavascriptPrinter(JavascriptCodePrinter):
    """JavascriptCodePrinter for the derivation's matrix expressions, as calls into `rt`.

    A product with a transposed factor calls the runtime's product that reads that factor in
    place (`matmulTN(A, B)` = Aᵀ B, `matmulNT(A, B)` = A Bᵀ, as BLAS names them).

    Like derive's NumPy printer it prints a bias column times a row of ones as the column
    itself (`rt.add` broadcasts it), a matrix times a column of ones as its row sums, ones times
    a matrix in a sum as its column sums, tr(P Q) as the sum of Pᵀ ∘ Q (never forming the
    product), and an element-wise function whose body uses an activation already computed from
    its argument (sigmoid', tanh') in terms of that activation's matrix. `dimensions` maps each
    size symbol to code reading it off an argument; `known` maps (activation, argument) to the
    name of the matrix holding its values. Each operation of `derive.ops` prints itself through
    its `_javascript` method.
    """

    printmethod = "_javascript"

    def __init__(self, dimensions: dict[sympy.Symbol, str],
                 known: dict[tuple[type, sympy.Basic], str]) -> None:
        super().__init__()
        self._dimensions = dimensions
        self._known = known

    def runtime(self, name: str) -> str:
        """The runtime's function `name`, as printed code calls it."""
        return f"{RUNTIME}.{name}"

    def _print_Symbol(self, expr: sympy.Symbol) -> str:
        return self._dimensions.get(expr) or super()._print_Symbol(expr)

    def _print_MatrixSymbol(self, expr: sympy.MatrixSymbol) -> str:
        return expr.name

    def _print_OneMatrix(self, expr: sympy.OneMatrix) -> str:
        return f"{self.runtime('ones')}({self._print(expr.shape[0])}, {self._print(expr.shape[1])})"

    def _print_Transpose(self, expr: sympy.Transpose) -> str:
        return f"{self.runtime('transpose')}({self._print(expr.arg)})"

    def _print_MatMul(self, expr: sympy.MatMul) -> str:
        coefficient, matrices = expr.as_coeff_matrices()
        product = self._product(matrices)
        if coefficient == 1:
            return product
        if coefficient == -1:
            return f"{self.runtime('neg')}({product})"
        return f"{self.runtime('scale')}({self._print(coefficient)}, {product})"

    def _product(self, matrices: Sequence[sympy.MatrixExpr]) -> str:
        # A times a column of ones adds up A's columns: its row sums, without forming the ones.
        *rest, last = matrices
        if isinstance(last, sympy.OneMatrix) and last.shape[1] == 1 and rest:
            return f"{self.runtime('rowSums')}({self._product(rest)})"
        # A transposed factor is read in place: Wᵀ δ is matmulTN(W, δ), δ Zᵀ matmulNT(δ, Z).
        first, *others = matrices
        text, transposed = self._factor(first)
        for matrix in others:
            right, right_transposed = self._factor(matrix)
            if transposed and right_transposed:
                right, right_transposed = f"{self.runtime('transpose')}({right})", False
            name = "matmulTN" if transposed else "matmulNT" if right_transposed else "matmul"
            text, transposed = f"{self.runtime(name)}({text}, {right})", False
        return f"{self.runtime('transpose')}({text})" if transposed else text

    def _factor(self, matrix: sympy.MatrixExpr) -> tuple[str, bool]:
        """A factor of a product as printed, and whether it stands transposed (then printed
        without its transpose)."""
        if isinstance(matrix, sympy.Transpose):
            return self._print(matrix.arg), True
        return self._print(matrix), False

    def _print_MatAdd(self, expr: sympy.MatAdd) -> str:
        # Positive terms first, as derive's NumPy printer adds them (Y - Z2, not -Z2 + Y).
        terms = sorted((self._signed(t) for t in expr.args), key=lambda t: t[0])
        negative, text = terms[0]
        if negative:
            text = f"{self.runtime('neg')}({text})"
        for negative, term in terms[1:]:
            text = f"{self.runtime('sub' if negative else 'add')}({text}, {term})"
        return text

    def _signed(self, term: sympy.MatrixExpr) -> tuple[bool, str]:
        """(whether `term` is subtracted, the term without its sign) as printed in a sum."""
        if isinstance(term, sympy.MatMul):
            coefficient, _ = term.as_coeff_matrices()
            if coefficient.is_number and coefficient.is_negative:
                return True, self._term(-term)
        return False, self._term(term)

    def _term(self, term: sympy.MatrixExpr) -> str:
        # `rt.add` broadcasts a sum's columns, rows and numbers as `ones.sum_term` reads them.
        found = sum_term(term)
        if found.kind == "one":
            return "1"
        if found.kind == "broadcast":
            return self._print(found.matrix)
        if found.kind == "column sums":
            sums = f"{self.runtime('colSums')}({self._product(list(found.factors))})"
            if found.coefficient == 1:
                return sums
            return f"{self.runtime('scale')}({self._print(found.coefficient)}, {sums})"
        return self._print(term)

    def _print_HadamardProduct(self, expr: sympy.HadamardProduct) -> str:
        first, *rest = (self._print(a) for a in expr.args)
        for factor in rest:
            first = f"{self.runtime('mul')}({first}, {factor})"
        return first

    def _print_ElementwiseApplyFunction(self, expr: ElementwiseApplyFunction) -> str:
        # The scalar body as an arrow function of the argument's entries and, where the body
        # uses an activation of the argument already computed, of that matrix's entries.
        (variable,), body = expr.function.variables, expr.function.expr
        argument = self._print(expr.expr)
        entry = _entry_name(argument)
        replacements, matrices = {}, {}
        for applied in body.atoms(sympy.Function):
            name = self._known.get((applied.func, expr.expr))
            if applied.args == (variable,) and applied != body and name:
                replacements[applied] = sympy.Symbol(_entry_name(name))
                matrices[_entry_name(name)] = name
        body = body.xreplace(replacements)
        if variable in body.free_symbols or not matrices:
            body = body.xreplace({variable: sympy.Symbol(entry)})
            matrices = {entry: argument, **matrices}
        entries, arguments = ", ".join(matrices), ", ".join(matrices.values())
        return f"{self.runtime('map')}(({entries}) => {self._print(body)}, {arguments})"

    def _print_Trace(self, expr: sympy.Trace) -> str:
        # tr(P Q) = sum(Pᵀ ∘ Q): never forms the product, which is N x N for tr(Yᵀ log Ŷ).
        factors = [a for a in getattr(expr.arg, "args", ()) if isinstance(a, sympy.MatrixExpr)]
        if isinstance(expr.arg, sympy.MatMul) and len(factors) == 2:
            coefficient = sympy.Mul(*(a for a in expr.arg.args if a not in factors))
            P, Q = factors
            total = f"{self.runtime('sumProduct')}({self._print(P.T)}, {self._print(Q)})"
            if coefficient == 1:
                return total
            return f"{self.parenthesize(coefficient, PRECEDENCE['Mul'])}*{total}"
        return f"{self.runtime('trace')}({self._print(expr.arg)})"


def _entry_name(matrix: str) -> str:
    """The name of one entry of a named matrix in an element-wise function (S1 -> s1)."""
    return matrix.lower() if matrix.isidentifier() else "x"


def chain(derivation: Derivation, outputs: Sequence[sympy.Basic] | None = None,
          known: Collection[str] = ()) -> str:
    """A JavaScript arrow function `(rt, arguments, given = {}) => values` evaluating the
    definitions `outputs` need (default: every one), one line each, in order.

    `arguments` holds the derivation's arguments by name (X, Y, W1, b1, ..., weight_decay) as
    runtime matrices (X d x N, Y k x N, b_l columns) and numbers; any definition named in
    `given` takes the value given instead of the computed one (a reader's own numbers), and
    what follows is computed from it. The definitions named in `known` are not printed: they
    come with the arguments, computed elsewhere (see `mistaken_chain`). The result holds every
    definition printed, by name.
    """
    lines = _lines(derivation, tuple(outputs or (d.symbol for d in derivation.definitions)))
    printed = [name for name in lines if name not in known]
    names = [*_arguments(derivation), *(name for name in lines if name in known)]
    return "\n".join([f"({RUNTIME}, {{{', '.join(names)}}}, given = {{}}) => {{",
                      *(lines[name] for name in printed),
                      f"  return {{{', '.join(printed)}}};", "}"])


def mistaken_chain(right: Derivation, mistaken: Derivation) -> str:
    """The chain of `mistaken`, a rewrite of `right`, printing only the definitions whose line
    differs from `right`'s or that use one that does: the others come with the arguments, as
    `right`'s chain computed them, so a page carries each mistake in a few lines. By line, not
    by formula as `Derivation.changed_from`: a rewrite whose matrices change only their shapes
    (the transposed gradient) prints its forward pass as `right` does."""
    before = _lines(right, tuple(d.symbol for d in right.definitions))
    uses, changed = depends(mistaken), set()
    for name, line in _lines(mistaken, tuple(d.symbol for d in mistaken.definitions)).items():
        if before.get(name) != line or set(uses[name]) & changed:
            changed.add(name)
    return chain(mistaken, known=[d.symbol.name for d in mistaken.definitions
                                  if d.symbol.name not in changed])


def depends(derivation: Derivation) -> dict[str, list[str]]:
    """Each definition's name mapped to the names of the definitions its formula uses."""
    names = {d.symbol.name for d in derivation.definitions}
    return {d.symbol.name: sorted(s.name for s in d.expr.free_symbols if s.name in names)
            for d in derivation.definitions}


@cache
def _lines(derivation: Derivation, outputs: tuple[sympy.Basic, ...]) -> Mapping[str, str]:
    """The line of each definition `outputs` need, by name, in order (printed once: a page's
    chain and each of its mistakes' print the same derivations)."""
    needed = derivation.needed(outputs)
    known = {(d.expr.function.expr.func, d.expr.expr): d.symbol.name for d in needed
             if isinstance(d.expr, ElementwiseApplyFunction)}
    printer = MatrixJavascriptPrinter(_dimensions(derivation), known)
    return MappingProxyType({d.symbol.name: f"  const {d.symbol.name} = given.{d.symbol.name} ?? "
                                            f"{printer.doprint(d.expr)};" for d in needed})


def _arguments(derivation: Derivation) -> list[str]:
    """The derivation's arguments as the printed function takes them, by name."""
    printer = MatrixJavascriptPrinter({}, {})
    return [printer._print(a) for a in derivation.arguments]


def _dimensions(derivation: Derivation) -> dict[sympy.Symbol, str]:
    """Each size read off an argument: N from X's columns, each width from its argument's rows."""
    sources = derivation.width_sources().items()
    return {derivation.N: "X.cols",
            **{width: f"{name}.{('rows', 'cols')[axis]}" for width, (name, axis) in sources}}