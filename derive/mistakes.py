"""Common mistakes of a hand backward pass, each a rewrite of the derivation, and their numbers.

A student checking a hand derivation types a matrix; where it equals what a common mistake gives,
the page names the mistake. Every mistake but one is a SymPy rewrite of the real `Derivation`'s
definitions (`xreplace` on the step where it happens, the rest left as SymPy derived it), so the
mistaken numbers come from the same printers as the right ones: NumPy here, JavaScript on the
page. None is typed in or computed by a second, hand-written forward pass.

The exception is `update-sign`: the derivation ends at the gradients and SGD's update is
`training.update`, so that mistake is a flag (`Mistake.ascent`), evaluated by the same update
with the learning rate negated. `updated-weights-backward` does change the backward pass, so it
is a rewrite: G = (W − η ∂L/∂W)ᵀ δ, with η a new scalar argument (`WithRate`).

A mistake is made everywhere it applies (a misconception, not a slip): without the activation's
derivative every δ of an element-wise layer is its G. `Mistake.where` names the first step of the
backward pass it changes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import sympy
from sympy import Lambda, MatrixSymbol, Symbol
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from .compile.compiled import compile_changes
from .errors import DeriveError
from .ops import ELEMENTWISE, LogSoftmax
from .present import notation
from .present.latex import bmatrix, number, tex
from .present.render import render
from .symbolic import Definition, Derivation, vjp
from .training import TrainingStep, arguments, update
from .worked import EXACT_STEPS, WorkedExample

ETA = Symbol("eta", positive=True)
"""The learning rate η, where a mistake's backward pass uses it."""

SAME = 1e-9
"""Relative difference below which a mistaken value counts as the right one (rounding)."""


@dataclass(frozen=True)
class WithRate(Derivation):
    """A derivation whose definitions also use the learning rate η, its last argument."""

    rate: Symbol = ETA

    @property
    def arguments(self) -> tuple[sympy.Basic, ...]:
        return (*super().arguments, self.rate)


@dataclass(frozen=True)
class Mistake:
    """One common mistake as it applies to one example's network.

    `id` is stable (the page's `.mark()` returns it); `where` is the name of the first
    definition of the backward pass the mistake changes (`W1_new` for the update), and
    `right_tex` and `wrong_tex` that step as `symbol = formula`. `derivation` is the rewritten
    derivation, evaluated like the real one; it is None for the one training-level mistake,
    `ascent`, where the update adds η times the gradient (or velocity) instead of subtracting it.
    """

    id: str
    title: str
    explanation: str
    where: str
    right_tex: str
    wrong_tex: str
    derivation: Derivation | None
    ascent: bool = False


class _Setting(NamedTuple):
    """What the catalogue of an example depends on besides its derivation."""

    sizes: tuple[int, ...]
    freeze: tuple[str, ...]
    momentum: bool


Rewrite = Callable[[Derivation, _Setting], Mistake | None]


def catalogue(worked: WorkedExample) -> tuple[Mistake, ...]:
    """The mistakes that apply to the example's network and training, in a fixed order (`IDS`).

    A mistake applies where it can be made: no-half needs a loss with a ½ or a square,
    transpose a square weight matrix, bias-not-summed biases, and so on (`KINDS` says when);
    whether it changes a given number of a step is `offered`. Each is built once per
    architecture and setting; the real derivation is left as it is.
    """
    example = worked.example
    setting = _Setting(tuple(example.network.sizes), tuple(example.freeze),
                       bool(example.momentum))
    return _catalogue(worked.derivation, setting)


def mistaken_values(worked: WorkedExample, mistake: Mistake) -> list[dict[str, Any]]:
    """The step's numbers as the mistake makes them, for each step the pages detail (up to 3).

    Each entry has the keys of a step of the `derive values` JSON: `loss`, `intermediates`,
    `gradients`, `updated` (and `velocity` with momentum), shaped alike (b_l flat), computed
    from the step's true inputs: its samples, weights and previous velocity, the mistake made
    once, in that step. bias-not-summed's `gradients.b_l` is δ_l itself, n_l x N: one column per
    sample, compared entry by entry (it cannot equal the flat right answer unless N = 1).
    """
    return [_mistaken_step(worked, mistake, step) for step in range(1, _steps(worked) + 1)]


