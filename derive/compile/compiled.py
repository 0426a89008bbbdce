"""The lambdified functions of a derivation, loaded once per process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from ..symbolic import Derivation
from . import cache as code_cache
from . import runtime
from .printer import function_source, module_source


@dataclass(frozen=True)
class Compiled:
    """The lambdified functions of one derivation.

    `intermediates` returns every defined quantity (forward and backward) in definition order;
    `gradients` returns dL/dθ for every parameter θ; `loss` returns L alone. All take the
    derivation's arguments (X, Y, parameters...) with X as d x N and Y as k x N. `gradients`
    evaluates `code`, lambdify's source, over blocks of samples.
    """

    derivation: Derivation
    intermediates: Callable
    gradients: Callable
    loss: Callable
    code: str

    def source(self) -> str:
        """The Python source lambdify generated for the gradients: what SymPy produced."""
        return self.code


@cache
def compile_derivation(derivation: Derivation) -> Compiled:
    """Lambdify every intermediate and, separately, just the gradients (less work per call)."""
    sources = {
        "intermediates": _intermediates_source(derivation),
        "gradients": function_source(derivation, derivation.gradients, per_block=True),
        "loss": function_source(derivation, derivation.loss, per_block=False),
    }
    functions = code_cache.load(module_source(derivation, sources), _name(derivation))
    loss, kernel = functions["loss"], functions["gradients"]
    if derivation.penalty is None:
        gradients = runtime.blocked(kernel, bias=derivation.bias)
    else:
        # The decay term is not a sum over samples: no blocks.
        def gradients(X, Y, *arguments):
            return kernel(X, Y, *arguments, X.shape[1])
    return Compiled(derivation, functions["intermediates"], gradients,
                    lambda *arguments: float(loss(*arguments)), sources["gradients"])


@cache
def compile_changes(derivation: Derivation, changed: frozenset[str]) -> Callable[..., dict]:
    """The definitions named in `changed`, lambdified: a function of the derivation's arguments
    and `known`, the values of the others by name, returning the changed ones by name. A
    rewrite of a derivation (a catalogued mistake) prints only the lines it changes, its other
    values being the derivation's own, as a page's script does."""
    computed = [d for d in derivation.definitions if d.symbol.name in changed]
    used = set().union(*(d.expr.free_symbols for d in computed))
    given = tuple(d.symbol for d in derivation.definitions
                  if d.symbol.name not in changed and d.symbol in used)
    source = function_source(derivation, [d.symbol for d in computed], per_block=False,
                             given=given)
    function = code_cache.load(module_source(derivation, {"changes": source}),
                               _name(derivation))["changes"]

    def changes(*arguments: Any, known: dict[str, Any]) -> dict[str, Any]:
        results = function(*arguments, *(known[symbol.name] for symbol in given))
        return {d.symbol.name: result for d, result in zip(computed, results)}

    return changes


def _intermediates_source(derivation: Derivation) -> str:
    """lambdify's source of the function returning every definition, in order."""
    return function_source(derivation, [d.symbol for d in derivation.definitions],
                           per_block=False)


def _name(derivation: Derivation) -> str:
    """The generated module's name in tracebacks: the derivation it is the code of."""
    return (f"<derive: {', '.join(derivation.activations)}; {derivation.loss_name} "
            f"({derivation.reduction}); "
            f"bias={derivation.bias}; leaky slope {derivation.leaky_slope}; "
            f"weight decay={derivation.penalty is not None}>")
