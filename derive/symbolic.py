"""The backward pass derived by SymPy, one chain-rule step at a time, as matrix expressions.

SymPy cannot differentiate a whole network's loss with respect to W1 in matrix form (it returns
unevaluated array expressions or raises), but it does differentiate one layer at a time: the
vector-Jacobian product of a layer is the derivative of tr(Gᵀ f(A)) with respect to A, where G
is the upstream gradient. Each backward `Definition` below is the output of such a `diff`.
No I/O and no NumPy here: this module only manipulates SymPy expressions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

import sympy
from sympy import Lambda, MatrixSymbol, Symbol, Trace

from .ops import ELEMENTWISE, LogSoftmax, Softmax, elementwise, log_sigmoid, relu
from .spec import CLASSIFIERS, Network


@dataclass(frozen=True)
class Definition:
    """`symbol = expr`, where expr uses only symbols defined before it.

    For derived quantities `objective` is the scalar SymPy differentiated with respect to `wrt`
    to obtain `expr` (None for the forward pass and for the loss, whose definitions are given).
    """

    symbol: sympy.Basic
    expr: sympy.Basic
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
    reduction: str
    bias: bool
    leaky_slope: sympy.Rational
    penalty: Symbol | None
    """λ of the weight-decay term (λ/2) Σ_l ‖W_l‖² (and ‖b_l‖² when `decay_biases`) added to
    the loss, or None without one."""
    decay_biases: bool
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
        """L, the data's loss."""
        return Symbol("L")

    @property
    def objective(self) -> Symbol:
        """What SGD minimises: J = L + R with weight decay, else L."""
        return self.forward[-1].symbol

    @property
    def arguments(self) -> tuple[sympy.Basic, ...]:
        """The inputs of every numeric function: the data, the parameters in layer order, and
        λ when there is weight decay."""
        penalty = (self.penalty,) if self.penalty is not None else ()
        return (self.X, self.Y, *self.parameters, *penalty)

    def changed_from(self, original: Derivation) -> frozenset[str]:
        """The names of this rewrite's definitions whose formula differs from `original`'s or
        uses one that does: the others have `original`'s values."""
        formulas = {d.symbol.name: d.expr for d in original.definitions}
        changed: set[str] = set()
        for definition in self.definitions:
            name = definition.symbol.name
            if (formulas.get(name) != definition.expr
                    or any(s.name in changed for s in definition.expr.free_symbols)):
                changed.add(name)
        return frozenset(changed)

    def needed(self, outputs: Sequence[sympy.Basic],
               given: Sequence[sympy.Basic] = ()) -> list[Definition]:
        """The definitions `outputs` depend on, in definition order: what code computing
        them must print, where the values of the definitions `given` are known."""
        wanted = set(outputs)
        needed = []
        for definition in reversed(self.definitions):
            if definition.symbol in wanted and definition.symbol not in given:
                needed.append(definition)
                wanted |= definition.expr.free_symbols
        return needed[::-1]

    def width_sources(self) -> dict[Symbol, tuple[str, int]]:
        """Each width as the argument and axis its size is read from: n0 from X's rows, n_l from
        W_l's rows, so printed code works for any widths."""
        weights = [p.name for p in self.parameters if p.name.startswith("W")]
        return {width: (name, 0) for width, name in zip(self.widths, ["X", *weights])}

    def evaluate(self, known: dict[sympy.Basic, sympy.Basic]) -> dict[sympy.Basic, sympy.Basic]:
        """Every definition evaluated on explicit matrices (exact numbers or symbols) in `known`,
        which also gives the sizes; matrices come back as ImmutableMatrix, the loss as a scalar."""
        values = dict(known)
        constant = (sympy.OneMatrix, sympy.Identity, sympy.ZeroMatrix)
        for definition in self.definitions:
            expr = definition.expr.xreplace(values).replace(
                lambda e: isinstance(e, constant), lambda e: sympy.ImmutableMatrix(e.as_explicit()))
            values[definition.symbol] = _explicit(expr.doit())
        return values


def _explicit(value: sympy.Basic) -> sympy.Basic:
    """A matrix expression made an explicit ImmutableMatrix; a scalar left as it is."""
    if isinstance(value, sympy.MatrixBase | sympy.MatrixExpr):
        return sympy.ImmutableMatrix(value.as_explicit())
    return sympy.nsimplify(value) if value.is_Float else value


