"""derive: backpropagation derived by SymPy, lambdified to NumPy, rendered as a worked example.

    from derive import dL_dW1, dL_dW2, gradients    # the seed architecture, any d, h, N
    from derive import load_example, gradient_function, derive, train
"""

from __future__ import annotations

from typing import Any

from .api import SEED, gradient_function
from .errors import DeriveError, SpecError
from .numeric import compile_derivation, train
from .spec import Example, Network, load_example
from .symbolic import Derivation, derive

__all__ = [
    "SEED", "Derivation", "DeriveError", "Example", "Network", "SpecError", "compile_derivation",
    "dL_dW1", "dL_dW2", "derive", "gradient_function", "gradients", "load_example", "train",
]

_SEED_FUNCTIONS = ("dL_dW1", "dL_dW2", "gradients")


def __getattr__(name: str) -> Any:
    # The seed's functions are derived on first use, not at import.
    if name in _SEED_FUNCTIONS:
        from .api import seed_functions

        return seed_functions()[name]
    raise AttributeError(f"module 'derive' has no attribute {name!r}")
