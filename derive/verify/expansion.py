"""The element-wise cross-check: differentiate the expanded scalar loss weight by weight.

On a concrete example (data as exact rationals, every weight a symbol) SymPy evaluates the
forward pass on explicit matrices, so L becomes one scalar expression, differentiates it with
respect to each weight, and shows that the difference from the matrix-form chain rule (evaluated
the same way) expands to zero.

A softmax output layer is not expanded: its step is proven entry by entry on its own
(`verify.proofs`), and expanding its exponentials took minutes for a handful of weights. The
check then stops at the softmax's pre-activation, with the output delta as a matrix of symbols,
and (with l2 or mse) checks G of the output layer on the loss expanded in its entries.

The work grows with the paths from a weight to the output (each is a term of its derivative) and
doubles with each tanh or sigmoid layer (their derivatives have two terms): `expanded_terms`
counts it from the shape alone, and only networks within `MAX_TERMS` are expanded.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import sympy
from sympy.polys.rings import PolyRing

from ..spec import Example, Network
from ..symbolic import Definition, Derivation
from ..training import rational, rational_matrix

MAX_TERMS = 500
"""Largest `expanded_terms` still expanded (about a second here); larger networks rely on the
matrix form, the gradient check and the output-layer proof."""
_TWO_TERMS = {"tanh", "sigmoid"}
"""Activations whose derivative has two terms once expanded: 1 - tanh², σ - σ²."""


@dataclass(frozen=True)
class Expansion:
    """The expanded objective (the loss, plus the decay term with weight decay), the
    element-wise gradients and their difference from the matrix form.

    Below a softmax `upstream` holds the symbols standing for the output delta, the objective is
    their product with the output layer's pre-activation, and `difference` also holds G of the
    output layer (l2, mse) against the loss expanded in the output's entries.
    """

    weights: dict[str, sympy.Matrix]
    loss: sympy.Basic
    elementwise: dict[str, sympy.Matrix]
    difference: dict[str, sympy.Matrix]
    upstream: sympy.Matrix | None = None

    def agrees(self) -> bool:
        """Whether every element-wise derivative equals the matrix form, exactly."""
        return all(d.is_zero_matrix for d in self.difference.values())


def expanded_terms(example: Example) -> int:
    """An upper estimate of the terms of every element-wise derivative once expanded: for each
    weight, its paths to the output times the terms of the loss's and activations' derivatives,
    for every sample."""
    network = example.network
    sizes, depth = network.sizes, network.depth
    entries = _entry_terms(network)
    top = _output_terms(network, entries[-1])
    total = 0
    for layer in range(1, depth + 1):
        paths = 1
        for above in range(layer + 1, depth + 1):
            fan_in = 1 if above == layer + 1 else sizes[above - 1]
            paths *= fan_in * _derivative_terms(network.activations[above - 2])
        outputs = 1 if layer == depth else sizes[-1]
        weights = sizes[layer] * (sizes[layer - 1] * entries[layer - 1] + network.bias)
        total += example.X.shape[1] * outputs * top * paths * weights
    return total


def _entry_terms(network: Network) -> list[int]:
    """Terms of one entry of each layer's output Z (X first): a linear layer's sum of products
    expands; any other activation is one function of it."""
    terms = [1]
    for layer, activation in enumerate(network.activations, start=1):
        pre = network.sizes[layer - 1] * terms[-1] + network.bias
        terms.append(pre if activation == "linear" else 1)
    return terms


def _output_terms(network: Network, output: int) -> int:
    """Terms of dL/dS of one output entry: an output delta symbol below a softmax, σ(s) - y
    style terms for bce, a step of each class's margin for hinge, else the residual times the
    activation's derivative."""
    if network.activations[-1] == "softmax":
        return 1
    if network.loss == "bce":
        return 4
    if network.loss == "hinge":
        return 2 * network.sizes[-1] * _derivative_terms(network.activations[-1])
    return (output + 1) * _derivative_terms(network.activations[-1])


def _derivative_terms(activation: str) -> int:
    return 2 if activation in _TWO_TERMS else 1


