"""The backward pass derived by SymPy, one chain-rule step at a time, as matrix expressions.

SymPy cannot differentiate a whole network's loss with respect to W1 in matrix form (it returns
unevaluated array expressions or raises), but it does differentiate one layer at a time: the
vector-Jacobian product of a layer is the derivative of tr(Gᵀ f(A)) with respect to A, where G
is the upstream gradient. Each backward `Definition` below is the output of such a `diff`.
No I/O and no NumPy here: this module only manipulates SymPy expressions.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sympy
from sympy import Lambda, MatrixSymbol, Symbol, Trace

from .activations import ELEMENTWISE, sigmoid
from .spec import Network


@dataclass(frozen=True)
class Definition:
    """`symbol = expr`, where expr uses only symbols defined before it.

    For derived quantities `objective` is the scalar SymPy differentiated with respect to `wrt`
    to obtain `expr` (None for the forward pass and for the loss, whose definitions are given).
    """

    symbol: sympy.Basic
    expr: sympy.Basic
    meaning: str
    objective: sympy.Basic | None = None
    wrt: sympy.Basic | None = None


@dataclass(frozen=True)
class Local:
    """The scalar derivative of one layer's activation, as SymPy finds it (e.g. relu' = step)."""

    layer: int
    activation: str
    function: sympy.Basic
    derivative: sympy.Basic
    variable: Symbol


@dataclass(frozen=True)
class Derivation:
    """Forward graph, loss and every chain-rule step of one architecture, for symbolic sizes."""

    activations: tuple[str, ...]
    loss_name: str
    bias: bool
    X: MatrixSymbol
    Y: MatrixSymbol
    N: Symbol
    widths: tuple[Symbol, ...]
    parameters: tuple[MatrixSymbol, ...]
    forward: tuple[Definition, ...]
    backward: tuple[Definition, ...]
    locals: tuple[Local, ...]
    gradients: tuple[MatrixSymbol, ...]
    output_shortcut: str | None

    @property
    def definitions(self) -> tuple[Definition, ...]:
        return self.forward + self.backward

    @property
    def loss(self) -> Symbol:
        return self.forward[-1].symbol

    @property
    def arguments(self) -> tuple[MatrixSymbol, ...]:
        """The inputs of every numeric function: the data, then the parameters in layer order."""
        return (self.X, self.Y, *self.parameters)

    def composite(self, symbol: sympy.Basic) -> sympy.Basic:
        """`symbol`'s definition with every intermediate substituted: leaves only."""
        return _composites(self)[symbol]


@cache
def _composites(derivation: Derivation) -> dict[sympy.Basic, sympy.Basic]:
    resolved: dict[sympy.Basic, sympy.Basic] = {}
    for definition in derivation.definitions:
        resolved[definition.symbol] = definition.expr.xreplace(resolved)
    return resolved


def vjp(objective: sympy.Basic, wrt: MatrixSymbol) -> sympy.Basic:
    """d objective / d wrt, by SymPy's matrix calculus."""
    return objective.diff(wrt)


def derive(network: Network) -> Derivation:
    """Derive the loss and dL/dW_l (and dL/db_l) of every layer of `network`.

    The derivation holds for any widths and batch size, so it is shared by every network with
    the same activations, loss and biases.
    """
    return _derive(network.activations, network.loss, network.bias)


@cache
def _derive(activations: tuple[str, ...], loss_name: str, bias: bool) -> Derivation:
    depth = len(activations)
    widths = tuple(Symbol(f"n{l}", integer=True, positive=True) for l in range(depth + 1))
    N = Symbol("N", integer=True, positive=True)
    X = MatrixSymbol("X", widths[0], N)
    Y = MatrixSymbol("Y", widths[-1], N)
    ones = sympy.OneMatrix(N, 1)

    weights = [MatrixSymbol(f"W{l}", widths[l], widths[l - 1]) for l in range(1, depth + 1)]
    biases = [MatrixSymbol(f"b{l}", widths[l], 1) for l in range(1, depth + 1)]
    S = [MatrixSymbol(f"S{l}", widths[l], N) for l in range(1, depth + 1)]
    Z = [X] + [MatrixSymbol(f"Z{l}", widths[l], N) for l in range(1, depth + 1)]
    parameters = []
    forward, locals_ = [], []
    for l in range(1, depth + 1):
        pre = weights[l - 1] * Z[l - 1]
        parameters.append(weights[l - 1])
        if bias:
            pre = pre + biases[l - 1] * ones.T
            parameters.append(biases[l - 1])
        forward.append(Definition(S[l - 1], pre, f"pre-activation of layer {l}"))
        activation = activations[l - 1]
        forward.append(Definition(Z[l], _activate(activation, S[l - 1]), f"output of layer {l}"))
        if activation in ELEMENTWISE:
            locals_.append(_local(l, activation))
    loss = Symbol("L")
    output = Z[-1]
    forward.append(Definition(loss, _loss(loss_name, Y, output, N), f"{loss_name} loss"))

    backward, gradients = [], []
    shortcut = _output_shortcut(activations[-1], loss_name)
    if shortcut:
        k = widths[-1]
        scale = 1 / N if loss_name == "cross_entropy" else 1 / (N * k)
        delta = MatrixSymbol(f"delta{depth}", widths[-1], N)
        backward.append(Definition(delta, scale * (output - Y), f"dL/dS{depth}"))
    else:
        upstream = MatrixSymbol(f"G{depth}", widths[-1], N)
        backward.append(Definition(upstream, vjp(forward[-1].expr, output), f"dL/dZ{depth}",
                                   forward[-1].expr, output))
    for l in range(depth, 0, -1):
        if not (shortcut and l == depth):
            upstream = backward[-1].symbol
            delta = MatrixSymbol(f"delta{l}", widths[l], N)
            objective = Trace(upstream.T * _activate(activations[l - 1], S[l - 1]))
            backward.append(Definition(delta, vjp(objective, S[l - 1]), f"dL/dS{l}",
                                       objective, S[l - 1]))
        delta = backward[-1].symbol
        objective = Trace(delta.T * forward[2 * (l - 1)].expr)
        for parameter in (weights[l - 1], biases[l - 1]) if bias else (weights[l - 1],):
            gradient = MatrixSymbol(f"dL_d{parameter.name}", *parameter.shape)
            backward.append(Definition(gradient, vjp(objective, parameter),
                                       f"dL/d{parameter.name}", objective, parameter))
            gradients.append(gradient)
        if l > 1:
            upstream = MatrixSymbol(f"G{l - 1}", widths[l - 1], N)
            backward.append(Definition(upstream, vjp(objective, Z[l - 1]), f"dL/dZ{l - 1}",
                                       objective, Z[l - 1]))
    order = {p.name: i for i, p in enumerate(parameters)}
    gradients.sort(key=lambda g: order[g.name.removeprefix("dL_d")])
    return Derivation(activations, loss_name, bias, X, Y, N, widths, tuple(parameters), tuple(forward),
                      tuple(backward), tuple(locals_), tuple(gradients), shortcut)


