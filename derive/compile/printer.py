"""The NumPy source of a `Derivation`'s functions, printed by lambdify with derive's printer.

The generated code is the derivation's own chain of definitions, one line each (S1 = W1.dot(X),
..., dL_dW1 = delta1.dot(X.T)): the chain rule already names every common subexpression, so
lambdify is handed those definitions as its `cse` and only prints them.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import numpy
import sympy
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.precedence import PRECEDENCE

from ..derivations import derivation as derivation_of
from ..ops import relu, step
from ..spec import Network
from ..symbolic import Derivation
from . import runtime
from .ones import sum_term

RUNTIME = ("sigmoid", "softmax", "log_softmax")
"""The helpers of `runtime` that generated code calls by name."""


class MatrixNumPyPrinter(NumPyPrinter):
    """NumPyPrinter for the derivation's matrix expressions, printed as a person would write them.

    Products print as `A.dot(B)` (cheaper than `@` on small arrays) with scalars in front, a bias
    column times a row of ones as the column itself (NumPy broadcasts it), a matrix times a column
    of ones as a row sum, and an element-wise function of S whose body uses an activation already
    computed from S (sigmoid', tanh') in terms of that activation's matrix.

    `dimensions` maps each size symbol to code reading it off an argument's shape, so the
    functions work for any widths and batch size; `shapes` does the same for the shapes of
    matrices of ones, which follow the arrays at hand (a block of samples, not the whole batch).
    `known` maps (activation function, argument) to the name of the matrix holding its values.
    Each operation of `derive.ops` prints itself through its `_numpycode` method.
    """

    printmethod = "_numpycode"

    def __init__(self, dimensions: dict[sympy.Symbol, str], shapes: dict[sympy.Symbol, str],
                 known: dict[tuple[type, sympy.Basic], str]) -> None:
        super().__init__()
        self._dimensions = dimensions
        self._shapes = shapes
        self._known = known

    def _print_Symbol(self, expr: sympy.Symbol) -> str:
        return self._dimensions.get(expr) or super()._print_Symbol(expr)

    def _print_OneMatrix(self, expr: sympy.OneMatrix) -> str:
        shape = ", ".join(self._shapes.get(n) or self._print(n) for n in expr.shape)
        return f"{self._module_format('numpy.ones')}(({shape}))"

    def _print_MatMul(self, expr: sympy.MatMul) -> str:
        coefficient, matrices = expr.as_coeff_matrices()
        product = self._product(matrices)
        if coefficient == 1:
            return product
        if coefficient == -1:
            return f"-{product}"
        numerator, denominator = sympy.fraction(coefficient)
        scale = (self._print(numerator) if numerator.is_Number
                 else self.parenthesize(numerator, PRECEDENCE["Mul"], strict=True))
        if denominator != 1:
            scale += f"/{self.parenthesize(denominator, PRECEDENCE['Atom'], strict=True)}"
        return f"{scale}*{product}"

    def _product(self, matrices: Sequence[sympy.MatrixExpr]) -> str:
        # A times a column of ones adds up A's columns: its row sums, without forming the ones.
        *matrices, last = matrices
        if isinstance(last, sympy.OneMatrix) and last.shape[1] == 1 and matrices:
            return f"{self._product(matrices)}.sum(axis=1, keepdims=True)"
        matrices.append(last)
        text = self.parenthesize(matrices[0], PRECEDENCE["Func"], strict=True)
        return text + "".join(f".dot({self._print(m)})" for m in matrices[1:])

    def _print_MatAdd(self, expr: sympy.MatAdd) -> str:
        # Positive terms first, as a person writes Y - Z2 rather than -Z2 + Y.
        terms = sorted((self._term(t) for t in expr.args), key=lambda t: t.startswith("-"))
        text = terms[0]
        for term in terms[1:]:
            text += f" - {term[1:]}" if term.startswith("-") else f" + {term}"
        return text

    def _term(self, term: sympy.MatrixExpr) -> str:
        # NumPy broadcasts a sum's columns, rows and numbers as `ones.sum_term` reads them.
        found = sum_term(term)
        if found.kind == "one":
            return "1"
        if found.kind == "broadcast":
            return self._print(found.matrix)
        if found.kind == "column sums":
            scale = {1: "", -1: "-"}.get(found.coefficient,
                                         f"{self._print(found.coefficient)}*")
            return f"{scale}{self._product(list(found.factors))}.sum(axis=0, keepdims=True)"
        return self.parenthesize(term, PRECEDENCE["Add"], strict=True)

    def _print_HadamardProduct(self, expr: sympy.HadamardProduct) -> str:
        return " * ".join(self.parenthesize(a, PRECEDENCE["Mul"], strict=True) for a in expr.args)

    def _print_ElementwiseApplyFunction(self, expr: ElementwiseApplyFunction) -> str:
        # Print the scalar body with its variable standing for the (already printed) matrix,
        # and activations of that matrix, when already computed, as the matrix holding them.
        (variable,), body = expr.function.variables, expr.function.expr
        argument = self.parenthesize(expr.expr, PRECEDENCE["Atom"], strict=True)
        replacements = {variable: sympy.Symbol(argument)}
        for applied in body.atoms(sympy.Function):
            if applied.args != (variable,):
                continue
            if applied != body and (applied.func, expr.expr) in self._known:
                replacements[applied] = sympy.Symbol(self._known[applied.func, expr.expr])
            elif applied.func is step and (relu, expr.expr) in self._known:
                # relu'(S) = sign(relu(S)): floats, which multiply faster than a boolean mask.
                sign = self._module_format("numpy.sign")
                replacements[applied] = sympy.Symbol(f"{sign}({self._known[relu, expr.expr]})")
        return self.parenthesize(body.xreplace(replacements), PRECEDENCE["Func"], strict=True)

    def _print_Trace(self, expr: sympy.Basic) -> str:
        # tr(P Q) = sum(Pᵀ ∘ Q): never forms the product, which is N x N for tr(Yᵀ log Ŷ).
        factors = [a for a in getattr(expr.arg, "args", ()) if isinstance(a, sympy.MatrixExpr)]
        if isinstance(expr.arg, sympy.MatMul) and len(factors) == 2:
            coefficient = sympy.Mul(*(a for a in expr.arg.args if a not in factors))
            P, Q = factors
            total = f"{self._module_format('numpy.sum')}(({self._print(P.T)}) * ({self._print(Q)}))"
            return total if coefficient == 1 else f"{self._print(coefficient)}*{total}"
        return f"{self._module_format('numpy.trace')}({self._print(expr.arg)})"


def function_source(derivation: Derivation, outputs: Sequence[sympy.Basic] | sympy.Basic, *,
                    per_block: bool, given: Sequence[sympy.Basic] = ()) -> str:
    """lambdify's source of a function of (X, Y, *parameters) returning `outputs` (several or one).

    Each definition the outputs need becomes one assignment. With `per_block` the function also
    takes N, the whole batch's size, so it can be called on a block of samples (see `runtime.blocked`).
    The values of the definitions `given` (symbols) are taken as further arguments, not computed.
    """
    chain = derivation.needed(outputs if isinstance(outputs, (list, tuple)) else [outputs], given)
    arguments = (*derivation.arguments, derivation.N) if per_block else derivation.arguments
    arguments = (*arguments, *given)
    widths = {width: f"{name}.shape[{axis}]"
              for width, (name, axis) in derivation.width_sources().items()}
    shapes = {**widths, derivation.N: "X.shape[1]"}
    known = {(d.expr.function.expr.func, d.expr.expr): d.symbol.name
             for d in [*chain, *(d for d in derivation.definitions if d.symbol in given)]
             if isinstance(d.expr, ElementwiseApplyFunction)}
    function = sympy.lambdify(
        arguments, outputs,
        # Not modules="numpy": that costs a third of a second to set up.
        modules=[{name: getattr(runtime, name) for name in RUNTIME}, {"numpy": numpy}],
        printer=MatrixNumPyPrinter(widths if per_block else shapes, shapes, known),
        cse=lambda expressions: ([(d.symbol, d.expr) for d in chain], expressions),
        docstring_limit=0,
    )
    return inspect.getsource(function)


def module_source(derivation: Derivation, functions: dict[str, str]) -> str:
    """A Python module of lambdify's functions (`functions`: name -> source), each renamed."""
    layers = ", ".join(derivation.activations)
    biases = "with biases" if derivation.bias else "without biases"
    header = (f'"""NumPy code generated by SymPy\'s lambdify from derive\'s derivation of a network\n'
              f"with {layers} layers, {derivation.loss_name} loss, {biases}.\n\n"
              f"X is d x N (a column per sample), Y is k x N; a function taking N, the whole\n"
              f'batch\'s size, may be given a block of the batch\'s columns and its results summed.\n"""\n\n'
              f"import numpy\n\nfrom derive.compile.runtime import {', '.join(RUNTIME)}\n")
    renamed = [source.replace("def _lambdifygenerated(", f"def {name}(", 1)
               for name, source in functions.items()]
    return "\n\n".join([header, *renamed])


def gradient_module(network: Network, names: Sequence[str] = ("gradients",)) -> str:
    """A module of `network`'s gradient functions, per block of samples: `gradients` returns them
    all, `dL_dW1` (and so on) one each; `names` says which."""
    derivation = derivation_of(network, weight_decay=False)
    by_name = {g.name: (g,) for g in derivation.gradients} | {"gradients": derivation.gradients}
    return module_source(derivation, {name: function_source(derivation, by_name[name], per_block=True)
                                      for name in names})
