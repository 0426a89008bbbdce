"""The gradient check can fail: a wrong gradient never passes, and only an entry whose own
finite-difference stencil crosses a relu kink is exempt from it."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from derive.compile.compiled import compile_derivation
from derive.verify.gradcheck import gradient_check
from derive.worked import worked_example

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))
SEED = (ROOT / "examples" / "seed.toml").read_text()


def check_with(worked, gradients):
    """The gradient check of `worked`'s first step, given these gradients instead of its own."""
    first = dataclasses.replace(worked.steps[0], gradients=gradients)
    return gradient_check(worked.example, compile_derivation(worked.derivation), first)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_shipped_example_passes_and_each_wrong_gradient_fails(path):
    worked = worked_example(path)
    assert all(check.passed for check in worked.checks)
    gradients = worked.steps[0].gradients
    for name, gradient in gradients.items():
        scaled = check_with(worked, {**gradients, name: 1.5 * gradient})
        assert not next(c for c in scaled if c.parameter == name).passed, f"{name} scaled by 1.5"
        for index in zip(*np.nonzero(np.abs(gradient) > 1e-6)):
            nudged = gradient.copy()
            nudged[index] *= 1.01
            check = next(c for c in check_with(worked, {**gradients, name: nudged})
                         if c.parameter == name)
            assert not check.passed, f"{name}{index} off by 1%"


def kink_example(tmp_path: Path, offset: float) -> Path:
    """The seed with hidden unit 1's pre-activation on sample 1 at `offset` from relu's kink:
    S1[0, 0] = 0.5 * 0.5 + W * 1.0 with W = offset - 0.25."""
    path = tmp_path / "kink.toml"
    path.write_text(SEED.replace("X = [[0.75, 0.80], [0.20, 0.05], [-0.75, 0.80], [0.20, -0.05]]",
                                 "X = [[0.5, 1.0], [0.2, 0.4]]")
                    .replace("y = [1, 1, -1, -1]", "y = [1, -1]")
                    .replace("W1 = [[0.6, 0.01], [0.7, 0.43], [0.0, 0.88]]",
                             f"W1 = [[0.5, {offset - 0.25!r}], [0.7, 0.43], [0.0, 0.88]]"))
    return path


def test_a_pre_activation_near_a_kink_does_not_excuse_a_wrong_gradient(tmp_path):
    worked = worked_example(kink_example(tmp_path, 5e-4))
    assert abs(worked.steps[0].values["S1"][0, 0] - 5e-4) < 1e-12
    assert all(check.passed and not check.kinks for check in worked.checks)
    gradients = worked.steps[0].gradients
    checks = check_with(worked, {**gradients, "W2": 1.5 * gradients["W2"]})
    assert [c.parameter for c in checks if not c.passed] == ["W2"]


def test_only_entries_whose_stencil_crosses_the_kink_are_exempt(tmp_path):
    worked = worked_example(kink_example(tmp_path, 0.0))
    assert worked.steps[0].values["S1"][0, 0] == 0.0
    by_name = {check.parameter: check for check in worked.checks}
    # Row 1 of W1 moves S1[0, 0] across 0; W2[0, 0] multiplies relu(S1[0, :]), which h moves
    # without crossing anything, so it is compared like every other entry.
    assert by_name["W1"].kinks == ((0, 0), (0, 1))
    assert by_name["W2"].kinks == ()
    assert all(check.passed for check in worked.checks)
