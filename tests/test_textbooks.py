"""The shipped examples that follow a textbook reproduce the textbook's own code and numbers.

Each source's algorithm is transcribed here as the source writes it (its loops, shapes and
conventions), run on the example file's numbers, and compared with derive's every step.
"""

from pathlib import Path

import numpy as np
import pytest

from derive import worked_example

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def svm_loss_naive(W: np.ndarray, X: np.ndarray, y: np.ndarray, reg: float) -> tuple:
    """CS231n's `svm_loss_naive` (assignment 1): W is D x C, X is N x D, loops over samples and
    classes, loss averaged over the samples plus reg * Σ W²."""
    dW = np.zeros(W.shape)
    num_classes, num_train = W.shape[1], X.shape[0]
    loss = 0.0
    for i in range(num_train):
        scores = X[i].dot(W)
        correct_class_score = scores[y[i]]
        for j in range(num_classes):
            if j == y[i]:
                continue
            margin = scores[j] - correct_class_score + 1
            if margin > 0:
                loss += margin
                dW[:, j] += X[i]
                dW[:, y[i]] -= X[i]
    loss /= num_train
    dW /= num_train
    loss += reg * np.sum(W * W)
    dW += 2 * reg * W
    return loss, dW


def test_cs231n_svm_gives_the_lectures_loss_and_the_assignments_steps():
    worked = worked_example(EXAMPLES / "cs231n-svm.toml")
    example = worked.example
    X, labels = example.X.T, np.array(example.labels)
    # The lecture's printed losses of the cat, car and frog images, and their mean.
    margins = worked.steps[0].values["M"]
    per_image = [sum(max(0.0, margins[j, n]) for j in range(3) if j != labels[n])
                 for n in range(3)]
    assert per_image == pytest.approx([2.9, 0.0, 12.9], abs=1e-12)
    assert worked.steps[0].loss == pytest.approx((2.9 + 0 + 12.9) / 3, rel=1e-12)
    assert round(worked.steps[0].loss, 2) == 5.27
    W = example.weights[0].T.copy()  # CS231n's W is D x C: derive's W1 transposed
    for step in worked.steps:
        loss, dW = svm_loss_naive(W, X, labels, reg=0.0)
        assert step.loss == pytest.approx(loss, rel=1e-12)
        np.testing.assert_allclose(step.gradients["W1"], dW.T, rtol=1e-12, atol=1e-15)
        W = W - example.learning_rate * dW
        np.testing.assert_allclose(step.updated["W1"], W.T, rtol=1e-12, atol=1e-15)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


class Network2:
    """Nielsen's `network2.Network` with `CrossEntropyCost`, as `network2.py` writes it: a
    column vector per sample, backprop sample by sample, L2 regularisation on the weights."""

    def __init__(self, weights: list, biases: list) -> None:
        self.weights = [w.copy() for w in weights]
        self.biases = [b.copy() for b in biases]

    def feedforward(self, a: np.ndarray) -> np.ndarray:
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(np.dot(w, a) + b)
        return a

    def update_mini_batch(self, mini_batch: list, eta: float, lmbda: float, n: int) -> None:
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        self.weights = [(1 - eta * (lmbda / n)) * w - (eta / len(mini_batch)) * nw
                        for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - (eta / len(mini_batch)) * nb for b, nb in zip(self.biases, nabla_b)]

    def backprop(self, x: np.ndarray, y: np.ndarray) -> tuple:
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        activation, activations, zs = x, [x], []
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        delta = activations[-1] - y  # CrossEntropyCost.delta
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for l in range(2, len(self.weights) + 1):
            sp = sigmoid(zs[-l]) * (1 - sigmoid(zs[-l]))
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sp
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return nabla_b, nabla_w

    def total_cost(self, data: list, lmbda: float) -> float:
        cost = 0.0
        for x, y in data:
            a = self.feedforward(x)
            cost += np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a))) / len(data)
        return cost + 0.5 * (lmbda / len(data)) * sum(np.linalg.norm(w) ** 2 for w in self.weights)


def test_nielsen_example_follows_network2_mini_batch_by_mini_batch():
    worked = worked_example(EXAMPLES / "nielsen-cross-entropy.toml")
    example = worked.example
    n, m = example.X.shape[1], example.batch_size
    # network2.py's L2 term is (λ/2n) Σ w²: derive's weight decay is λ/n.
    lmbda = example.weight_decay * n
    data = [(example.X[:, [i]], example.Y[:, [i]]) for i in range(n)]
    net = Network2(list(example.weights), list(example.biases))
    # network2.SGD without its shuffle: mini-batches cut in order, the last one smaller.
    mini_batches = [data[k:k + m] for k in range(0, n, m)]
    assert [len(batch) for batch in mini_batches] == [2, 2, 1]
    schedule = (mini_batches * example.steps)[:example.steps]
    for step, mini_batch in zip(worked.steps, schedule):
        assert len(step.samples) == len(mini_batch)
        net.update_mini_batch(mini_batch, example.learning_rate, lmbda, n)
        for layer in (1, 2):
            np.testing.assert_allclose(step.updated[f"W{layer}"], net.weights[layer - 1],
                                       rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(step.updated[f"b{layer}"], net.biases[layer - 1],
                                       rtol=1e-12, atol=1e-14)
    penalty = 0.5 * example.weight_decay * sum(np.sum(W**2) for W in net.weights)
    assert worked.final_loss + penalty == pytest.approx(net.total_cost(data, lmbda), rel=1e-12)
