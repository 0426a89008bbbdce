"""Independent oracles for the tests: hand-written NumPy backpropagation and finite differences.

Nothing here uses derive's code: it is what a careful person would write by hand.
"""

from __future__ import annotations

import json

import numpy as np

LEAK = 0.01

ACTIVATIONS = {
    "linear": (lambda s: s, lambda s: np.ones_like(s)),
    "relu": (lambda s: np.maximum(s, 0), lambda s: (s > 0).astype(float)),
    "leaky_relu": (lambda s: np.where(s > 0, s, LEAK * s), lambda s: np.where(s > 0, 1.0, LEAK)),
    "sigmoid": (lambda s: 1 / (1 + np.exp(-s)), lambda s: np.exp(-s) / (1 + np.exp(-s)) ** 2),
    "tanh": (np.tanh, lambda s: 1 - np.tanh(s) ** 2),
}


def with_leak(leak: float = LEAK) -> dict:
    """Each element-wise activation and its derivative, leaky_relu leaking with `leak`."""
    return {**ACTIVATIONS, "leaky_relu": (lambda s: np.where(s > 0, s, leak * s),
                                          lambda s: np.where(s > 0, 1.0, leak))}


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


def torch_gradients(X, Y, weights, biases, activations, loss):
    """dL/dW_l and dL/db_l by torch autograd, float64, from the forward pass alone."""
    import torch

    functions = {
        "linear": lambda s: s, "relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
        "leaky_relu": lambda s: torch.nn.functional.leaky_relu(s, LEAK),
        "softmax": lambda s: torch.softmax(s, dim=0),
    }
    Ws = [torch.tensor(W, dtype=torch.float64, requires_grad=True) for W in weights]
    bs = [torch.tensor(b, dtype=torch.float64, requires_grad=True) for b in biases]
    Z, T = torch.tensor(X, dtype=torch.float64), torch.tensor(Y, dtype=torch.float64)
    for l, W in enumerate(Ws):
        Z = functions[activations[l]](W @ Z + (bs[l] if bs else 0))
    N = X.shape[1]
    value = {
        "l2": lambda: ((T - Z) ** 2).sum() / (2 * N),
        "mse": lambda: ((T - Z) ** 2).mean(),
        "bce": lambda: torch.nn.functional.binary_cross_entropy(Z, T, reduction="mean"),
        "cross_entropy": lambda: -(T * torch.log(Z)).sum() / N,
    }[loss]()
    value.backward()
    return [W.grad.numpy() for W in Ws], [b.grad.numpy() for b in bs]


def toml_example(sizes, activations, loss, bias, X, Y, weights, biases, steps=1,
                 **training) -> str:
    """An example file's text for the given network and numbers (X and Y are N x d, N x k);
    `training` adds settings of its [training] table (momentum=0.9, freeze=["b1"], ...)."""
    def array(a):
        return repr(np.asarray(a, dtype=float).tolist())

    lines = [
        "[network]", f"sizes = {list(sizes)}", f"activations = {list(activations)!r}".replace("'", '"'),
        f'loss = "{loss}"', f"bias = {str(bias).lower()}",
        "[data]", f"X = {array(X)}", f"y = {array(Y)}",
        "[weights]",
    ]
    for l, W in enumerate(weights, start=1):
        lines.append(f"W{l} = {array(W)}")
        if bias:
            lines.append(f"b{l} = {array(np.ravel(biases[l - 1]))}")
    lines += ["[training]", "learning_rate = 0.1", f"steps = {steps}"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in training.items()]
    return "\n".join(lines) + "\n"
