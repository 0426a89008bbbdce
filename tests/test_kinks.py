"""A pre-activation on a relu kink: one truth in exact mode, a named flag in float mode."""

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from files import example_pages

from derive import load_example, train
from derive.verify.kinks import near_kinks
from derive.worked import worked_example

KINK = """\
title = "A relu kink"
[network]
sizes = [1, 1, 1]
activations = ["relu", "linear"]
loss = "l2"
bias = true
[data]
X = [[0.9]]
y = [1]
[weights]
W1 = [[0.01]]
b1 = [-0.009]
W2 = [[1]]
b2 = [0]
[training]
learning_rate = 0.5
steps = 2
[render]
exact = {exact}
"""


def kink_file(folder: Path, exact: bool) -> Path:
    """The 1-1-1 network whose pre-activation 0.9 · 0.01 − 0.009 is exactly 0, as a file."""
    path = folder / "kink.toml"
    path.write_text(KINK.format(exact=str(exact).lower()))
    return path


def exact_run(steps: int) -> tuple[list[dict[str, Fraction]], Fraction]:
    """The kink network's SGD in fractions, transcribed by hand (relu'(0) = 0): each step's
    gradients, and the loss after the last update."""
    x, y, rate = Fraction("0.9"), Fraction(1), Fraction("0.5")
    w1, b1, w2, b2 = Fraction("0.01"), Fraction("-0.009"), Fraction(1), Fraction(0)
    gradients = []
    for _ in range(steps):
        s1 = w1 * x + b1
        z1 = max(s1, Fraction(0))
        delta2 = w2 * z1 + b2 - y
        delta1 = (1 if s1 > 0 else 0) * w2 * delta2
        step = {"W1": delta1 * x, "b1": delta1, "W2": delta2 * z1, "b2": delta2}
        gradients.append(step)
        w1, b1, w2, b2 = (w1 - rate * step["W1"], b1 - rate * step["b1"],
                          w2 - rate * step["W2"], b2 - rate * step["b2"])
    residual = w2 * max(w1 * x + b1, Fraction(0)) + b2 - y
    return gradients, residual * residual / 2


def values(path: Path) -> dict:
    result = subprocess.run([sys.executable, "-m", "derive", "values", str(path)],
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def test_an_exact_example_s_answer_key_follows_the_exact_decision_at_the_kink(tmp_path):
    key = values(kink_file(tmp_path, exact=True))
    gradients, final_loss = exact_run(2)
    for step, expected in zip(key["steps"], gradients):
        assert step["intermediates"]["S1"] == [[0.0]]
        for name, value in expected.items():
            assert np.ravel(step["gradients"][name])[0] == float(value)
    assert key["final"]["loss"] == float(final_loss)
    assert "near_kinks" not in key["steps"][0]


def test_an_exact_example_s_page_and_answer_key_agree(tmp_path):
    path = kink_file(tmp_path, exact=True)
    files = example_pages(path)
    worked = worked_example(path)
    assert json.loads(files["examples/kink.json"]) == values(path)
    for exact, rounded in zip(worked.exact, worked.steps):
        for name, gradient in exact.gradients.items():
            assert np.array(gradient, dtype=float).tolist() == rounded.gradients[name].tolist()
    assert worked.steps[-1].updated["W1"].tolist() == [[0.01]]


def test_the_gradient_check_compares_what_the_kink_does_not_move(tmp_path):
    worked = worked_example(kink_file(tmp_path, exact=True))
    kinks = {check.parameter: check.kinks for check in worked.checks}
    assert kinks == {"W1": ((0, 0),), "b1": ((0, 0),), "W2": (), "b2": ()}
    assert all(check.passed for check in worked.checks)


def test_a_float_pre_activation_within_rounding_of_the_kink_is_flagged(tmp_path):
    path = kink_file(tmp_path, exact=False)
    key = values(path)
    flagged = key["steps"][0]["near_kinks"]
    assert [(f["quantity"], f["entry"]) for f in flagged] == [("intermediates.S1", [0, 0])]
    assert abs(flagged[0]["value"]) <= flagged[0]["bound"]
    assert abs(0.9 * 0.01 - 0.009) == pytest.approx(abs(flagged[0]["value"]))
    page = example_pages(path)["examples/kink.md"]
    assert "Within rounding of a kink" in page
    assert r"step 1: $S^{[1]}_{1,1} = 1.73 \times 10^{-18}$" in page


def test_pre_activations_clear_of_the_kink_or_exactly_zero_are_not_flagged(tmp_path):
    path = kink_file(tmp_path, exact=False)
    clear = tmp_path / "clear.toml"
    clear.write_text(path.read_text().replace("b1 = [-0.009]", "b1 = [-0.008]"))
    example = load_example(clear)
    assert near_kinks(example, train(example)) == ()
    zero = tmp_path / "zero.toml"
    zero.write_text(path.read_text().replace("W1 = [[0.01]]", "W1 = [[0]]")
                    .replace("b1 = [-0.009]", "b1 = [0]"))
    example = load_example(zero)
    assert near_kinks(example, train(example)) == ()


@pytest.mark.parametrize("name", sorted(p.name for p in (Path(__file__).parents[1] / "examples")
                                        .glob("*.toml")))
def test_no_shipped_example_sits_within_rounding_of_a_kink(name):
    assert worked_example(Path(__file__).parents[1] / "examples" / name).near_kinks == ()