@lru_cache(maxsize=1024)
def vjp(objective: sympy.Basic, wrt: MatrixSymbol) -> sympy.Basic:
    """d objective / d wrt, by SymPy's matrix calculus; once per process for each step, which
    networks sharing a layer's kind and place share (their widths are symbols)."""
    return objective.diff(wrt)


def derive(network: Network, *, weight_decay: bool = False,
           decay_biases: bool = False) -> Derivation:
    """Derive the loss and dL/dW_l (and dL/db_l) of every layer of `network`; with
    `weight_decay`, also the decay term's gradients and dJ/dW_l of the objective J = L + R
    (and dJ/db_l with `decay_biases`).

    The derivation holds for any widths, batch size and λ, so it is shared by every network with
    the same activations, loss, reduction, biases and leaky slope.
    """
    slope = sympy.Rational(repr(float(network.leaky_slope)))
    return _derive(network.activations, network.loss, network.reduction, network.bias, slope,
                   weight_decay, decay_biases and weight_decay and network.bias)


@cache
def _derive(activations: tuple[str, ...], loss_name: str, reduction: str, bias: bool,
            leaky_slope: sympy.Rational, weight_decay: bool, decay_biases: bool) -> Derivation:
    depth = len(activations)
    widths = tuple(Symbol(f"n{l}", integer=True, positive=True) for l in range(depth + 1))
    N = Symbol("N", integer=True, positive=True)
    X = MatrixSymbol("X", widths[0], N)
    Y = MatrixSymbol("Y", widths[-1], N)
    layers = [_Layer(l, activations[l - 1], widths[l], widths[l - 1], N, bias, leaky_slope)
              for l in range(1, depth + 1)]
    penalty = Symbol("weight_decay", nonnegative=True) if weight_decay else None
    decayed = tuple(p for layer in layers for p in layer.parameters
                    if p.name.startswith("W") or decay_biases)
    divisor = _divisor(loss_name, reduction, N, widths[-1])
    forward = _forward(layers, X, Y, N, loss_name, divisor, penalty, decayed)
    shortcut = _output_shortcut(activations[-1], loss_name)
    loss = next(d for d in forward if d.symbol == Symbol("L"))
    backward = _backward(layers, X, Y, divisor, loss, forward, shortcut)
    if penalty is not None:
        backward += _penalty_gradients(decayed, penalty)
    parameters = tuple(p for layer in layers for p in layer.parameters)
    gradients = tuple(MatrixSymbol(f"d{'J' if p in decayed and penalty else 'L'}_d{p.name}",
                                   *p.shape) for p in parameters)
    locals_ = tuple(_local(layer.index, layer.activation, leaky_slope) for layer in layers
                    if layer.activation in ELEMENTWISE)
    return Derivation(activations, loss_name, reduction, bias, leaky_slope, penalty,
                      decay_biases, X, Y, N, widths, parameters, forward, backward, locals_,
                      gradients, shortcut)


def _divisor(loss_name: str, reduction: str, N: Symbol, k: Symbol) -> sympy.Basic:
    """What the sum of the loss's entries is divided by: N·k for the mean of N samples' k
    outputs, N for the mean of the samples' losses (batchmean, and the mean of a classifier,
    whose entry is a sample), 1 for the sum."""
    if reduction == "sum":
        return sympy.S.One
    if reduction == "batchmean" or loss_name in CLASSIFIERS:
        return N
    return N * k


def _penalty_gradients(decayed: tuple[MatrixSymbol, ...],
                       penalty: Symbol) -> tuple[Definition, ...]:
    """dR/dθ of the decay term for each decayed parameter θ, by SymPy, and dJ/dθ = dL/dθ + dR/dθ.

    Each parameter's term of R is differentiated on its own: SymPy 1.14 returns 0 for the
    derivative of a sum of traces of different matrices, and the other terms do not hold θ.
    """
    steps = []
    for parameter in decayed:
        decay = MatrixSymbol(f"dR_d{parameter.name}", *parameter.shape)
        term = penalty / 2 * Trace(parameter.T * parameter)
        steps.append(Definition(decay, vjp(term, parameter), term, parameter))
        steps.append(Definition(MatrixSymbol(f"dJ_d{parameter.name}", *parameter.shape),
                                MatrixSymbol(f"dL_d{parameter.name}", *parameter.shape) + decay))
    return tuple(steps)


