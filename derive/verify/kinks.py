"""Pre-activations too close to a kink for floats to tell its side.

relu and leaky_relu take their slope from the sign of S = W Z + b, and the hinge loss from the
sign of its margins M = ŷ_j − ŷ_c + 1. Where |S| or |M| is within the rounding error of its
computation, the float sign may not be the sign of the exact value, so the slope chosen there
(and every gradient downstream) may not be the one exact arithmetic would choose. Such entries
are reported by step, quantity and entry, never decided silently.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..spec import KINKED, Example
from ..training import TrainingStep


@dataclass(frozen=True)
class NearKink:
    """Entry (row, column), counted from 0, of pre-activation `quantity` at training `step`
    (counted from 1): its float `value` lies within `bound`, the rounding error of its sum."""

    step: int
    quantity: str
    entry: tuple[int, int]
    value: float
    bound: float


def near_kinks(example: Example, steps: tuple[TrainingStep, ...],
               first: int = 1) -> tuple[NearKink, ...]:
    """Every entry of a relu-like pre-activation or of the hinge loss's margins, in the steps
    from `first` on, whose sign rounding could have decided.

    A pre-activation's bound is the classic one for a float dot product of n terms,
    n·ε·(|W| |Z| + |b|), with n the fan-in plus the bias; an entry whose terms are all exactly
    zero has no rounding error. A margin's adds its own two roundings, 2ε(|ŷ_j| + |ŷ_c| + 1),
    to the bounds of its two scores' sums (an element-wise activation's slope is at most 1).
    """
    found = []
    network = example.network
    for number, step in enumerate(steps[first - 1:], start=first):
        quantities = {f"S{layer}": _sum_bound(example, step, layer)
                      for layer, activation in enumerate(network.activations, start=1)
                      if activation in KINKED}
        if network.loss == "hinge":
            quantities["M"] = _margin_bound(example, step)
        for name, bound in quantities.items():
            value = step.values[name]
            for row, column in zip(*np.nonzero((np.abs(value) <= bound) & (bound > 0))):
                found.append(NearKink(number, name, (int(row), int(column)),
                                      float(value[row, column]), float(bound[row, column])))
    return tuple(found)


def _sum_bound(example: Example, step: TrainingStep, layer: int) -> np.ndarray:
    """The rounding error bound of each entry of S of `layer`, a float dot product."""
    previous = (example.X[:, list(step.samples)] if layer == 1
                else step.values[f"Z{layer - 1}"])
    weights = step.parameters[f"W{layer}"]
    magnitude = np.abs(weights) @ np.abs(previous)
    if f"b{layer}" in step.parameters:
        magnitude = magnitude + np.abs(step.parameters[f"b{layer}"])
    return (weights.shape[1] + 1) * np.finfo(float).eps * magnitude


def _margin_bound(example: Example, step: TrainingStep) -> np.ndarray:
    """The rounding error bound of each hinge margin ŷ_j − ŷ_c + 1 (c the sample's class)."""
    depth = example.network.depth
    Y = example.Y[:, list(step.samples)]
    scores = step.values[f"Z{depth}"]
    rounding = (0.0 if example.network.activations[-1] == "softmax"
                else _sum_bound(example, step, depth))
    true, true_rounding = (Y * scores).sum(axis=0), (Y * rounding).sum(axis=0)
    own = 2 * np.finfo(float).eps * (np.abs(scores) + np.abs(true) + 1)
    return own + rounding + true_rounding