def entry_symbol(name: str, row: int, column: int) -> sympy.Symbol:
    """The symbol standing for entry (row, column) of matrix `name`, counted from 0.

    Real, as a weight is: SymPy asks of each new term of a derivative whether it is zero or
    infinite, and of real symbols it learns that sooner (the check takes about a sixth less
    time than with symbols it knows nothing of, and finds the same expressions)."""
    return sympy.Symbol(f"{name}[{row},{column}]", real=True)


def expand(derivation: Derivation, example: Example) -> Expansion:
    """Expand the loss of `example`'s data with symbolic weights and compare both derivatives."""
    weights = {p.name: _symbols(p.name, *value.shape)
               for p, value in zip(derivation.parameters, example.parameters.values())}
    known = {**_data(derivation, example), **{p: weights[p.name] for p in derivation.parameters}}
    if derivation.activations[-1] == "softmax":
        return _below_softmax(derivation, known, weights)
    values = _evaluate(derivation, known)
    return _compare(derivation, weights, values[derivation.objective], values)


def _data(derivation: Derivation, example: Example) -> dict[sympy.Basic, sympy.Basic]:
    """The data as fractions, the sizes and λ: everything but the weights."""
    Y = rational_matrix(example.Y)
    if derivation.output_shortcut == "softmax_ce":
        # The output delta Ŷ - Y holds for targets summing to 1 exactly; as fractions, decimal
        # targets may miss 1 by a rounding error, which the last row absorbs.
        Y = Y[:-1, :].col_join(sympy.ones(1, Y.cols) - sympy.ones(1, Y.rows - 1) * Y[:-1, :])
    known: dict[sympy.Basic, sympy.Basic] = {
        derivation.X: rational_matrix(example.X),
        derivation.Y: Y,
        derivation.N: example.X.shape[1],
        **dict(zip(derivation.widths, example.network.sizes)),
    }
    if derivation.penalty is not None:
        known[derivation.penalty] = rational(example.weight_decay)
    return known


def _below_softmax(derivation: Derivation, known: dict, weights: dict) -> Expansion:
    """The layers under a softmax output, its delta standing as symbols: the objective is
    Σ δ ∘ S of the output layer (plus the decay term); with l2 or mse, G of the output layer is
    checked on the loss expanded in the output's entries."""
    depth = len(derivation.activations)
    named = {d.symbol.name: d for d in derivation.definitions}
    delta = named[f"delta{depth}"]
    upstream = _symbols(delta.symbol.name, *_shape(delta.symbol, known))
    cut = derivation.backward.index(delta) + 1
    below = dataclasses.replace(
        derivation, backward=derivation.backward[cut:],
        forward=tuple(d for d in derivation.forward if d.symbol.name not in
                      {f"Z{depth}", "L", "J"}))
    values = _evaluate(below, {**known, delta.symbol: upstream})
    output = values[named[f"S{depth}"].symbol]
    objective = sum(upstream.multiply_elementwise(output)) + values.get(sympy.Symbol("R"), 0)
    expansion = _compare(below, weights, objective, values)
    if derivation.output_shortcut is None:
        expansion.difference.update(_output_gradient(derivation, known, named[f"Z{depth}"],
                                                     named[f"G{depth}"]))
    return dataclasses.replace(expansion, upstream=upstream)


def _output_gradient(derivation: Derivation, known: dict, output: Definition,
                     gradient: Definition) -> dict[str, sympy.Matrix]:
    """G of the output layer against the loss expanded in the output's entries, as symbols."""
    entries = _symbols(output.symbol.name, *_shape(output.symbol, known))
    loss = next(d for d in derivation.forward if d.symbol.name == "L")
    block = dataclasses.replace(  # the hinge loss reaches Z through its margins M and dL/dM
        derivation, forward=tuple(d for d in derivation.forward if d.symbol.name in ("M", "L")),
        backward=derivation.backward[:derivation.backward.index(gradient) + 1])
    values = _evaluate(block, {**known, output.symbol: entries})
    elementwise = entries.applyfunc(lambda z: sympy.diff(values[loss.symbol], z))
    return {gradient.symbol.name: (elementwise - values[gradient.symbol]).applyfunc(_simplified)}