def offered(worked: WorkedExample, mistake: Mistake, step: int, quantity: str) -> bool:
    """Whether the page may name `mistake` for `quantity` (a dotted JSON path: `loss`,
    `gradients.W1`, `intermediates.delta2`, `updated.W2`) at `step`, counted from 1.

    Not where the mistake gives the right value (to rounding: `SAME` relative to the quantity's
    largest entry), e.g. relu's derivative taken at Z, which equals its derivative at S.
    """
    return _made(worked, mistake, step).offered(quantity)


class Made(NamedTuple):
    """A mistake made in one step: the step's quantities as the mistake makes them (`wrong`)
    and as they are (`right`), keyed as in `mistaken_values`."""

    mistake: Mistake
    wrong: dict[str, Any]
    right: dict[str, Any]

    def offered(self, quantity: str) -> bool:
        """`offered(worked, self.mistake, step, quantity)`, from the numbers at hand."""
        wrong, right = _lookup(self.wrong, quantity), _lookup(self.right, quantity)
        return not _same(np.asarray(wrong, dtype=float), np.asarray(right, dtype=float))


def made_in(worked: WorkedExample, step: int) -> tuple[Made, ...]:
    """Each catalogued mistake made in `step` (counted from 1), computed once for all of the
    step's quantities a caller then asks about."""
    right = _quantities(worked.steps[_step(worked, step) - 1])
    return tuple(Made(mistake, _mistaken_step(worked, mistake, step), right)
                 for mistake in catalogue(worked))


def _made(worked: WorkedExample, mistake: Mistake, step: int) -> Made:
    """`mistake` made in `step` (counted from 1), beside the step as it is."""
    right = _quantities(worked.steps[_step(worked, step) - 1])
    return Made(mistake, _mistaken_step(worked, mistake, step), right)


def _step(worked: WorkedExample, step: int) -> int:
    """`step`, refused unless the pages detail it."""
    if not 1 <= step <= _steps(worked):
        raise DeriveError(f"step: must be between 1 and {_steps(worked)}, not {step}")
    return step


def _steps(worked: WorkedExample) -> int:
    return min(EXACT_STEPS, len(worked.steps))


def _mistaken_step(worked: WorkedExample, mistake: Mistake, step: int) -> dict[str, Any]:
    """One step's quantities with the mistake made, from that step's true inputs."""
    example, true = worked.example, worked.steps[step - 1]
    previous = worked.steps[step - 2].velocity if step > 1 else {}
    rate = example.learning_rate
    derivation = worked.derivation if mistake.derivation is None else mistake.derivation
    values = dict(true.values)
    if mistake.derivation is not None:
        columns = list(true.samples)
        extra = [rate] if isinstance(derivation, WithRate) else []
        with np.errstate(all="ignore"):
            changes = compile_changes(derivation, derivation.changed_from(worked.derivation))(
                example.X[:, columns], example.Y[:, columns],
                *arguments(example, true.parameters), *extra, known=values)
        values = {name: np.asarray(changes[name], dtype=float) if name in changes else values[name]
                  for name in (d.symbol.name for d in derivation.definitions)}
    gradients = {p.name: values[g.name] for p, g in zip(derivation.parameters,
                                                        derivation.gradients)}
    with np.errstate(all="ignore"):
        velocity, updated = update(example, true.parameters, gradients, previous,
                                   -rate if mistake.ascent else rate, example.momentum,
                                   example.dampening)
    made = TrainingStep(true.samples, true.parameters, values, values["L"], gradients,
                        velocity, updated)
    return _quantities(made)


def _quantities(step: TrainingStep) -> dict[str, Any]:
    """A step's quantities as the `derive values` JSON writes them."""
    return {
        "loss": float(step.loss),
        "intermediates": {name: np.asarray(value, dtype=float).tolist()
                          for name, value in step.values.items()
                          if name != "L" and name[:4] not in ("dL_d", "dJ_d")},
        "gradients": _listed(step.gradients),
        **({"velocity": _listed(step.velocity)} if step.velocity else {}),
        "updated": _listed(step.updated),
    }


def _listed(values: dict[str, Any]) -> dict[str, Any]:
    """Parameters as nested lists, a bias column flat as in the example file."""
    listed = {}
    for name, value in values.items():
        array = np.asarray(value, dtype=float)
        column = name.startswith("b") and array.shape[-1] == 1
        listed[name] = (array.ravel() if column else array).tolist()
    return listed


def _lookup(quantities: dict[str, Any], quantity: str) -> Any:
    group, _, name = quantity.partition(".")
    try:
        return quantities[group] if not name else quantities[group][name]
    except (KeyError, TypeError):
        raise DeriveError(f"{quantity!r}: not a quantity of this example's steps") from None


