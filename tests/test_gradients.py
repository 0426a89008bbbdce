"""`dL_dW1`, `dL_dW2` and `gradients` agree with hand-written NumPy and finite differences."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import central_differences, seed_backward

from derive import dL_dW1, dL_dW2, gradients


def seed_loss(X, y, W1, W2):
    return np.sum((y - W2 @ np.maximum(W1 @ X, 0)) ** 2) / (2 * X.shape[1])


def random_problem(seed, d, h, N):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(d, N)), rng.normal(size=N), rng.normal(size=(h, d)), rng.normal(size=(1, h))


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 6), st.integers(1, 8), st.integers(1, 40))
def test_agree_with_the_seeds_hand_written_numpy(seed, d, h, N):
    X, y, W1, W2 = random_problem(seed, d, h, N)
    expected_W1, expected_W2 = seed_backward(X, y, W1, W2)
    np.testing.assert_allclose(dL_dW1(X, y, W1, W2), expected_W1, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dL_dW2(X, y, W1, W2), expected_W2, rtol=1e-12, atol=1e-14)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 4), st.integers(1, 5), st.sampled_from([1, 2, 7]))
def test_agree_with_central_finite_differences(seed, d, h, N):
    X, y, W1, W2 = random_problem(seed, d, h, N)
    numeric_W1 = central_differences(lambda: seed_loss(X, y, W1, W2), W1)
    numeric_W2 = central_differences(lambda: seed_loss(X, y, W1, W2), W2)
    np.testing.assert_allclose(dL_dW1(X, y, W1, W2), numeric_W1, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(dL_dW2(X, y, W1, W2), numeric_W2, rtol=1e-5, atol=1e-8)


def test_shapes_follow_the_weights_for_a_single_sample():
    X, y, W1, W2 = random_problem(0, 5, 7, 1)
    assert dL_dW1(X, y, W1, W2).shape == (7, 5)
    assert dL_dW2(X, y, W1, W2).shape == (1, 7)


def test_targets_may_be_a_row_or_a_flat_vector():
    X, y, W1, W2 = random_problem(1, 2, 3, 4)
    np.testing.assert_array_equal(dL_dW1(X, y, W1, W2), dL_dW1(X, y.reshape(1, -1), W1, W2))


def test_gradients_returns_both_in_one_call():
    X, y, W1, W2 = random_problem(2, 3, 4, 5)
    both = gradients(X, y, W1, W2)
    np.testing.assert_allclose(both[0], dL_dW1(X, y, W1, W2), rtol=1e-15)
    np.testing.assert_allclose(both[1], dL_dW2(X, y, W1, W2), rtol=1e-15)


def test_relu_slope_at_an_exact_zero_pre_activation_is_zero():
    # Sample 0 gives hidden unit 0 a pre-activation of exactly 0: 1*0.5 + (-1)*0.5.
    X = np.array([[0.5, 1.0], [0.5, -2.0]])
    W1 = np.array([[1.0, -1.0], [0.3, 0.2]])
    W2 = np.array([[0.7, -0.4]])
    y = np.array([1.0, -1.0])
    assert (W1 @ X)[0, 0] == 0.0
    grad = dL_dW1(X, y, W1, W2)
    np.testing.assert_array_equal(grad, seed_backward(X, y, W1, W2)[0])
    # With relu'(0) = 1/2 (Heaviside's SymPy default) the first row would differ.
    half = (W1 @ X > 0) + 0.5 * (W1 @ X == 0)
    delta_half = (W2.T @ ((W2 @ np.maximum(W1 @ X, 0) - y) / 2)) * half
    assert not np.allclose(grad, delta_half @ X.T)
