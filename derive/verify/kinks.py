"""Pre-activations too close to a kink for floats to tell its side.

relu and leaky_relu take their slope from the sign of S = W Z + b. Where |S| is within the
rounding error of that sum, the float sign may not be the sign of the exact sum, so the slope
chosen there (and every gradient downstream) may not be the one exact arithmetic would choose.
Such entries are reported by step, layer and entry, never decided silently.
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
    """Every entry of a relu-like pre-activation, in the steps from `first` on, whose sign
    rounding could have decided.

    The bound is the classic one for a float dot product of n terms, n·ε·(|W| |Z| + |b|), with
    n the fan-in plus the bias; an entry whose terms are all exactly zero has no rounding error.
    """
    found = []
    for number, step in enumerate(steps[first - 1:], start=first):
        inputs = example.X[:, list(step.samples)]
        for layer, activation in enumerate(example.network.activations, start=1):
            if activation not in KINKED:
                continue
            previous = inputs if layer == 1 else step.values[f"Z{layer - 1}"]
            weights = step.parameters[f"W{layer}"]
            magnitude = np.abs(weights) @ np.abs(previous)
            if f"b{layer}" in step.parameters:
                magnitude = magnitude + np.abs(step.parameters[f"b{layer}"])
            bound = (weights.shape[1] + 1) * np.finfo(float).eps * magnitude
            S = step.values[f"S{layer}"]
            for row, column in zip(*np.nonzero((np.abs(S) <= bound) & (bound > 0))):
                found.append(NearKink(number, f"S{layer}", (int(row), int(column)),
                                      float(S[row, column]), float(bound[row, column])))
    return tuple(found)