def _same(wrong: np.ndarray, right: np.ndarray) -> bool:
    """The same shape and the same entries to rounding."""
    if wrong.shape != right.shape:
        return False
    scale = float(np.max(np.abs(right), initial=0.0))
    return bool(np.all(np.abs(wrong - right) <= SAME * scale))


# The rewrites, one per mistake: each returns None where the mistake does not apply.

def _definitions(derivation: Derivation) -> dict[str, Definition]:
    return {d.symbol.name: d for d in derivation.definitions}


def _rewritten(derivation: Derivation, exprs: dict[str, sympy.Basic]) -> Derivation:
    """The derivation with the named definitions' formulas replaced."""
    def rewrite(definitions: tuple[Definition, ...]) -> tuple[Definition, ...]:
        return tuple(replace(d, expr=exprs[d.symbol.name]) if d.symbol.name in exprs else d
                     for d in definitions)

    return replace(derivation, forward=rewrite(derivation.forward),
                   backward=rewrite(derivation.backward))


def _substituted(derivation: Derivation, mapping: dict[sympy.Basic, sympy.Basic]) -> Derivation:
    """The derivation with `mapping` applied to every symbol it holds (a size, a matrix)."""
    def sub(x: sympy.Basic | None) -> sympy.Basic | None:
        return None if x is None else x.xreplace(mapping)

    def definitions(ds: tuple[Definition, ...]) -> tuple[Definition, ...]:
        return tuple(replace(d, symbol=sub(d.symbol), expr=sub(d.expr),
                             objective=sub(d.objective), wrt=sub(d.wrt)) for d in ds)

    return replace(derivation, X=sub(derivation.X), Y=sub(derivation.Y),
                   widths=tuple(sub(w) for w in derivation.widths),
                   parameters=tuple(sub(p) for p in derivation.parameters),
                   forward=definitions(derivation.forward),
                   backward=definitions(derivation.backward),
                   gradients=tuple(sub(g) for g in derivation.gradients))


def _mistake(kind: Kind, explanation: str, right: Derivation, wrong: Derivation,
             rewritten: Derivation | None = None) -> Mistake:
    """The mistake whose derivation is `wrong`, shown at the first step it changes: `wrong` is
    `right` or, when given, `rewritten` (`right` with other sizes) with some formulas replaced."""
    before = _definitions(rewritten or right)
    first = next(d for d in wrong.backward if before[d.symbol.name].expr != d.expr)
    old = _definitions(right)[first.symbol.name]
    return Mistake(kind.id, kind.title, explanation, first.symbol.name,
                   f"{tex(old.symbol)} = {tex(old.expr)}",
                   f"{tex(first.symbol)} = {tex(first.expr)}", wrong)


def _output(derivation: Derivation) -> Definition:
    """The backward pass's first step: G_L = ∂L/∂Z_L, or δ_L = ∂L/∂S_L where it is Ŷ − Y."""
    return derivation.backward[0]


def _scaled(derivation: Derivation, loss: sympy.Basic, gradient: sympy.Basic) -> Derivation:
    """The loss times `loss` and the output step times `gradient`."""
    defined = _definitions(derivation)
    out = _output(derivation)
    return _rewritten(derivation, {"L": loss * defined["L"].expr,
                                   out.symbol.name: gradient * out.expr})


def _sum_not_mean(derivation: Derivation, setting: _Setting) -> Mistake | None:
    if derivation.reduction == "sum":
        return None
    N = derivation.N
    return _mistake(KINDS["sum-not-mean"],
                    "You added the samples up: the loss is a mean over the N samples, so it and "
                    "every gradient carry a factor 1/N.", derivation, _scaled(derivation, N, N))


def _no_half(derivation: Derivation, setting: _Setting) -> Mistake | None:
    kind = KINDS["no-half"]
    if derivation.loss_name == "l2":
        return _mistake(kind, "The L2 loss has a ½ so that it cancels the 2 of the square's "
                        "derivative: without it the loss and every gradient are twice as large.",
                        derivation, _scaled(derivation, 2, 2))
    if derivation.loss_name == "mse":
        half = sympy.Rational(1, 2)
        return _mistake(kind, "The mean squared error has no ½: the derivative of (ŷ − y)² is "
                        "2(ŷ − y), and without that 2 every gradient is half as large.",
                        derivation, _scaled(derivation, 1, half))
    return None