@dataclass(frozen=True)
class _Layer:
    """The symbols of layer l: S = W Z_prev (+ b 1ᵀ), Z = f(S)."""

    index: int
    activation: str
    width: Symbol
    inputs: Symbol
    N: Symbol
    bias: bool
    leaky_slope: sympy.Rational

    @property
    def W(self) -> MatrixSymbol:
        return MatrixSymbol(f"W{self.index}", self.width, self.inputs)

    @property
    def b(self) -> MatrixSymbol:
        return MatrixSymbol(f"b{self.index}", self.width, 1)

    @property
    def parameters(self) -> tuple[MatrixSymbol, ...]:
        return (self.W, self.b) if self.bias else (self.W,)

    def S(self) -> MatrixSymbol:
        return MatrixSymbol(f"S{self.index}", self.width, self.N)

    def Z(self) -> MatrixSymbol:
        return MatrixSymbol(f"Z{self.index}", self.width, self.N)

    def activate(self, S: MatrixSymbol) -> sympy.Basic:
        """This layer's activation applied to S."""
        if self.activation == "linear":
            return S
        if self.activation == "softmax":
            return Softmax(S)
        x = sympy.Dummy("x")
        return S.applyfunc(Lambda(x, elementwise(self.activation, x, self.leaky_slope)))

    def pre_activation(self, Z_prev: MatrixSymbol) -> sympy.Basic:
        pre = self.W * Z_prev
        return pre + self.b * sympy.OneMatrix(1, self.N) if self.bias else pre


def _forward(layers: list[_Layer], X: MatrixSymbol, Y: MatrixSymbol, N: Symbol, loss_name: str,
             divisor: sympy.Basic, penalty: Symbol | None,
             decayed: tuple[MatrixSymbol, ...]) -> tuple[Definition, ...]:
    """S_l and Z_l for every layer, the hinge loss's margins M, then the loss (and with weight
    decay the decay term R and the objective J = L + R): the definitions the pages start from."""
    forward, Z_prev = [], X
    for layer in layers:
        forward.append(Definition(layer.S(), layer.pre_activation(Z_prev)))
        forward.append(Definition(layer.Z(), layer.activate(layer.S())))
        Z_prev = layer.Z()
    if loss_name == "hinge":
        forward.append(Definition(_margins_symbol(*Y.shape), _margins(Y, Z_prev)))
    loss = Symbol("L")
    forward.append(Definition(loss, _loss(loss_name, Y, Z_prev, layers[-1].S(), divisor)))
    if penalty is not None:
        decay = Symbol("R")
        forward.append(Definition(decay, penalty / 2 * sum(Trace(p.T * p) for p in decayed)))
        forward.append(Definition(Symbol("J"), loss + decay))
    return tuple(forward)


def _margins_symbol(k: Symbol, N: Symbol) -> MatrixSymbol:
    """M, the hinge loss's margins s_j − s_y + 1 of every class j of every sample."""
    return MatrixSymbol("M", k, N)


def _margins(Y: MatrixSymbol, scores: sympy.Basic) -> sympy.Basic:
    """Z − 1 1ᵀ (Y ∘ Z) + 1 1ᵀ: each score minus its sample's score of the true class, plus 1."""
    k, N = Y.shape
    return scores - sympy.OneMatrix(k, k) * sympy.HadamardProduct(Y, scores) + sympy.OneMatrix(k, N)


def _hinge(others: sympy.Basic, margins: MatrixSymbol, divisor: sympy.Basic) -> sympy.Basic:
    """Σ over the classes `others` marks (all but the true one) of max(0, M), over `divisor`."""
    x = sympy.Dummy("x")
    return Trace(others.T * margins.applyfunc(Lambda(x, relu(x)))) / divisor


def _backward(layers: list[_Layer], X: MatrixSymbol, Y: MatrixSymbol, divisor: sympy.Basic,
              loss: Definition, forward: tuple[Definition, ...],
              shortcut: str | None) -> tuple[Definition, ...]:
    """The chain rule from the loss back to the first layer, each step one SymPy `diff`.

    G_l = dL/dZ_l, δ_l = dL/dS_l, then dL/dW_l, dL/db_l and G_{l-1}, all as vector-Jacobian
    products tr(upstreamᵀ · local) differentiated by SymPy; the hinge loss passes through its
    margins first.
    """
    last = layers[-1]
    k, N = Y.shape
    if shortcut:
        backward = [Definition(MatrixSymbol(f"delta{last.index}", k, N),
                               (last.Z() - Y) / divisor)]
    elif loss.expr.has(_margins_symbol(k, N)):
        backward = _hinge_backward(last, Y, divisor, loss, forward)
    else:
        backward = [Definition(MatrixSymbol(f"G{last.index}", last.width, N),
                               vjp(loss.expr, last.Z()), loss.expr, last.Z())]
    for position in range(len(layers) - 1, -1, -1):
        layer = layers[position]
        if not (shortcut and layer is last):
            upstream = backward[-1].symbol
            objective = Trace(upstream.T * layer.activate(layer.S()))
            delta = (_softmax_vjp(layer.Z(), upstream) if layer.activation == "softmax"
                     else vjp(objective, layer.S()))
            backward.append(Definition(MatrixSymbol(f"delta{layer.index}", layer.width, N),
                                       delta, objective, layer.S()))
        Z_prev = layers[position - 1].Z() if position else X
        objective = Trace(backward[-1].symbol.T * layer.pre_activation(Z_prev))
        for parameter in layer.parameters:
            backward.append(Definition(MatrixSymbol(f"dL_d{parameter.name}", *parameter.shape),
                                       vjp(objective, parameter), objective, parameter))
        if position:
            backward.append(Definition(MatrixSymbol(f"G{layer.index - 1}", *Z_prev.shape),
                                       vjp(objective, Z_prev), objective, Z_prev))
    return tuple(backward)