def _activate(name: str, S: MatrixSymbol) -> sympy.Basic:
    if name == "linear":
        return S
    if name == "softmax":
        return Softmax(S)
    x = sympy.Dummy("x")
    return S.applyfunc(Lambda(x, ELEMENTWISE[name](x)))


def _local(layer: int, name: str) -> Local:
    x = Symbol("x", real=True)
    function = ELEMENTWISE[name](x)
    return Local(layer, name, function, sympy.diff(function, x), x)


def _loss(name: str, Y: MatrixSymbol, output: sympy.Basic, N: Symbol) -> sympy.Basic:
    k = Y.shape[0]
    residual = Y - output
    x = sympy.Dummy("x")
    if name == "l2":
        return Trace(residual * residual.T) / (2 * N)
    if name == "mse":
        return Trace(residual * residual.T) / (N * k)
    log = output.applyfunc(Lambda(x, sympy.log(x)))
    if name == "cross_entropy":
        return -Trace(Y.T * log) / N
    log1m = output.applyfunc(Lambda(x, sympy.log(1 - x)))
    return -(Trace(Y.T * log) + Trace((sympy.OneMatrix(*Y.shape) - Y).T * log1m)) / (N * k)


def _output_shortcut(output: str, loss: str) -> str | None:
    """The loss/activation pairs whose output delta is ŷ - y (scaled), proven per entry below."""
    pair = (output, loss)
    return {("sigmoid", "bce"): "sigmoid_bce", ("softmax", "cross_entropy"): "softmax_ce"}.get(pair)


def shortcut_proof(kind: str, k: int) -> tuple[sympy.Basic, sympy.Basic]:
    """The per-sample loss and SymPy's derivative of it with respect to the first pre-activation.

    The derivative simplifies to ŷ₁ - y₁, which is why the output delta is (Ŷ - Y) scaled:
    sigmoid with binary cross-entropy entry by entry, softmax with cross-entropy per column
    (given that the targets of a column sum to 1).
    """
    if kind == "sigmoid_bce":
        s, y = sympy.symbols("s y", real=True)
        ell = -(y * sympy.log(sigmoid(s)) + (1 - y) * sympy.log(1 - sigmoid(s)))
        derivative = sympy.diff(ell, s)
        return ell, sympy.simplify(derivative.rewrite(sympy.exp) - (sigmoid(s).rewrite(sympy.exp) - y))
    s = sympy.symbols(f"s1:{k + 1}", real=True)
    y = sympy.symbols(f"y1:{k + 1}", real=True)
    total = sum(sympy.exp(v) for v in s)
    ell = -sum(yj * sympy.log(sympy.exp(sj) / total) for yj, sj in zip(y, s))
    derivative = sympy.diff(ell, s[0])
    residual = derivative - (sympy.exp(s[0]) / total - y[0])
    return ell, sympy.simplify(residual.subs(y[-1], 1 - sum(y[:-1])))


class Softmax(sympy.MatrixExpr):
    """Column-wise softmax of a matrix expression (the output layer of a classifier)."""

    def __new__(cls, arg):
        return super().__new__(cls, arg)

    @property
    def arg(self):
        return self.args[0]

    @property
    def shape(self):
        return self.arg.shape

    def _entry(self, i, j, **kwargs):
        k = sympy.Dummy("k", integer=True)
        total = sympy.Sum(sympy.exp(self.arg[k, j]), (k, 0, self.rows - 1))
        return sympy.exp(self.arg[i, j]) / total

    def _latex(self, printer):
        return rf"\operatorname{{softmax}}\left({printer._print(self.arg)}\right)"