def _target_sign(derivation: Derivation, setting: _Setting) -> Mistake | None:
    if derivation.loss_name == "hinge":  # its first step holds no Ŷ − Y to turn round
        return None
    out = _output(derivation)
    output = _definitions(derivation)[f"Z{len(derivation.activations)}"].symbol
    swapped = out.expr.xreplace({derivation.Y: output, output: derivation.Y})
    return _mistake(KINDS["target-sign"], "The loss grows as the prediction Ŷ moves past the "
                    "target Y, so its derivative goes with Ŷ − Y; Y − Ŷ flips the sign of every "
                    "gradient.", derivation, _rewritten(derivation, {out.symbol.name: swapped}))


def _elementwise_deltas(derivation: Derivation) -> list[tuple[int, Definition]]:
    """(layer, δ_l) for every layer whose δ multiplies G by its activation's derivative."""
    defined = _definitions(derivation)
    return [(layer, defined[f"delta{layer}"])
            for layer, name in enumerate(derivation.activations, start=1)
            if name in ELEMENTWISE and isinstance(defined[f"delta{layer}"].expr,
                                                  sympy.HadamardProduct)]


def _no_activation_derivative(derivation: Derivation, setting: _Setting) -> Mistake | None:
    deltas = _elementwise_deltas(derivation)
    if not deltas:
        return None
    exprs = {d.symbol.name: next(a for a in d.expr.args
                                 if not isinstance(a, ElementwiseApplyFunction))
             for _, d in deltas}
    return _mistake(KINDS["no-activation-derivative"], "Going back through an activation "
                    "multiplies the gradient by the activation's derivative: δ = f′(S) ∘ G, "
                    "not δ = G.", derivation, _rewritten(derivation, exprs))


def _derivative_at_output(derivation: Derivation, setting: _Setting) -> Mistake | None:
    deltas = _elementwise_deltas(derivation)
    if not deltas:
        return None
    defined = _definitions(derivation)
    exprs = {d.symbol.name: d.expr.xreplace({defined[f"S{l}"].symbol: defined[f"Z{l}"].symbol})
             for l, d in deltas}
    return _mistake(KINDS["derivative-at-output"], "The derivative is taken at the "
                    "pre-activation S, not at the output Z = f(S): the sigmoid's is "
                    "Z ∘ (1 − Z), not σ(Z) ∘ (1 − σ(Z)).", derivation,
                    _rewritten(derivation, exprs))


def _softmax_elementwise(derivation: Derivation, setting: _Setting) -> Mistake | None:
    if derivation.activations[-1] != "softmax":
        return None
    defined = _definitions(derivation)
    layer = len(derivation.activations)
    S, Z = defined[f"S{layer}"].symbol, defined[f"Z{layer}"].symbol
    if derivation.output_shortcut:
        # ∂L/∂Z of the loss written in Z (log softmax(S) = log Z), differentiated by SymPy.
        x = sympy.Dummy("x")
        loss = defined["L"].expr.xreplace({LogSoftmax(S): Z.applyfunc(Lambda(x, sympy.log(x)))})
        upstream = vjp(loss, Z)
    else:
        upstream = defined[f"G{layer}"].symbol
    diagonal = sympy.HadamardProduct(Z, sympy.OneMatrix(*Z.shape) - Z, upstream)
    return _mistake(KINDS["softmax-elementwise"], "Each softmax output depends on every logit "
                    "of its column: its Jacobian is diag(ŷ) − ŷŷᵀ, not only its diagonal "
                    "ŷ ∘ (1 − ŷ).", derivation,
                    _rewritten(derivation, {f"delta{layer}": diagonal}))


def _square(derivation: Derivation, setting: _Setting) -> tuple[list[int], Derivation]:
    """The layers whose weight matrix is square in this example, and the derivation with each
    such layer's width written as its input's, so that SymPy accepts the transposed shapes."""
    layers = [l for l in range(1, len(setting.sizes)) if setting.sizes[l] == setting.sizes[l - 1]]
    same: dict[sympy.Basic, sympy.Basic] = {}
    for l in layers:
        previous = derivation.widths[l - 1]
        same[derivation.widths[l]] = same.get(previous, previous)
    return layers, _substituted(derivation, same)


def _transpose(derivation: Derivation, setting: _Setting) -> Mistake | None:
    layers, square = _square(derivation, setting)
    if not layers:
        return None
    defined = _definitions(square)
    exprs = {f"dL_dW{l}": defined[f"dL_dW{l}"].expr.T for l in layers}
    return _mistake(KINDS["transpose"], "∂L/∂W = δ Z_prevᵀ has a row per unit of the layer, like "
                    "W; Z_prev δᵀ is its transpose, which has W's shape only because W is square.",
                    derivation, _rewritten(square, exprs), square)


