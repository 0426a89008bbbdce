"""SGD on an example, recording every number: in floats, or as exact fractions.

Each step takes the next `batch_size` samples (file order, or a fresh shuffled order for each
pass through the data), evaluates the derivation on them, and updates every parameter that is
not frozen: v ← μ v + ∇θ, θ ← θ − η v, as PyTorch's SGD does (v starts at 0; without momentum
v is the gradient). Weight decay is part of the derivation's objective, so its gradients carry
it. The float steps run the lambdified code; with short decimal inputs and rational operations
(linear, relu, leaky_relu, l2, mse) every intermediate is a fraction, and evaluating the same
SymPy definitions on explicit rational matrices gives them exactly.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from itertools import islice
from typing import Any

import numpy as np
import sympy

from .compile.compiled import Compiled, compile_derivation
from .derivations import derivation
from .errors import DeriveError
from .spec import Example
from .symbolic import Derivation


@dataclass(frozen=True)
class TrainingStep:
    """One SGD step: the samples used, the parameters, every intermediate, the gradients, the
    velocity after the step (momentum only) and the update.

    Floats as NumPy arrays, or (exact steps) fractions as SymPy matrices and Rationals. `loss`
    is the loss of the step's samples; `data_loss` the loss of all samples at the same weights
    when the step used fewer (else None).
    """

    samples: tuple[int, ...]
    parameters: dict[str, Any]
    values: dict[str, Any]
    loss: Any
    gradients: dict[str, Any]
    velocity: dict[str, Any]
    updated: dict[str, Any]
    data_loss: float | None = None


def derivation_of(example: Example) -> Derivation:
    """The derivation an example trains with: its network, with its weight decay if any."""
    return derivation(example.network, example.weight_decay > 0, example.decay_biases)


def batches(example: Example) -> Iterator[tuple[int, ...]]:
    """The samples of each step: the next `batch_size` of a stream of passes through the data,
    each in file order or, with `shuffle_seed`, in a fresh random order.

    With `last_batch = "wrap"` a batch that reaches the end of a pass takes its last samples
    from the next one; a batch never holds a sample twice: where a shuffled pass would repeat
    one in the batch that crosses into it, that sample waits for the next batch. With "partial"
    each pass is cut into batches and its last one may be smaller; "drop" leaves that one out.
    """
    N = example.X.shape[1]
    rng = np.random.default_rng(example.shuffle_seed) if example.shuffle_seed is not None else None
    if example.last_batch != "wrap":
        while True:
            order = rng.permutation(N).tolist() if rng is not None else list(range(N))
            for start in range(0, N, example.batch_size):
                batch = tuple(order[start:start + example.batch_size])
                if len(batch) == example.batch_size or example.last_batch == "partial":
                    yield batch
    pending: deque[int] = deque()
    while True:
        batch: list[int] = []
        waiting: list[int] = []
        while len(batch) < example.batch_size:
            if not pending:
                pending.extend(rng.permutation(N).tolist() if rng is not None else range(N))
            sample = pending.popleft()
            (waiting if sample in batch else batch).append(sample)
        pending.extendleft(reversed(waiting))
        yield tuple(batch)


def train(example: Example, compiled: Compiled | None = None,
          exact: tuple[TrainingStep, ...] = ()) -> tuple[TrainingStep, ...]:
    """Run the example's SGD steps in floats.

    Given the first steps in `exact` fractions, the run starts with their values, each rounded
    once, and continues from their last update: every kink is then decided as the exact run
    decides it, and the page, the answer key and the final loss tell one truth.
    Raises `DeriveError` naming the step and the quantity when a number stops being finite.
    """
    compiled = compiled or compile_derivation(derivation_of(example))
    derivation = compiled.derivation
    parameters = example.parameters
    velocity: dict[str, Any] = {}
    steps = []
    for index, samples in enumerate(islice(batches(example), example.steps), start=1):
        columns = list(samples)
        X, Y = example.X[:, columns], example.Y[:, columns]
        with np.errstate(all="ignore"):
            if index <= len(exact):
                values, parameters, velocity, updated = _rounded(exact[index - 1])
                gradients = _gradients(derivation, values)
            else:
                results = compiled.intermediates(X, Y, *arguments(example, parameters))
                values = {d.symbol.name: np.asarray(r, dtype=float)
                          for d, r in zip(derivation.definitions, results)}
                gradients = _gradients(derivation, values)
                velocity, updated = update(example, parameters, gradients, velocity,
                                           example.learning_rate, example.momentum,
                                           example.dampening)
            data_loss = None if len(columns) == example.X.shape[1] else compiled.loss(
                example.X, example.Y, *arguments(example, parameters))
        step = TrainingStep(samples, parameters, values, float(values["L"]), gradients,
                            velocity, updated, data_loss)
        _require_finite(example, index, step)
        _read_only(step)
        steps.append(step)
        parameters = updated
    return tuple(steps)


def arguments(example: Example, parameters: dict[str, Any]) -> list[Any]:
    """The parameters in order, then λ when the example has weight decay."""
    decay = [example.weight_decay] if example.weight_decay > 0 else []
    return [*parameters.values(), *decay]


def update(example: Example, parameters: dict[str, Any], gradients: dict[str, Any],
           velocity: dict[str, Any], rate: Any, momentum: Any,
           dampening: Any = 0) -> tuple[dict, dict]:
    """The velocity after this step (momentum only) and the updated parameters, as
    torch.optim.SGD computes them; frozen ones keep their values. Works alike on NumPy arrays
    and SymPy matrices."""
    if momentum:
        velocity = {name: momentum * velocity[name] + (1 - dampening) * gradients[name]
                    if name in velocity else gradients[name]
                    for name in parameters if name not in example.freeze}
    step = velocity if momentum else gradients
    if example.nesterov:
        step = {name: gradients[name] + momentum * value for name, value in velocity.items()}
    updated = {name: value if name in example.freeze else value - rate * step[name]
               for name, value in parameters.items()}
    return velocity, updated


def _gradients(derivation: Derivation, values: dict[str, Any]) -> dict[str, Any]:
    """Each parameter's gradient among a step's values."""
    return {p.name: values[g.name] for p, g in zip(derivation.parameters, derivation.gradients)}


def _rounded(step: TrainingStep) -> tuple[dict, dict, dict, dict]:
    """An exact step's values, parameters, velocity and update, each entry rounded to a float."""
    def floats(values: dict[str, Any]) -> dict[str, np.ndarray]:
        return {name: np.array(value.tolist() if hasattr(value, "tolist") else value,
                               dtype=float) for name, value in values.items()}

    return floats(step.values), floats(step.parameters), floats(step.velocity), \
        floats(step.updated)