def _hinge_backward(last: _Layer, Y: MatrixSymbol, divisor: sympy.Basic, loss: Definition,
                    forward: tuple[Definition, ...]) -> list[Definition]:
    """dL/dM, then G of the output layer through the margins, each by SymPy's `diff`.

    SymPy's matrix calculus cannot differentiate through the constant 1 1ᵀ − Y inside the trace,
    so it differentiates with a symbol standing for it, which is then put back.
    """
    k, N = Y.shape
    margins = _margins_symbol(k, N)
    others = MatrixSymbol("_others", k, N)
    upstream = vjp(_hinge(others, margins, divisor), margins).xreplace(
        {others: sympy.OneMatrix(k, N) - Y})
    gradient = MatrixSymbol("GM", k, N)
    defined = next(d for d in forward if d.symbol == margins)
    objective = Trace(gradient.T * defined.expr)
    return [Definition(gradient, upstream, loss.expr, margins),
            Definition(MatrixSymbol(f"G{last.index}", k, N), vjp(objective, last.Z()), objective,
                       last.Z())]


def _softmax_vjp(Z: MatrixSymbol, G: MatrixSymbol) -> sympy.Basic:
    """∂/∂S tr(Gᵀ softmax(S)) = Z ∘ (G − 1 1ᵀ (Z ∘ G)) with Z = softmax(S).

    SymPy's matrix calculus cannot differentiate through a column-wise softmax, so this is the
    one step not obtained by `diff` on matrices: `verify.proofs` has SymPy prove it entry by
    entry, and the element-wise cross-check and the gradient check test it like every other.
    """
    k = Z.shape[0]
    return sympy.HadamardProduct(Z, G - sympy.OneMatrix(k, k) * sympy.HadamardProduct(Z, G))


def _local(layer: int, name: str, leaky_slope: sympy.Rational) -> Local:
    x = Symbol("x", real=True)
    function = elementwise(name, x, leaky_slope)
    return Local(layer, name, function, sympy.diff(function, x), x)


def _loss(name: str, Y: MatrixSymbol, output: sympy.Basic, logits: MatrixSymbol,
          divisor: sympy.Basic) -> sympy.Basic:
    """The loss of the output, its entries summed and divided by `divisor` (the reduction);
    bce and cross_entropy are written in the logits, whose logs stay finite where the
    probabilities round to 0 or 1; hinge in its margins M."""
    residual = Y - output
    if name == "l2":
        return Trace(residual * residual.T) / (2 * divisor)
    if name == "mse":
        return Trace(residual * residual.T) / divisor
    if name == "cross_entropy":
        return -Trace(Y.T * LogSoftmax(logits)) / divisor
    if name == "hinge":
        return _hinge(sympy.OneMatrix(*Y.shape) - Y, _margins_symbol(*Y.shape), divisor)
    x = sympy.Dummy("x")
    log = logits.applyfunc(Lambda(x, log_sigmoid(x)))
    log1m = logits.applyfunc(Lambda(x, log_sigmoid(-x)))
    return -(Trace(Y.T * log) + Trace((sympy.OneMatrix(*Y.shape) - Y).T * log1m)) / divisor


def _output_shortcut(output: str, loss: str) -> str | None:
    """The loss/activation pairs whose output delta is ŷ - y (scaled), proven in `verify.proofs`."""
    pair = (output, loss)
    return {("sigmoid", "bce"): "sigmoid_bce", ("softmax", "cross_entropy"): "softmax_ce"}.get(pair)