def _weights_not_transposed(derivation: Derivation, setting: _Setting) -> Mistake | None:
    layers, square = _square(derivation, setting)
    layers = [l for l in layers if l > 1]
    if not layers:
        return None
    defined = _definitions(square)
    W = {p.name: p for p in square.parameters}
    exprs = {f"G{l - 1}": defined[f"G{l - 1}"].expr.xreplace({W[f"W{l}"].T: W[f"W{l}"]})
             for l in layers}
    return _mistake(KINDS["weights-not-transposed"], "The gradient goes back through the "
                    "transposed weights, G_prev = Wᵀ δ; W δ has the right shape only because W "
                    "is square.", derivation, _rewritten(square, exprs), square)


def _bias_not_summed(derivation: Derivation, setting: _Setting) -> Mistake | None:
    if not derivation.bias:
        return None
    biases = [p for p in derivation.parameters if p.name.startswith("b")]
    defined = _definitions(derivation)
    wide = {defined[f"dL_d{b.name}"].symbol: MatrixSymbol(f"dL_d{b.name}", b.shape[0],
                                                          derivation.N) for b in biases}
    exprs = {f"dL_d{b.name}": defined[f"delta{b.name[1:]}"].symbol for b in biases}
    return _mistake(KINDS["bias-not-summed"], "A bias is added to every sample, so its gradient "
                    "sums δ over the samples (δ 1); you kept one column per sample.", derivation,
                    _rewritten(_substituted(derivation, wide), exprs))


def _updated_weights_backward(derivation: Derivation, setting: _Setting) -> Mistake | None:
    if setting.momentum:
        return None  # the update would also need the previous velocity
    defined = _definitions(derivation)
    W = {p.name: p for p in derivation.parameters}
    exprs = {}
    for l in range(2, len(setting.sizes)):
        if f"W{l}" in setting.freeze:
            continue
        gradient: sympy.Basic = defined[f"dL_dW{l}"].symbol
        if derivation.penalty is not None:  # ∂J/∂W = ∂L/∂W + λW, defined after the G it enters
            gradient = gradient + defined[f"dR_dW{l}"].expr
        exprs[f"G{l - 1}"] = defined[f"G{l - 1}"].expr.xreplace({W[f"W{l}"]: W[f"W{l}"]
                                                                 - ETA * gradient})
    if not exprs:
        return None
    rewritten = _rewritten(derivation, exprs)
    return _mistake(KINDS["updated-weights-backward"], "The backward pass uses the weights of "
                    "the forward pass, before this step's update; you used the output layer's "
                    "updated weights, as the code first published with Mazur's walk-through did.",
                    derivation,
                    WithRate(**{f.name: getattr(rewritten, f.name) for f in fields(rewritten)}))


def _update_sign(derivation: Derivation, setting: _Setting) -> Mistake:
    gradients = dict(zip((p.name for p in derivation.parameters),
                         (g.name for g in derivation.gradients)))
    name = next(p for p in gradients if p not in setting.freeze)
    step = notation.velocity(name) if setting.momentum else notation.symbol(gradients[name])
    new, old = notation.updated(name), notation.symbol(name)
    kind = KINDS["update-sign"]
    return Mistake(kind.id, kind.title, "Gradient descent steps against the gradient: "
                   "W_new = W − η ∂L/∂W. Adding η ∂L/∂W climbs the loss instead.",
                   f"{name}_new", rf"{new} = {old} - \eta \, {step}",
                   rf"{new} = {old} + \eta \, {step}", None, ascent=True)


class Kind(NamedTuple):
    """A mistake in general: its stable id, its title, when it applies, and its rewrite."""

    id: str
    title: str
    applies: str
    rewrite: Rewrite


