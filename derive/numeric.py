"""NumPy functions lambdified from a `Derivation`, and the training run of an example."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
import sympy
from sympy.printing.numpy import NumPyPrinter

from .spec import Example
from .symbolic import Derivation, derive


class MatrixNumPyPrinter(NumPyPrinter):
    """NumPyPrinter that also prints element-wise functions of matrices, traces and softmax.

    `dimensions` maps each size symbol to the code that reads it off an argument's shape, so the
    functions work for any widths and batch size without taking them as arguments.
    """

    def __init__(self, dimensions: dict[sympy.Symbol, str]) -> None:
        super().__init__()
        self._dimensions = dimensions

    def _print_Symbol(self, expr: sympy.Symbol) -> str:
        return self._dimensions.get(expr) or super()._print_Symbol(expr)

    def _print_ElementwiseApplyFunction(self, expr: sympy.Basic) -> str:
        # Print the scalar body with its variable standing for the (already printed) matrix.
        (variable,), body = expr.function.variables, expr.function.expr
        argument = sympy.Symbol(f"({self._print(expr.expr)})")
        return self._print(body.xreplace({variable: argument}))

    def _print_Trace(self, expr: sympy.Basic) -> str:
        # tr(P Q) = sum(Pᵀ ∘ Q): never forms the product, which is N x N for tr(Yᵀ log Ŷ).
        factors = [a for a in getattr(expr.arg, "args", ()) if isinstance(a, sympy.MatrixExpr)]
        if isinstance(expr.arg, sympy.MatMul) and len(factors) == 2:
            coefficient = sympy.Mul(*(a for a in expr.arg.args if a not in factors))
            P, Q = factors
            total = f"{self._module_format('numpy.sum')}(({self._print(P.T)}) * ({self._print(Q)}))"
            return total if coefficient == 1 else f"{self._print(coefficient)}*{total}"
        return f"{self._module_format('numpy.trace')}({self._print(expr.arg)})"

    def _print_relu(self, expr: sympy.Basic) -> str:
        return f"{self._module_format('numpy.maximum')}({self._print(expr.args[0])}, 0.0)"

    def _print_step(self, expr: sympy.Basic) -> str:
        return f"{self._module_format('numpy.heaviside')}({self._print(expr.args[0])}, 0.0)"

    def _print_leaky_relu(self, expr: sympy.Basic) -> str:
        x = self._print(expr.args[0])
        return f"{self._module_format('numpy.where')}({x} > 0, {x}, 0.01*{x})"

    def _print_leaky_step(self, expr: sympy.Basic) -> str:
        x = self._print(expr.args[0])
        return f"{self._module_format('numpy.where')}({x} > 0, 1.0, 0.01)"

    def _print_sigmoid(self, expr: sympy.Basic) -> str:
        # 1/(1+e^-x) written with tanh, which neither overflows nor loses precision.
        return f"(0.5 + 0.5*{self._module_format('numpy.tanh')}(0.5*{self._print(expr.args[0])}))"

    def _print_Softmax(self, expr: sympy.Basic) -> str:
        return f"softmax({self._print(expr.arg)})"


def softmax(S: np.ndarray) -> np.ndarray:
    """Column-wise softmax, shifted by each column's maximum so exp never overflows."""
    shifted = np.exp(S - S.max(axis=0, keepdims=True))
    return shifted / shifted.sum(axis=0, keepdims=True)


def lambdify(derivation: Derivation, exprs: list[sympy.Basic] | sympy.Basic) -> Callable:
    """SymPy's lambdify of `exprs` as a function of (X, Y, *parameters).

    Common subexpressions are shared across all `exprs`, but never pulled out of the body of an
    element-wise function, where they would refer to its bound variable.
    """
    bound = {v for e in sympy.sympify(exprs if isinstance(exprs, list) else [exprs])
             for f in e.atoms(sympy.Lambda) for v in f.variables}
    return sympy.lambdify(
        derivation.arguments, exprs,
        modules=[{"softmax": softmax}, "numpy"],
        printer=MatrixNumPyPrinter(_dimensions(derivation)),
        cse=lambda e: sympy.cse(e, ignore=bound, list=False),
        docstring_limit=0,
    )


def _dimensions(derivation: Derivation) -> dict[sympy.Symbol, str]:
    """Each size symbol read off the shape of an argument: N and n0 from X, n_l from W_l."""
    weights = [p for p in derivation.parameters if p.name.startswith("W")]
    dimensions = {derivation.N: "X.shape[1]", derivation.widths[0]: "X.shape[0]"}
    for width, weight in zip(derivation.widths[1:], weights):
        dimensions[width] = f"{weight.name}.shape[0]"
    return dimensions


@dataclass(frozen=True)
class Compiled:
    """The lambdified functions of one derivation.

    `intermediates` returns every defined quantity (forward and backward) in definition order;
    `gradients` returns dL/dθ for every parameter θ; `loss` returns L alone. All take the derivation's arguments
    (X, Y, parameters...) with X as d x N and Y as k x N.
    """

    derivation: Derivation
    intermediates: Callable
    gradients: Callable
    loss: Callable

    def source(self) -> str:
        """The Python source lambdify generated for the gradients: what SymPy produced."""
        return inspect.getsource(self.gradients)


@cache
def compile_derivation(derivation: Derivation) -> Compiled:
    """Lambdify every intermediate and, separately, just the gradients (less work per call)."""
    every = [derivation.composite(d.symbol) for d in derivation.definitions]
    gradients = [derivation.composite(g) for g in derivation.gradients]
    loss = lambdify(derivation, derivation.composite(derivation.loss))
    return Compiled(derivation, lambdify(derivation, every), lambdify(derivation, gradients),
                    lambda *arguments: float(loss(*arguments)))


def as_columns(y: np.ndarray, k: int) -> np.ndarray:
    """Targets as k x N: a flat length-N vector is one row."""
    y = np.asarray(y, dtype=float)
    return y.reshape(1, -1) if y.ndim == 1 else y.reshape(k, -1)


@dataclass(frozen=True)
class TrainingStep:
    """One SGD step: the parameters used, every intermediate, the gradients and the update."""

    parameters: dict[str, np.ndarray]
    values: dict[str, np.ndarray]
    loss: float
    gradients: dict[str, np.ndarray]
    updated: dict[str, np.ndarray]


def train(example: Example) -> list[TrainingStep]:
    """Run the example's SGD steps on the whole batch, recording every number."""
    derivation = derive(example.network)
    compiled = compile_derivation(derivation)
    names = [p.name for p in derivation.parameters]
    parameters = example.parameters
    steps = []
    for _ in range(example.steps):
        results = compiled.intermediates(example.X, example.Y, *parameters.values())
        values = {d.symbol.name: _array(r) for d, r in zip(derivation.definitions, results)}
        gradients = {name: values[f"dL_d{name}"] for name in names}
        updated = {name: parameters[name] - example.learning_rate * gradients[name]
                   for name in names}
        steps.append(TrainingStep(parameters, values, float(values["L"]), gradients, updated))
        parameters = updated
    return steps


def _array(value: object) -> np.ndarray:
    return np.asarray(value, dtype=float)
