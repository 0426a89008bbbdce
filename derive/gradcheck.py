"""The gradient check: SymPy's gradients against central finite differences of the loss.

Finite differences need only the forward pass, so they share nothing with the derivation but
the loss itself; agreement is evidence that the chain rule was applied correctly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import DeriveError
from .numeric import compile_derivation
from .spec import Example
from .symbolic import derive

STEP = 1e-5
"""The finite-difference step h: (L(θ + h) - L(θ - h)) / 2h."""
TOLERANCE = 1e-6
"""Largest relative error accepted: max |symbolic - numeric| / max(|symbolic|, |numeric|)."""
ABSOLUTE_TOLERANCE = 1e-9
"""Absolute errors below this pass whatever the relative error: central differences cannot
resolve less (rounding in L costs about machine epsilon · |L| / h)."""
MAX_ENTRIES = 256
"""Entries checked per parameter at most (evenly spaced), so large layers stay quick."""
KINK = 1e-3
"""A relu-like pre-activation closer than this to 0 may sit within a step of the kink."""


@dataclass(frozen=True)
class Check:
    """One parameter's comparison at the example's initial weights."""

    parameter: str
    checked: int
    total: int
    max_abs_error: float
    relative_error: float
    kink: bool

    @property
    def agrees(self) -> bool:
        """Within the relative tolerance, or at the finite differences' rounding floor."""
        return self.relative_error <= TOLERANCE or self.max_abs_error <= ABSOLUTE_TOLERANCE

    @property
    def passed(self) -> bool:
        """Agrees, or is not comparable: a relu-like kink lies within the step."""
        return self.agrees or self.kink


def gradient_check(example: Example) -> list[Check]:
    """Compare every parameter's gradient with central differences at the initial weights."""
    derivation = derive(example.network)
    compiled = compile_derivation(derivation)
    names = list(example.parameters)
    parameters = {name: value.copy() for name, value in example.parameters.items()}

    results = compiled.intermediates(example.X, example.Y, *parameters.values())
    values = {d.symbol.name: v for d, v in zip(derivation.definitions, results)}
    kink = _near_kink(example.network.activations, values)
    checks = []
    for name in names:
        symbolic = np.asarray(values[f"dL_d{name}"], dtype=float)
        parameter = parameters[name]
        flat = parameter.reshape(-1)
        indices = np.unique(np.linspace(0, flat.size - 1, min(flat.size, MAX_ENTRIES)).astype(int))
        errors = []
        scale = 0.0
        for index in indices:
            saved = flat[index]
            flat[index] = saved + STEP
            up = compiled.loss(example.X, example.Y, *parameters.values())
            flat[index] = saved - STEP
            down = compiled.loss(example.X, example.Y, *parameters.values())
            flat[index] = saved
            numeric = (up - down) / (2 * STEP)
            exact = symbolic.reshape(-1)[index]
            errors.append(abs(exact - numeric))
            scale = max(scale, abs(exact), abs(numeric))
        max_error = max(errors)
        relative = max_error / scale if scale > 0 else max_error
        checks.append(Check(name, len(indices), flat.size, max_error, relative, kink))
    return checks


def _near_kink(activations: tuple[str, ...], values: dict[str, np.ndarray]) -> bool:
    """Whether a relu-like layer has a pre-activation near its kink at 0."""
    return any(
        np.any(np.abs(values[f"S{layer}"]) < KINK)
        for layer, activation in enumerate(activations, start=1)
        if "relu" in activation
    )


def require_passing(example: Example, checks: list[Check]) -> None:
    """Raise naming the example and the parameter when a check exceeds its tolerance."""
    for check in checks:
        if not check.passed:
            raise DeriveError(
                f"{example.path}: gradient check: dL/d{check.parameter} differs from finite "
                f"differences by {check.relative_error:.2e} relative, {check.max_abs_error:.2e} "
                f"absolute (tolerance {TOLERANCE:.0e} relative or {ABSOLUTE_TOLERANCE:.0e} absolute)"
            )


def format_table(example: Example, checks: list[Check]) -> str:
    """The check as a plain-text table, for `python -m derive check`."""
    heading = (f"{example.path}  (central differences, h = {STEP:g}, tolerance {TOLERANCE:g} "
               f"relative or {ABSOLUTE_TOLERANCE:g} absolute)")
    lines = [heading,
             f"  {'parameter':<10}{'entries':>10}{'max abs error':>16}{'relative':>12}  result"]
    for c in checks:
        result = "ok" if c.agrees else ("kink" if c.kink else "FAIL")
        lines.append(f"  {c.parameter:<10}{f'{c.checked}/{c.total}':>10}"
                     f"{c.max_abs_error:>16.2e}{c.relative_error:>12.2e}  {result}")
    return "\n".join(lines)