KINDS = {kind.id: kind for kind in (
    Kind("sum-not-mean", "The loss summed, not averaged",
         "every loss averaged over the samples (not reduction = \"sum\")", _sum_not_mean),
    Kind("no-half", "The ½ of the squared error mishandled",
         "l2 (the ½ dropped) and mse (the 2 of the derivative dropped)", _no_half),
    Kind("target-sign", "Target minus prediction", "every loss but hinge", _target_sign),
    Kind("no-activation-derivative", "The activation's derivative left out",
         "every layer with an element-wise activation whose δ is not Ŷ − Y",
         _no_activation_derivative),
    Kind("derivative-at-output", "The activation's derivative taken at its output",
         "the same layers; never named for relu or leaky_relu, whose slope is the same at Z",
         _derivative_at_output),
    Kind("softmax-elementwise", "Softmax differentiated entry by entry", "a softmax output",
         _softmax_elementwise),
    Kind("transpose", "The weight gradient transposed", "square weight matrices", _transpose),
    Kind("weights-not-transposed", "Back through W instead of Wᵀ",
         "square weight matrices of layer 2 on", _weights_not_transposed),
    Kind("bias-not-summed", "The bias gradient not summed over the samples",
         "biases (named only with more than one sample per step)", _bias_not_summed),
    Kind("updated-weights-backward", "Back through weights already updated",
         "two layers or more, without momentum, unless the later layers' weights are frozen",
         _updated_weights_backward),
    Kind("update-sign", "The update's sign", "every example", _update_sign),
)}
"""Every mistake derive knows, by id, in the catalogue's order (the backward pass's, then SGD's)."""

IDS = tuple(KINDS)
"""The stable ids."""


@cache
def _catalogue(derivation: Derivation, setting: _Setting) -> tuple[Mistake, ...]:
    found = (kind.rewrite(derivation, setting) for kind in KINDS.values())
    return tuple(mistake for mistake in found if mistake is not None)


def catalogue_markdown(examples: Sequence[WorkedExample], templates: tuple[Path, ...] = ()) -> str:
    """The catalogue as Markdown (templates/mistakes.md.j2): each mistake with its formulas
    and one worked example, the first of `examples` in which it changes a number of step 1."""
    shown = []
    for kind in KINDS.values():
        found = next(filter(None, (_instance(kind, worked) for worked in examples)), None)
        shown.append({"id": kind.id, "title": kind.title, "applies": kind.applies,
                      **(found or {})})
    return render("mistakes.md.j2", templates, mistakes=shown)


def _instance(kind: Kind, worked: WorkedExample) -> dict[str, Any] | None:
    """`kind` in `worked`, as plain text: its formulas and, at step 1, the quantity where it
    happens and the first layer's weight gradient, right and mistaken; None where the mistake
    does not apply or changes neither."""
    mistake = next((m for m in catalogue(worked) if m.id == kind.id), None)
    if mistake is None:
        return None
    made = _made(worked, mistake, 1)
    paths = dict.fromkeys(p for p in (_path(worked.derivation, mistake.where), "gradients.W1")
                          if p is not None and made.offered(p))
    if not paths:
        return None
    right, wrong = made.right, made.wrong
    precision = worked.example.precision
    return {
        "explanation": mistake.explanation, "right_tex": mistake.right_tex,
        "wrong_tex": mistake.wrong_tex, "example": worked.example.title or worked.example.name,
        "quantities": [{"symbol": _symbol(worked.derivation, path),
                        "right": _tex_value(_lookup(right, path), precision),
                        "wrong": _tex_value(_lookup(wrong, path), precision)} for path in paths],
    }


def _path(derivation: Derivation, name: str) -> str | None:
    """The `derive values` JSON path of a definition (or of an update, W1_new), if it has one."""
    gradients = {g.name: p.name for p, g in zip(derivation.parameters, derivation.gradients)}
    if name in gradients:
        return f"gradients.{gradients[name]}"
    if name.endswith("_new"):
        return f"updated.{name.removesuffix('_new')}"
    if name == "L":
        return "loss"
    return None if name[:4] in ("dL_d", "dJ_d") else f"intermediates.{name}"


def _symbol(derivation: Derivation, path: str) -> str:
    """The TeX of the quantity at a JSON path."""
    group, _, name = path.partition(".")
    gradients = {p.name: g.name for p, g in zip(derivation.parameters, derivation.gradients)}
    if group == "gradients":
        return notation.symbol(gradients[name])
    return notation.updated(name) if group == "updated" else notation.symbol(name or "L")


def _tex_value(value: Any, precision: int) -> str:
    """A JSON value as the pages write it: a number, or a bmatrix (a flat bias as a column)."""
    array = np.asarray(value, dtype=float)
    if array.ndim == 0:
        return number(float(array), precision)
    table = [[number(float(v), precision) for v in row]
             for row in (array.reshape(-1, 1) if array.ndim == 1 else array)]
    return bmatrix(table, list(range(len(table))), list(range(len(table[0]))))
