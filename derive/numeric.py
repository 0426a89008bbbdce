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
    """NumPyPrinter that also prints element-wise functions of matrices, traces and softmax."""

    def _print_ElementwiseApplyFunction(self, expr: sympy.Basic) -> str:
        # Print the scalar body with its variable standing for the (already printed) matrix.
        (variable,), body = expr.function.variables, expr.function.expr
        argument = sympy.Symbol(f"({self._print(expr.expr)})")
        return self._print(body.xreplace({variable: argument}))

    def _print_Trace(self, expr: sympy.Basic) -> str:
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


def lambdify(args: tuple[sympy.Basic, ...], exprs: list[sympy.Basic]) -> Callable:
    """SymPy's lambdify with common subexpressions shared across all `exprs`."""
    return sympy.lambdify(args, exprs, modules=[{"softmax": softmax}, "numpy"],
                          printer=MatrixNumPyPrinter, cse=True, docstring_limit=0)


@dataclass(frozen=True)
class Compiled:
    """The lambdified functions of one derivation.

    `intermediates` returns every defined quantity (forward and backward) in definition order;
    `gradients` returns dL/dθ for every parameter θ. Both take the derivation's leaves
    (X, Y, parameters..., N) with X as d x N and Y as k x N.
    """

    derivation: Derivation
    intermediates: Callable
    gradients: Callable

    def source(self) -> str:
        """The Python source lambdify generated for the gradients: what SymPy produced."""
        return inspect.getsource(self.gradients)


@cache
def compile_derivation(derivation: Derivation) -> Compiled:
    """Lambdify every intermediate and, separately, just the gradients (less work per call)."""
    leaves = derivation.leaves
    every = [derivation.composite(d.symbol) for d in derivation.definitions]
    gradients = [derivation.composite(g) for g in derivation.gradients]
    return Compiled(derivation, lambdify(leaves, every), lambdify(leaves, gradients))


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
        results = compiled.intermediates(example.X, example.Y, *parameters.values(),
                                         example.X.shape[1])
        values = {d.symbol.name: _array(r) for d, r in zip(derivation.definitions, results)}
        gradients = {name: values[f"dL_d{name}"] for name in names}
        updated = {name: parameters[name] - example.learning_rate * gradients[name]
                   for name in names}
        steps.append(TrainingStep(parameters, values, float(values["L"]), gradients, updated))
        parameters = updated
    return steps


def _array(value: object) -> np.ndarray:
    return np.asarray(value, dtype=float)
