"""`[render] exact = true`: the same SymPy definitions evaluated in fractions."""

from pathlib import Path

import numpy as np
import pytest
import sympy
from files import example_pages

from derive import derive, load_example, train
from derive.errors import SpecError
from derive.training import exact_steps, rational

ROOT = Path(__file__).resolve().parents[1]


def test_short_decimals_become_their_exact_fractions():
    assert rational(0.1) == sympy.Rational(1, 10)
    assert rational(-0.75) == sympy.Rational(-3, 4)
    assert rational(3.0) == 3


def test_exact_steps_agree_with_the_float_path():
    example = load_example(ROOT / "examples" / "seed.toml")
    for exact, floating in zip(exact_steps(example, derive(example.network), 2), train(example)):
        assert isinstance(exact.loss, sympy.Rational)
        assert float(exact.loss) == pytest.approx(floating.loss, rel=1e-15)
        for name, gradient in exact.gradients.items():
            np.testing.assert_allclose(np.array(gradient, dtype=float), floating.gradients[name],
                                       rtol=1e-13, atol=1e-17)


def test_first_seed_loss_is_the_fraction_of_the_hand_computed_sum():
    example = load_example(ROOT / "examples" / "seed_exact.toml")
    X = sympy.Matrix([[sympy.Rational(3, 4), sympy.Rational(1, 5), -sympy.Rational(3, 4), sympy.Rational(1, 5)],
                      [sympy.Rational(4, 5), sympy.Rational(1, 20), sympy.Rational(4, 5), -sympy.Rational(1, 20)]])
    W1 = sympy.Matrix([[sympy.Rational(3, 5), sympy.Rational(1, 100)], [sympy.Rational(7, 10), sympy.Rational(43, 100)],
                       [0, sympy.Rational(22, 25)]])
    W2 = sympy.Matrix([[sympy.Rational(1, 50), sympy.Rational(3, 100), sympy.Rational(9, 100)]])
    residual = sympy.Matrix([[1, 1, -1, -1]]) - W2 * (W1 * X).applyfunc(lambda s: max(s, 0))
    assert exact_steps(example, derive(example.network), 1)[0].loss == (residual * residual.T)[0, 0] / 8


def test_the_exact_page_shows_fractions_and_the_decimal_loss():
    page = example_pages(ROOT / "examples" / "seed_exact.toml")["examples/seed_exact.md"]
    assert r"\frac{" in page
    assert r"\approx 0.4916" in page


def test_exact_needs_rational_operations(tmp_path):
    text = (ROOT / "examples" / "seed.toml").read_text()
    path = tmp_path / "sigmoid.toml"
    path.write_text(text.replace('"relu"', '"sigmoid"').replace("precision = 4", "precision = 4\nexact = true"))
    with pytest.raises(SpecError, match="render.exact: exact fractions need rational arithmetic"):
        load_example(path)