def final_loss(example: Example, compiled: Compiled, last: TrainingStep) -> float:
    """The loss over the whole data after the last step's update."""
    with np.errstate(all="ignore"):
        loss = compiled.loss(example.X, example.Y, *arguments(example, last.updated))
    if not np.isfinite(loss):
        raise DeriveError(f"{example.path}: training: after step {example.steps}: the loss is "
                          f"{loss}; lower training.learning_rate or scale the data and weights "
                          "down")
    return loss


def _read_only(step: TrainingStep) -> None:
    """Make a step's arrays read-only: a WorkedExample is computed once and shared."""
    for values in (step.values, step.gradients, step.velocity, step.updated):
        for value in values.values():
            value.setflags(write=False)


def _require_finite(example: Example, index: int, step: TrainingStep) -> None:
    quantities = {**step.values, **{f"updated {n}": v for n, v in step.updated.items()},
                  **{f"velocity of {n}": v for n, v in step.velocity.items()}}
    if step.data_loss is not None:
        quantities["the loss of all samples"] = step.data_loss
    for name, value in quantities.items():
        if not np.isfinite(value).all():
            shown = {"L": "the loss", "J": "the objective",
                     **{f"d{of}_d{n}": f"d{of}/d{n}" for n in step.gradients for of in "LRJ"}}
            kind = "nan" if np.any(np.isnan(value)) else "inf"
            raise DeriveError(f"{example.path}: training: step {index}: "
                              f"{shown.get(name, name)} is {kind}; lower training.learning_rate "
                              "or scale the data and weights down")


def rational(value: float) -> sympy.Rational:
    """The short decimal a float was written as, as an exact rational (0.1 -> 1/10)."""
    fraction = Fraction(repr(float(value)))
    return sympy.Rational(fraction.numerator, fraction.denominator)


def rational_matrix(values: np.ndarray) -> sympy.ImmutableMatrix:
    """A float matrix as the fractions its entries were written as."""
    return sympy.ImmutableMatrix(*values.shape, lambda i, j: rational(values[i, j]))


def exact_steps(example: Example, derivation: Derivation, count: int) -> tuple[TrainingStep, ...]:
    """Run the example's first `count` SGD steps in exact rational arithmetic."""
    known: dict[sympy.Basic, sympy.Basic] = dict(zip(derivation.widths, example.network.sizes))
    if derivation.penalty is not None:
        known[derivation.penalty] = rational(example.weight_decay)
    parameters = {name: rational_matrix(value) for name, value in example.parameters.items()}
    velocity: dict[str, Any] = {}
    steps = []
    for samples in islice(batches(example), min(count, example.steps)):
        columns = list(samples)
        values = derivation.evaluate({
            **known, derivation.N: len(columns),
            derivation.X: rational_matrix(example.X[:, columns]),
            derivation.Y: rational_matrix(example.Y[:, columns]),
            **{p: parameters[p.name] for p in derivation.parameters}})
        named = {d.symbol.name: values[d.symbol] for d in derivation.definitions}
        gradients = _gradients(derivation, named)
        velocity, updated = update(example, parameters, gradients, velocity,
                                   rational(example.learning_rate), rational(example.momentum),
                                   rational(example.dampening))
        steps.append(TrainingStep(samples, parameters, named, named["L"], gradients, velocity,
                                  updated))
        parameters = updated
    return tuple(steps)
