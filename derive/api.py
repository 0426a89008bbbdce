"""Gradient functions for users: any network's, and the seed architecture's by name."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np

from .numeric import as_columns, compile_derivation, lambdify
from .spec import Network
from .symbolic import derive

SEED = Network(sizes=(2, 3, 1), activations=("relu", "linear"), loss="l2", bias=False)
"""The seed's architecture; its derivation holds for any input width, hidden width and N."""

GradientFunction = Callable[..., tuple[np.ndarray, ...]]


def gradient_function(network: Network) -> GradientFunction:
    """`f(X, y, *parameters) -> (dL/dθ for θ in W1, b1, W2, ...)` with one shared forward pass.

    X is d x N (columns are samples), y is k x N or a length-N vector when k = 1; parameters come
    in the order W1, (b1,) W2, (b2,) ... with biases as columns or flat vectors.
    """
    batched = _batched(compile_derivation(derive(network)).gradients, network)
    return lambda X, y, *parameters: tuple(batched(X, y, *parameters))


def _batched(function: Callable, network: Network) -> Callable:
    """Adapt a lambdified function of (X, Y, *parameters) to user-shaped arguments."""
    k = network.sizes[-1]

    def call(X, y, *parameters):
        X = np.asarray(X, dtype=float)
        parameters = [np.asarray(p, dtype=float) for p in parameters]
        if network.bias:
            parameters = [p.reshape(-1, 1) if i % 2 else p for i, p in enumerate(parameters)]
        return function(X, as_columns(y, k), *parameters)

    return call


@cache
def seed_functions() -> dict[str, Callable]:
    """`gradients`, `dL_dW1` and `dL_dW2` for the seed architecture, each lambdified by SymPy."""
    derivation = derive(SEED)
    functions = {"gradients": gradient_function(SEED)}
    for gradient in derivation.gradients:
        single = lambdify(derivation, derivation.composite(gradient))
        functions[gradient.name] = _batched(single, SEED)
    return functions
