"""The gradient check: SymPy's gradients against central finite differences of the loss.

Finite differences need only the forward pass, so they share nothing with the derivation but
the loss itself; agreement is evidence that the chain rule was applied correctly. Each entry is
judged on its own; only an entry whose own stencil θ ± h moves a relu-like pre-activation or a
hinge margin across its kink at 0 is exempt, because there the loss has no derivative to
approximate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..compile.compiled import Compiled
from ..spec import KINKED, Example
from ..training import TrainingStep, arguments

STEP = 1e-5
"""The finite-difference step h: (L(θ + h) - L(θ - h)) / 2h."""
TOLERANCE = 1e-6
"""Largest relative error of an entry: |symbolic - numeric| / max(|symbolic|, |numeric|)."""
ABSOLUTE_TOLERANCE = 1e-9
"""Absolute errors below this pass whatever the relative error: central differences cannot
resolve less (rounding in L costs about machine epsilon · |L| / h)."""
MAX_ENTRIES = 256
"""Entries checked per parameter at most (evenly spaced), so large layers stay quick."""


@dataclass(frozen=True)
class Check:
    """One parameter's comparison at the example's initial weights.

    `kinks` lists the (row, column) entries, counted from 0, whose stencil crosses a kink: they
    are reported, not judged. The errors are the worst over the judged entries.
    """

    parameter: str
    checked: int
    total: int
    max_abs_error: float
    relative_error: float
    kinks: tuple[tuple[int, int], ...]
    passed: bool


def gradient_check(example: Example, compiled: Compiled, first: TrainingStep) -> tuple[Check, ...]:
    """Compare every gradient of the first training step (its samples, its objective: the loss,
    plus the decay term with weight decay) with central differences."""
    parameters = {name: value.copy() for name, value in first.parameters.items()}
    kinked = [f"S{layer}" for layer, activation in enumerate(example.network.activations, 1)
              if activation in KINKED] + (["M"] if example.network.loss == "hinge" else [])
    derivation = compiled.derivation
    X, Y = example.X[:, list(first.samples)], example.Y[:, list(first.samples)]

    def signs_and_loss() -> tuple[list[np.ndarray], float]:
        with np.errstate(all="ignore"):
            results = compiled.intermediates(X, Y, *arguments(example, parameters))
        values = {d.symbol.name: r for d, r in zip(derivation.definitions, results)}
        return ([np.asarray(values[name]) > 0 for name in kinked],
                float(values[derivation.objective.name]))

    # The sides of each kink as floats see them at θ: an exact example's values may sit on a
    # kink that floats miss by a rounding error, and only a stencil's own crossing counts.
    centre, _ = signs_and_loss()
    checks = []
    for name, parameter in parameters.items():
        flat = parameter.reshape(-1)
        symbolic = np.asarray(first.gradients[name], dtype=float).reshape(-1)
        indices = np.unique(np.linspace(0, flat.size - 1, min(flat.size, MAX_ENTRIES)).astype(int))
        kinks, worst_abs, worst_rel, passed = [], 0.0, 0.0, True
        for index in indices:
            saved = flat[index]
            flat[index] = saved + STEP
            up_signs, up = signs_and_loss()
            flat[index] = saved - STEP
            down_signs, down = signs_and_loss()
            flat[index] = saved
            if any(not (np.array_equal(a, c) and np.array_equal(b, c))
                   for a, b, c in zip(up_signs, down_signs, centre)):
                kinks.append(tuple(int(i) for i in np.unravel_index(index, parameter.shape)))
                continue
            numeric = (up - down) / (2 * STEP)
            error = float(abs(symbolic[index] - numeric))
            scale = float(max(abs(symbolic[index]), abs(numeric)))
            relative = error / scale if scale > 0 else 0.0
            worst_abs, worst_rel = max(worst_abs, error), max(worst_rel, relative)
            passed = passed and (error <= ABSOLUTE_TOLERANCE or relative <= TOLERANCE)
        checks.append(Check(name, len(indices), flat.size, worst_abs, worst_rel, tuple(kinks),
                            passed))
    return tuple(checks)


def format_table(example: Example, checks: tuple[Check, ...]) -> str:
    """The check as a plain-text table, for `python -m derive check`."""
    heading = (f"{example.path}  (central differences, h = {STEP:g}, tolerance {TOLERANCE:g} "
               f"relative or {ABSOLUTE_TOLERANCE:g} absolute per entry)")
    lines = [heading,
             f"  {'parameter':<10}{'entries':>10}{'max abs error':>16}{'relative':>12}  result"]
    for c in checks:
        result = "ok" if c.passed else "FAIL"
        if c.kinks:
            result += f" ({len(c.kinks)} at a kink, not compared)"
        lines.append(f"  {c.parameter:<10}{f'{c.checked}/{c.total}':>10}"
                     f"{c.max_abs_error:>16.2e}{c.relative_error:>12.2e}  {result}")
    return "\n".join(lines)