def _evaluate(derivation: Derivation, known: dict) -> dict[sympy.Basic, sympy.Basic]:
    """`derivation.evaluate(known)`, one definition at a time, each seeing the values before it
    as placeholder symbols: SymPy's `doit` and `replace` walk every path through an expression,
    and through the placeholders none walks into an earlier layer's expressions."""
    values, seen, back = dict(known), dict(known), {}
    for definition in derivation.definitions:
        single = dataclasses.replace(derivation, forward=(definition,), backward=())
        value = single.evaluate(seen)[definition.symbol].xreplace(back)
        values[definition.symbol] = value
        matrix = isinstance(value, sympy.MatrixBase)
        placeholder = value.applyfunc(lambda _: sympy.Dummy()) if matrix else sympy.Dummy()
        seen[definition.symbol] = placeholder
        back.update(zip(sympy.flatten([placeholder]), sympy.flatten([value])))
    return values


def _compare(derivation: Derivation, weights: dict, objective: sympy.Basic,
             values: dict) -> Expansion:
    """The objective differentiated weight by weight, against the matrix-form gradients."""
    elementwise, difference = {}, {}
    for parameter, gradient in zip(derivation.parameters, derivation.gradients):
        symbols = weights[parameter.name]
        elementwise[parameter.name] = symbols.applyfunc(lambda w: sympy.diff(objective, w))
        difference[parameter.name] = (elementwise[parameter.name] - values[gradient]).applyfunc(
            _simplified)
    return Expansion(weights, objective, elementwise, difference)


def _symbols(name: str, rows: int, columns: int) -> sympy.ImmutableMatrix:
    return sympy.ImmutableMatrix(rows, columns, lambda i, j: entry_symbol(name, i, j))


def _shape(symbol: sympy.MatrixSymbol, known: dict) -> tuple[int, int]:
    """A matrix symbol's shape with the example's sizes."""
    return tuple(int(sympy.sympify(n).xreplace(known)) for n in symbol.shape)


def _simplified(difference: sympy.Basic) -> sympy.Basic:
    """0 when the difference vanishes as a polynomial in the weights and the activations'
    values (each tanh(...), relu(...) one variable), which needs no expansion of the
    activations' arguments; else the difference expanded and, where that leaves a sum of
    fractions, put over one denominator and cancelled."""
    if _vanishes(difference):
        return sympy.S.Zero
    expanded = sympy.expand(difference)
    return expanded if expanded == 0 else sympy.cancel(sympy.together(expanded))


def _vanishes(difference: sympy.Basic) -> bool:
    """Whether the difference is the zero polynomial in the weights and the functions of them
    (tanh(...), relu(...), each one variable), added up in SymPy's sparse polynomials. Each
    shared subexpression is converted once: a walk through the expression tree, as `expand`
    makes, visits it once per path through the network."""
    variables: dict[sympy.Basic, None] = {}
    if not _collect(difference, variables, set()):
        return False
    ring = PolyRing([sympy.Dummy() for _ in variables], sympy.QQ)
    gens = dict(zip(variables, ring.gens))
    return not _polynomial(difference, ring, gens, {})


def _collect(expr: sympy.Basic, variables: dict, seen: set) -> bool:
    """Gather the variables of a polynomial expression; False when it is not one."""
    if expr in seen:
        return True
    seen.add(expr)
    if isinstance(expr, sympy.Add | sympy.Mul):
        return all(_collect(arg, variables, seen) for arg in expr.args)
    if isinstance(expr, sympy.Pow):
        return (expr.exp.is_Integer and expr.exp > 0) and _collect(expr.base, variables, seen)
    if not expr.is_Rational:
        if not isinstance(expr, sympy.Symbol | sympy.Function):
            return False
        variables[expr] = None
    return True


def _polynomial(expr: sympy.Basic, ring: PolyRing, gens: dict, done: dict):
    """expr as an element of `ring`, each subexpression converted once."""
    if expr in done:
        return done[expr]
    if isinstance(expr, sympy.Add):
        value = ring.zero
        for arg in expr.args:
            value += _polynomial(arg, ring, gens, done)
    elif isinstance(expr, sympy.Mul):
        value = ring.one
        for arg in expr.args:
            value *= _polynomial(arg, ring, gens, done)
    elif isinstance(expr, sympy.Pow):
        value = _polynomial(expr.base, ring, gens, done) ** int(expr.exp)
    elif expr.is_Rational:
        value = ring.ground_new(sympy.QQ(int(expr.p), int(expr.q)))
    else:
        value = gens[expr]
    done[expr] = value
    return value
