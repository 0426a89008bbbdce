"""Every chain-rule step comes out of SymPy's differentiation, and both routes agree exactly."""

import numpy as np
import sympy
from sympy import HadamardProduct, MatMul

from derive import derive, dL_dW1, load_example
from derive.api import SEED
from derive.ops import relu, step
from derive.verify.expansion import expand


def definitions():
    return {d.symbol.name: d for d in derive(SEED).definitions}


def test_local_derivative_of_relu_is_step_with_step_of_zero_zero():
    (local,) = derive(SEED).locals
    assert local.derivative == step(local.variable)
    assert step(0) == 0 and step(sympy.Rational(1, 10)) == 1 and step(-1) == 0
    assert sympy.diff(relu(local.variable), local.variable).subs(local.variable, 0) == 0


def test_each_backward_step_is_the_derivative_of_its_objective():
    for definition in derive(SEED).backward:
        assert definition.objective is not None
        assert definition.objective.diff(definition.wrt).dummy_eq(definition.expr)


def test_backward_steps_have_the_textbook_matrix_form():
    d = definitions()
    X, W2 = derive(SEED).X, derive(SEED).parameters[1]
    assert d["dL_dW2"].expr == MatMul(d["delta2"].symbol, d["Z1"].symbol.T)
    assert d["G1"].expr == MatMul(W2.T, d["delta2"].symbol)
    delta1 = d["delta1"].expr
    assert isinstance(delta1, HadamardProduct)
    assert d["G1"].symbol in delta1.args
    assert d["dL_dW1"].expr == MatMul(d["delta1"].symbol, X.T)


def test_elementwise_derivative_of_the_expanded_loss_equals_the_matrix_form():
    example = load_example("examples/seed.toml")
    expansion = expand(derive(example.network), example)
    assert expansion.agrees()
    assert set(expansion.elementwise) == {"W1", "W2"}


def test_expanded_derivative_evaluates_to_the_numeric_gradient():
    example = load_example("examples/seed.toml")
    derivation = derive(example.network)
    expansion = expand(derivation, example)
    values = {}
    for name, symbols in expansion.weights.items():
        values.update(dict(zip(symbols, example.parameters[name].ravel())))
    exact = expansion.elementwise["W1"].subs(values)
    numeric = dL_dW1(example.X, example.Y, *example.parameters.values())
    np.testing.assert_allclose(np.array(exact, dtype=float), numeric, rtol=1e-13)


def test_every_activation_name_has_a_sympy_definition():
    from derive.ops import ELEMENTWISE
    from derive.spec import ACTIVATIONS

    assert set(ACTIVATIONS) == {*ELEMENTWISE, "linear", "softmax"}
