"""Independent oracles for the tests: hand-written NumPy backpropagation and finite differences.

Nothing here uses derive's code: it is what a careful person would write by hand.
"""

from __future__ import annotations

import numpy as np

LEAK = 0.01

ACTIVATIONS = {
    "linear": (lambda s: s, lambda s: np.ones_like(s)),
    "relu": (lambda s: np.maximum(s, 0), lambda s: (s > 0).astype(float)),
    "leaky_relu": (lambda s: np.where(s > 0, s, LEAK * s), lambda s: np.where(s > 0, 1.0, LEAK)),
    "sigmoid": (lambda s: 1 / (1 + np.exp(-s)), lambda s: np.exp(-s) / (1 + np.exp(-s)) ** 2),
    "tanh": (np.tanh, lambda s: 1 - np.tanh(s) ** 2),
}


def softmax(s: np.ndarray) -> np.ndarray:
    e = np.exp(s - s.max(axis=0))
    return e / e.sum(axis=0)


def forward(X, Y, weights, biases, activations, loss):
    """Return (pre-activations, outputs, loss value) of the network, X being d x N."""
    Z, pres, outs = X, [], [X]
    for l, W in enumerate(weights):
        S = W @ Z + (biases[l] if biases else 0)
        Z = softmax(S) if activations[l] == "softmax" else ACTIVATIONS[activations[l]][0](S)
        pres.append(S)
        outs.append(Z)
    N, k = X.shape[1], Y.shape[0]
    if loss == "l2":
        value = np.sum((Y - Z) ** 2) / (2 * N)
    elif loss == "mse":
        value = np.sum((Y - Z) ** 2) / (N * k)
    elif loss == "bce":
        value = -np.sum(Y * np.log(Z) + (1 - Y) * np.log(1 - Z)) / (N * k)
    else:
        value = -np.sum(Y * np.log(Z)) / N
    return pres, outs, value


def backward(X, Y, weights, biases, activations, loss):
    """Hand-written backpropagation: dL/dW_l (and dL/db_l as columns) for every layer."""
    pres, outs, _ = forward(X, Y, weights, biases, activations, loss)
    N, k = X.shape[1], Y.shape[0]
    out = outs[-1]
    if loss in ("bce", "cross_entropy"):
        delta = (out - Y) / (N * k if loss == "bce" else N)
    else:
        grad_out = (out - Y) / N if loss == "l2" else 2 * (out - Y) / (N * k)
        delta = grad_out * ACTIVATIONS[activations[-1]][1](pres[-1])
    dW, db = [None] * len(weights), [None] * len(weights)
    for l in range(len(weights) - 1, -1, -1):
        dW[l] = delta @ outs[l].T
        db[l] = delta.sum(axis=1, keepdims=True)
        if l:
            delta = (weights[l].T @ delta) * ACTIVATIONS[activations[l - 1]][1](pres[l - 1])
    return dW, db


def seed_backward(X, y, W1, W2):
    """The seed notebook's own backward pass, line for line."""
    N = X.shape[1]
    s = W1.dot(X)
    z = np.maximum(0, s)
    y_out = W2.dot(z)
    delta_out = 1 / N * (y_out - y)
    dL_dW2 = delta_out.dot(z.T)
    delta_1 = W2.T.dot(delta_out) * np.where(s > 0, np.ones(s.shape), 0)
    return delta_1.dot(X.T), dL_dW2


def central_differences(loss_of, parameter: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d loss / d parameter by central differences, perturbing one entry at a time."""
    grad = np.zeros_like(parameter)
    for index in np.ndindex(parameter.shape):
        saved = parameter[index]
        parameter[index] = saved + eps
        up = loss_of()
        parameter[index] = saved - eps
        down = loss_of()
        parameter[index] = saved
        grad[index] = (up - down) / (2 * eps)
    return grad
