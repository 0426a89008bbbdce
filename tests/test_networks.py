"""Any fully-connected network: `python -m derive values` against hand-written NumPy and torch."""

import contextlib
import dataclasses
import io
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from reference import backward, forward, toml_example, torch_gradients

from derive import Network, gradient_function, load_example, train
from derive.cli import main
from derive.ops import ELEMENTWISE
from derive.training import derivation_of
from derive.verify.expansion import expand
from derive.verify.gradcheck import format_table
from derive.worked import worked_example

HIDDEN = ["linear", *ELEMENTWISE]
OUTPUTS = {"l2": HIDDEN, "mse": HIDDEN, "bce": ["sigmoid"], "cross_entropy": ["softmax"]}


@st.composite
def networks(draw):
    """A random valid example: architecture, data and weights, as the TOML contract holds them."""
    depth = draw(st.integers(1, 4))
    loss = draw(st.sampled_from(sorted(OUTPUTS)))
    sizes = draw(st.lists(st.integers(1, 6), min_size=depth + 1, max_size=depth + 1))
    if loss == "cross_entropy":
        sizes[-1] = max(sizes[-1], 2)
    activations = draw(st.lists(st.sampled_from(HIDDEN), min_size=depth - 1, max_size=depth - 1))
    activations.append(draw(st.sampled_from(OUTPUTS[loss])))
    bias = draw(st.booleans())
    N = draw(st.integers(1, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    X = rng.normal(size=(N, sizes[0]))
    k = sizes[-1]
    if loss == "cross_entropy":
        Y = rng.dirichlet(np.ones(k), size=N)
    elif loss == "bce":
        Y = rng.uniform(size=(N, k))
    else:
        Y = rng.normal(size=(N, k))
    weights = [rng.normal(scale=0.8, size=(sizes[l + 1], sizes[l])) for l in range(depth)]
    biases = [rng.normal(scale=0.5, size=(sizes[l + 1], 1)) for l in range(depth)] if bias else []
    if loss == "bce":
        # A saturated sigmoid makes log(1 - ŷ) ill-conditioned in float64 for every method.
        _, outputs, _ = forward(X.T, Y.T, weights, biases, activations, loss)
        assume(np.all((outputs[-1] > 1e-6) & (outputs[-1] < 1 - 1e-6)))
    return sizes, activations, loss, bias, X, Y, weights, biases


def values_command(path) -> dict:
    """`python -m derive values PATH`, run in this process."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["values", str(path)]) == 0
    return json.loads(out.getvalue())


def flat(weights, biases):
    return [p for pair in zip(weights, biases or [None] * len(weights)) for p in pair if p is not None]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(networks())
def test_values_agree_with_hand_written_numpy_and_torch(numbers_only, tmp_path, network):
    _, activations, loss, bias, X, Y, weights, biases = network
    _, _, expected_loss = forward(X.T, Y.T, weights, biases, activations, loss)
    path = tmp_path / "random.toml"
    path.write_text(toml_example(*network))
    first = values_command(path)["steps"][0]
    ours = flat([np.array(first["gradients"][f"W{l}"]) for l in range(1, len(weights) + 1)],
                [np.array(first["gradients"][f"b{l}"])[:, None] for l in range(1, len(weights) + 1)]
                if bias else [])
    numpy_W, numpy_b = backward(X.T, Y.T, weights, biases, activations, loss)
    torch_W, torch_b = torch_gradients(X.T, Y.T, weights, biases, activations, loss)
    assert first["loss"] == pytest.approx(expected_loss, rel=1e-9, abs=1e-15)
    for got, by_hand, by_torch in zip(ours, flat(numpy_W, numpy_b if bias else []),
                                      flat(torch_W, torch_b if bias else [])):
        np.testing.assert_allclose(got, by_hand, rtol=1e-9, atol=1e-13)
        np.testing.assert_allclose(got, by_torch, rtol=1e-9, atol=1e-13)


@pytest.mark.parametrize("path", ["examples/sigmoid-bias.toml", "examples/tanh-regression.toml",
                                  "examples/softmax-classifier.toml", "examples/seed.toml"])
def test_every_shipped_example_agrees_with_hand_written_numpy_at_every_step(path):
    example = load_example(path)
    network = example.network
    for step in train(example):
        weights = [step.parameters[f"W{l}"] for l in range(1, network.depth + 1)]
        biases = [step.parameters[f"b{l}"] for l in range(1, network.depth + 1)] if network.bias else []
        dW, db = backward(example.X, example.Y, weights, biases, network.activations, network.loss)
        for l in range(network.depth):
            np.testing.assert_allclose(step.gradients[f"W{l + 1}"], dW[l], rtol=1e-12, atol=1e-15)
            if network.bias:
                np.testing.assert_allclose(step.gradients[f"b{l + 1}"], db[l], rtol=1e-12, atol=1e-15)


def test_the_classic_sigmoid_example_gives_its_well_known_first_loss():
    example = load_example("examples/sigmoid-bias.toml")
    out = 1 / (1 + np.exp(-(example.weights[1] @ (1 / (1 + np.exp(-(example.weights[0] @ example.X + 0.35)))) + 0.6)))
    assert train(example)[0].loss == pytest.approx(0.5 * np.sum((example.Y - out) ** 2), rel=1e-14)


def test_gradient_function_takes_flat_biases_and_any_batch_size():
    network = Network((3, 4, 2), ("tanh", "sigmoid"), "mse", True)
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(3, 9)), rng.normal(size=(2, 9))
    W1, b1, W2, b2 = rng.normal(size=(4, 3)), rng.normal(size=4), rng.normal(size=(2, 4)), rng.normal(size=2)
    grads = gradient_function(network)(X, Y, W1, b1, W2, b2)
    dW, db = backward(X, Y, [W1, W2], [b1[:, None], b2[:, None]], network.activations, network.loss)
    np.testing.assert_allclose(grads[0], dW[0], rtol=1e-12)
    np.testing.assert_allclose(grads[1], db[0], rtol=1e-12)
    np.testing.assert_allclose(grads[3], db[1], rtol=1e-12)


def test_a_wide_network_is_derived_in_matrix_form_without_expansion(tmp_path):
    rng = np.random.default_rng(4)
    sizes = [16, 64, 10]
    X = rng.normal(size=(8, 16))
    Y = np.eye(10)[rng.integers(0, 10, 8)]
    weights = [rng.normal(scale=0.1, size=(sizes[l + 1], sizes[l])) for l in range(2)]
    biases = [np.zeros((sizes[l + 1], 1)) for l in range(2)]
    path = tmp_path / "wide.toml"
    path.write_text(toml_example(sizes, ["relu", "softmax"], "cross_entropy", True, X, Y, weights, biases))
    from files import example_pages

    page = example_pages(path)["examples/wide.md"]
    assert "too large to expand" in page
    dW, _ = backward(X.T, Y.T, weights, biases, ["relu", "softmax"], "cross_entropy")
    np.testing.assert_allclose(values_command(path)["steps"][0]["gradients"]["W1"], dW[0], rtol=1e-9, atol=1e-15)



@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(networks())
def test_any_valid_example_loads_trains_and_passes_the_gradient_check(tmp_path, network):
    path = tmp_path / "random.toml"
    path.write_text(toml_example(*network, steps=3))
    worked = worked_example(path)
    assert len(worked.steps) == 3
    assert all(check.passed for check in worked.checks), format_table(worked.example, worked.checks)


@pytest.mark.parametrize("sizes, activations, loss, wrong", [
    ([2, 3, 1], ["relu", "linear"], "l2", ["dL_dW1", "dL_db2"]),
    ([2, 2, 2], ["tanh", "sigmoid"], "bce", ["dL_dW1", "G1"]),
    ([2, 3, 3], ["tanh", "softmax"], "mse", ["dL_dW1", "G2"]),
    ([2, 2, 3], ["leaky_relu", "softmax"], "cross_entropy", ["dL_dW2", "dL_db1"]),
])
def test_the_cross_check_agrees_with_the_chain_rule_and_catches_a_wrong_step(
        tmp_path, sizes, activations, loss, wrong):
    rng = np.random.default_rng(5)
    X, k = rng.uniform(-1, 1, (2, sizes[0])).round(2), sizes[-1]
    Y = np.eye(k)[[0, k - 1]] if loss in ("bce", "cross_entropy") else rng.uniform(0, 1, (2, k)).round(2)
    weights = [rng.uniform(-1, 1, (sizes[l + 1], sizes[l])).round(2) for l in range(2)]
    biases = [rng.uniform(-0.5, 0.5, (sizes[l + 1], 1)).round(2) for l in range(2)]
    path = tmp_path / "small.toml"
    path.write_text(toml_example(sizes, activations, loss, True, X, Y, weights, biases))
    example = load_example(path)
    derivation = derivation_of(example)
    assert expand(derivation, example).agrees()
    for name in wrong:
        doubled = tuple(dataclasses.replace(d, expr=2 * d.expr) if d.symbol.name == name else d
                        for d in derivation.backward)
        assert not expand(dataclasses.replace(derivation, backward=doubled), example).agrees()
