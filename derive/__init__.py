"""derive: backpropagation derived by SymPy, lambdified to NumPy, rendered as a worked example.

    from derive import dL_dW1, dL_dW2, gradients    # the seed architecture, any d, h, N
    from derive import worked_example               # one example: derivation, steps, checks
    from derive import load_example, gradient_function, derive, train

Arrays follow the math: X is d x N (one column per sample), Y is k x N and W_l is n_l x n_(l-1)
(row i holds the weights into unit i). help() of each gradient function, load_example and
worked_example gives its arguments' shapes, what it returns and an example; a mis-shaped
argument of a gradient function is one ValueError naming it and the fix.

Every name is imported on first use, so `from derive import dL_dW1` costs NumPy's import and a
read of the cached generated code, not SymPy's import (see `derive.compile`).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .errors import DeriveError, SpecError

_LAZY = {
    "SEED": "api", "gradient_function": "api",
    "compile_derivation": "compile.compiled", "train": "training",
    "Example": "spec", "Network": "spec", "load_example": "spec",
    "Derivation": "symbolic", "derive": "symbolic",
    "WorkedExample": "worked", "worked_example": "worked",
    "RenderOptions": "present.options",
}
_SEED_FUNCTIONS = ("dL_dW1", "dL_dW2", "gradients")

__all__ = [
    "SEED", "Derivation", "DeriveError", "Example", "Network", "RenderOptions", "SpecError",
    "WorkedExample", "compile_derivation", "dL_dW1", "dL_dW2", "derive", "gradient_function",
    "gradients", "load_example", "train", "worked_example",
]


def __getattr__(name: str) -> Any:
    if name in _SEED_FUNCTIONS:
        from .api import seed_functions

        value = seed_functions()[name]
    elif name in _LAZY:
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
