"""Textbooks' conventions (issue 22): loss reductions, the hinge loss, integer class labels, a
partial or dropped last batch, Nesterov, dampening and decayed biases, step by step against
PyTorch's SGD; each key against a hand computation; LeCun and N(0, 1) draws; bad values.

Numbers agree when |derive − torch| ≤ 1e-9 |torch| + 1e-12 max(1, the largest |entry| of that
quantity): 1e-9 relative, with an absolute floor for entries that cancel to near 0.
"""

import contextlib
import io
import json
from itertools import chain, cycle, islice, repeat

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from files import numbers_only
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader, TensorDataset

from derive import load_example, worked_example
from derive.cli import main

HIDDEN = ["linear", "relu", "leaky_relu", "sigmoid", "tanh"]
OUTPUTS = {"l2": [*HIDDEN, "softmax"], "mse": [*HIDDEN, "softmax"], "bce": ["sigmoid"],
           "cross_entropy": ["softmax"], "hinge": [*HIDDEN, "softmax"]}
CLASSIFIERS = ("cross_entropy", "hinge")
DEFAULT_REDUCTION = {"l2": "batchmean", "mse": "mean", "bce": "mean", "cross_entropy": "mean",
                     "hinge": "mean"}
"""A file's reduction when it names none: l2 is ½ Σ (y − ŷ)² / N, the others are means."""


def toml(tables: dict) -> str:
    """An example file's text: each table's keys valued as JSON writes them, which is TOML's
    syntax for numbers, strings, booleans and arrays."""
    return "".join(f"[{name}]\n" + "".join(f"{key} = {json.dumps(value)}\n"
                                           for key, value in table.items())
                   for name, table in tables.items())


def values(tables: dict, tmp_path) -> dict:
    """`python -m derive values` of the file these tables make, run in this process, without the
    entry-by-entry cross-check (it changes no number)."""
    path = tmp_path / "conventions.toml"
    path.write_text(toml(tables))
    out = io.StringIO()
    with contextlib.redirect_stdout(out), numbers_only():
        assert main(["values", str(path)]) == 0
    return json.loads(out.getvalue())


def close(got, want) -> None:
    """The tolerance of the module docstring, entry by entry."""
    want = np.asarray(want, dtype=float)
    got = np.asarray(got, dtype=float).reshape(want.shape)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12 * max(1.0, np.abs(want).max()))


# PyTorch, step by step

def torch_loss(loss: str, reduction: str, S, Z, T, labels):
    """The loss in torch of the last layer's logits S and outputs Z (classes x samples), the
    targets T and the class labels. batchmean is torch's sum divided by the samples;
    multi_margin_loss divides each sample's sum by the classes, so it is multiplied back."""
    scale = 1 / T.shape[1] if reduction == "batchmean" else 1
    r = "mean" if reduction == "mean" else "sum"
    value = {
        "l2": lambda: F.mse_loss(Z, T, reduction=r) / 2,
        "mse": lambda: F.mse_loss(Z, T, reduction=r),
        "bce": lambda: F.binary_cross_entropy_with_logits(S, T, reduction=r),
        "cross_entropy": lambda: F.cross_entropy(S.T, T.T if labels is None else labels,
                                                 reduction=r),
        "hinge": lambda: F.multi_margin_loss(Z.T, T.argmax(dim=0), reduction=r) * Z.shape[0],
    }[loss]()
    return value * scale


def torch_batches(N: int, batch_size: int, last_batch: str, steps: int) -> list[tuple]:
    """Each step's samples: a DataLoader without shuffling, pass after pass, for "partial" and
    "drop"; for "wrap" the stream of passes cut into batches of batch_size."""
    if last_batch == "wrap":
        return [tuple(i % N for i in range(s * batch_size, (s + 1) * batch_size))
                for s in range(steps)]
    loader = DataLoader(TensorDataset(torch.arange(N)), batch_size=batch_size, shuffle=False,
                        drop_last=last_batch == "drop")
    return [tuple(batch.tolist()) for (batch,) in islice(chain.from_iterable(repeat(loader)),
                                                         steps)]


def torch_training(tables: dict, batches: list[tuple]) -> tuple[list[dict], float]:
    """Every step of torch.optim.SGD (float64) on the file's network, data and weights: the
    batch's loss and the loss of all samples before the update, the gradients (with weight
    decay, dL/dθ + λθ for each decayed θ), the momentum buffers and the parameters after it;
    and the loss of all samples after the last step."""
    network, data, training = tables["network"], tables["data"], tables["training"]
    loss, k = network["loss"], network["sizes"][-1]
    reduction = network.get("reduction", DEFAULT_REDUCTION[loss])
    X = torch.tensor(data["X"], dtype=torch.float64).T
    labels = torch.tensor(data["y"]) if k > 1 and not isinstance(data["y"][0], list) else None
    T = (F.one_hot(labels, k).T.double() if labels is not None
         else torch.tensor(data["y"], dtype=torch.float64).reshape(X.shape[1], k).T)
    parameters = {name: torch.tensor(value, dtype=torch.float64).reshape(len(value), -1)
                  .requires_grad_() for name, value in tables["weights"].items()}
    slope = network["leaky_slope"]
    functions = {"linear": lambda s: s, "relu": torch.relu, "sigmoid": torch.sigmoid,
                 "tanh": torch.tanh, "leaky_relu": lambda s: F.leaky_relu(s, slope),
                 "softmax": lambda s: torch.softmax(s, dim=0)}

    def loss_of(columns: list[int]):
        Z = X[:, columns]
        for l, activation in enumerate(network["activations"], start=1):
            S = parameters[f"W{l}"] @ Z + (parameters[f"b{l}"] if network["bias"] else 0)
            Z = functions[activation](S)
        return torch_loss(loss, reduction, S, Z, T[:, columns],
                          None if labels is None else labels[columns])

    decay = training["weight_decay"]
    decayed = [name for name in parameters if name[0] == "W" or training["decay_biases"]]
    trained = [name for name in parameters if name not in training["freeze"]]
    groups = [{"params": [parameters[n] for n in trained if n in decayed], "weight_decay": decay},
              {"params": [parameters[n] for n in trained if n not in decayed], "weight_decay": 0.0}]
    optimizer = torch.optim.SGD([group for group in groups if group["params"]],
                                lr=training["learning_rate"], momentum=training["momentum"],
                                dampening=training["dampening"], nesterov=training["nesterov"])
    everything = list(range(X.shape[1]))
    steps = []
    for batch in batches:
        with torch.no_grad():
            data_loss = loss_of(everything).item()
        for parameter in parameters.values():  # frozen ones too: derive shows their gradients
            parameter.grad = None
        value = loss_of(list(batch))
        value.backward()
        gradients = {name: (p.grad + (decay if name in decayed else 0.0) * p).detach().numpy()
                     for name, p in parameters.items()}
        optimizer.step()
        steps.append({
            "loss": value.item(), "data_loss": data_loss, "gradients": gradients,
            "velocity": {name: optimizer.state[parameters[name]]["momentum_buffer"].numpy().copy()
                         for name in trained} if training["momentum"] else {},
            "updated": {name: p.detach().numpy().copy() for name, p in parameters.items()},
        })
    with torch.no_grad():
        return steps, loss_of(everything).item()


@st.composite
def conventions(draw) -> dict:
    """A random small network with its data and weights, and a random choice of the new keys,
    as the tables of an example file."""
    depth = draw(st.integers(1, 3))
    loss = draw(st.sampled_from(sorted(OUTPUTS)))
    sizes = draw(st.lists(st.integers(1, 4), min_size=depth + 1, max_size=depth + 1))
    if loss in CLASSIFIERS:
        sizes[-1] = max(sizes[-1], 2)
    activations = draw(st.lists(st.sampled_from(HIDDEN), min_size=depth - 1, max_size=depth - 1))
    activations.append(draw(st.sampled_from(OUTPUTS[loss])))
    bias = draw(st.booleans())
    N, k = draw(st.integers(1, 6)), sizes[-1]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    classes = rng.integers(0, k, N)
    if loss in CLASSIFIERS and draw(st.booleans()):
        y = classes.tolist()
    else:
        Y = {"l2": lambda: rng.normal(size=(N, k)), "mse": lambda: rng.normal(size=(N, k)),
             "bce": lambda: rng.uniform(size=(N, k)),
             "cross_entropy": lambda: rng.dirichlet(np.ones(k), size=N),
             "hinge": lambda: np.eye(k)[classes]}[loss]()
        y = Y[:, 0].tolist() if k == 1 else Y.tolist()
    weights = {}
    for l in range(1, depth + 1):
        weights[f"W{l}"] = rng.normal(scale=0.7, size=(sizes[l], sizes[l - 1])).tolist()
        if bias:
            weights[f"b{l}"] = rng.normal(scale=0.5, size=sizes[l]).tolist()
    network = {"sizes": sizes, "activations": activations, "loss": loss, "bias": bias,
               "leaky_slope": draw(st.sampled_from([0.01, 0.2]))}
    reduction = draw(st.sampled_from([None, "mean", "sum", "batchmean"]))
    if reduction:
        network["reduction"] = reduction
    momentum = draw(st.sampled_from([0.0, 0.5, 0.9]))
    dampening = draw(st.sampled_from([0.0, 0.3])) if momentum else 0.0
    weight_decay = draw(st.sampled_from([0.0, 0.01, 0.3]))
    training = {
        "learning_rate": draw(st.sampled_from([0.05, 0.2])), "steps": 5,
        "batch_size": draw(st.integers(1, N)),
        "freeze": draw(st.lists(st.sampled_from(sorted(weights)), unique=True,
                                max_size=len(weights) - 1)),
        "momentum": momentum, "dampening": dampening,
        "nesterov": bool(momentum) and not dampening and draw(st.booleans()),
        "weight_decay": weight_decay,
        "decay_biases": bias and weight_decay > 0 and draw(st.booleans()),
    }
    last_batch = draw(st.sampled_from([None, "wrap", "partial", "drop"]))
    if last_batch:
        training["last_batch"] = last_batch
    return {"network": network, "data": {"X": rng.normal(size=(N, sizes[0])).tolist(), "y": y},
            "weights": weights, "training": training}


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(conventions())
def test_every_step_agrees_with_torch(numbers_only, tmp_path, tables):
    training = tables["training"]
    N = len(tables["data"]["X"])
    batches = torch_batches(N, training["batch_size"], training.get("last_batch", "wrap"),
                            training["steps"])
    ours = values(tables, tmp_path)
    expected, final_loss = torch_training(tables, batches)
    assert [tuple(step["samples"]) for step in ours["steps"]] == batches
    for step, reference in zip(ours["steps"], expected, strict=True):
        close(step["loss"], reference["loss"])
        if len(step["samples"]) < N:
            close(step["data_loss"], reference["data_loss"])
        for name, gradient in reference["gradients"].items():
            close(step["gradients"][name], gradient)
            close(step["updated"][name], reference["updated"][name])
        for name, velocity in reference["velocity"].items():
            close(step["velocity"][name], velocity)
    close(ours["final"]["loss"], final_loss)


# Each key by hand

OUTPUT = {"l2": "linear", "mse": "linear", "bce": "sigmoid", "cross_entropy": "softmax",
          "hinge": "linear"}
"""The one layer's activation that `one_layer` gives each loss."""


def one_layer(N: int = 4, sizes=(3, 2), loss: str = "l2", labels: bool = False, seed: int = 0,
              **training) -> dict:
    """A one-layer network with biases on N random samples, its numbers rounded to two decimals;
    the classifiers' targets one-hot rows, or with `labels` the same classes as labels."""
    rng = np.random.default_rng(seed)
    d, k = sizes
    classes = rng.integers(0, k, N)
    Y = (np.eye(k)[classes] if loss in CLASSIFIERS
         else rng.uniform(0 if loss == "bce" else -1, 1, (N, k)).round(2))
    return {
        "network": {"sizes": list(sizes), "activations": [OUTPUT[loss]], "loss": loss,
                    "bias": True},
        "data": {"X": rng.uniform(-1, 1, (N, d)).round(2).tolist(),
                 "y": classes.tolist() if labels else Y.tolist()},
        "weights": {"W1": rng.uniform(-1, 1, (k, d)).round(2).tolist(),
                    "b1": rng.uniform(-1, 1, k).round(2).tolist()},
        "training": {"learning_rate": 0.1, **training},
    }


def test_a_partial_last_batch_is_smaller_and_a_dropped_one_is_left_out(tmp_path):
    N, m, steps = 5, 2, 7
    passes = [tuple(range(N))[start:start + m] for start in range(0, N, m)]
    expected = {
        "partial": list(islice(cycle(passes), steps)),  # [0, 1], [2, 3], [4], [0, 1] ...
        "drop": list(islice(cycle([b for b in passes if len(b) == m]), steps)),  # [4] left out
        "wrap": [tuple(i % N for i in range(s * m, s * m + m)) for s in range(steps)],  # [4, 0]
    }
    for last_batch, batches in expected.items():
        tables = one_layer(N, batch_size=m, steps=steps, last_batch=last_batch)
        ours = values(tables, tmp_path)
        assert [tuple(step["samples"]) for step in ours["steps"]] == batches
        if last_batch == "partial":
            # The smaller batch's loss is the l2 loss ½ Σ (y − ŷ)² / N of its one sample.
            small = next(step for step in ours["steps"] if len(step["samples"]) < m)
            (n,) = small["samples"]
            x, y = np.array(tables["data"]["X"][n]), np.array(tables["data"]["y"][n])
            W, b = np.array(small["weights"]["W1"]), np.array(small["weights"]["b1"])
            assert small["loss"] == pytest.approx(np.sum((y - W @ x - b) ** 2) / 2, rel=1e-12)


@pytest.mark.parametrize("last_batch", ["partial", "drop"])
def test_a_shuffled_pass_is_cut_the_same_way(tmp_path, last_batch):
    N, m = 5, 2
    lengths = [len(range(N)[start:start + m]) for start in range(0, N, m)]  # 2, 2, 1
    if last_batch == "drop":
        lengths = [length for length in lengths if length == m]
    ours = values(one_layer(N, batch_size=m, steps=3 * len(lengths), shuffle_seed=4,
                            last_batch=last_batch), tmp_path)
    samples = [step["samples"] for step in ours["steps"]]
    passes = [samples[start:start + len(lengths)]
              for start in range(0, len(samples), len(lengths))]
    for batches in passes:
        assert [len(batch) for batch in batches] == lengths
        seen = [n for batch in batches for n in batch]
        assert len(set(seen)) == len(seen)
    assert len({str(batches) for batches in passes}) > 1  # a fresh order each pass


def hand_entries(loss: str, S: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """The entries a reduction sums, from the one layer's pre-activation S (classes x samples):
    one per output of each sample for l2, mse and bce; one per sample for the classifiers."""
    if loss == "l2":
        return (Y - S) ** 2 / 2
    if loss == "mse":
        return (Y - S) ** 2
    if loss == "bce":
        p = 1 / (1 + np.exp(-S))
        return -(Y * np.log(p) + (1 - Y) * np.log(1 - p))
    if loss == "cross_entropy":
        return -(Y * (S - np.log(np.exp(S).sum(axis=0)))).sum(axis=0)
    true_score = (Y * S).sum(axis=0)
    return ((1 - Y) * np.maximum(0, S - true_score + 1)).sum(axis=0)


@pytest.mark.parametrize("reduction", [None, "mean", "sum", "batchmean"])
@pytest.mark.parametrize("loss", sorted(OUTPUT))
def test_each_reduction_is_the_entries_mean_sum_or_sum_over_samples(tmp_path, loss, reduction):
    tables = one_layer(N=4, sizes=(3, 3), loss=loss)
    if reduction:
        tables["network"]["reduction"] = reduction
    X, Y = np.array(tables["data"]["X"]).T, np.array(tables["data"]["y"]).T
    W, b = np.array(tables["weights"]["W1"]), np.array(tables["weights"]["b1"])[:, None]
    entries = hand_entries(loss, W @ X + b, Y)
    expected = {"mean": entries.mean(), "sum": entries.sum(),
                "batchmean": entries.sum() / X.shape[1]}[reduction or DEFAULT_REDUCTION[loss]]
    assert values(tables, tmp_path)["steps"][0]["loss"] == pytest.approx(expected, rel=1e-12)


def test_a_summed_mse_is_n_k_times_its_mean_and_so_are_its_gradients(tmp_path):
    N, sizes = 5, (3, 2)
    runs = {}
    for reduction in ("mean", "sum"):
        tables = one_layer(N, sizes, loss="mse")
        tables["network"]["reduction"] = reduction
        runs[reduction] = values(tables, tmp_path)["steps"][0]
    entries = N * sizes[-1]
    assert runs["sum"]["loss"] == pytest.approx(entries * runs["mean"]["loss"], rel=1e-12)
    for name, gradient in runs["mean"]["gradients"].items():
        close(runs["sum"]["gradients"][name], entries * np.array(gradient))


@pytest.mark.parametrize("loss", CLASSIFIERS)
def test_integer_labels_give_exactly_the_numbers_of_their_one_hot_rows(tmp_path, loss):
    labelled = values(one_layer(N=5, sizes=(3, 4), loss=loss, labels=True, steps=3), tmp_path)
    one_hot = values(one_layer(N=5, sizes=(3, 4), loss=loss, steps=3), tmp_path)
    assert labelled["steps"] == one_hot["steps"]
    assert labelled["final"] == one_hot["final"]
    rows = one_layer(N=5, sizes=(3, 4), loss=loss)["data"]["y"]
    assert labelled["labels"] == [row.index(1) for row in rows] and one_hot["labels"] is None


def test_hinge_gives_cs231n_s_losses_of_the_cat_car_and_frog_scores(tmp_path):
    # CS231n, "Linear classification": the scores of three images (columns: a cat, a car and a
    # frog image; rows: the cat, car and frog classes), each image's class its own column's.
    scores = [[3.2, 1.3, 2.2], [5.1, 4.9, 2.5], [-1.7, 2.0, -3.1]]
    printed = [2.9, 0, 12.9]  # the notes' losses of the three images
    classes = list(range(3))
    tables = {  # X = I makes the one linear layer's outputs its weights: the scores
        "network": {"sizes": [3, 3], "activations": ["linear"], "loss": "hinge", "bias": False},
        "data": {"X": np.eye(3).tolist(), "y": classes},
        "weights": {"W1": scores},
        "training": {"learning_rate": 0.1},
    }
    first = values(tables, tmp_path)["steps"][0]
    assert first["loss"] == pytest.approx(sum(printed) / 3, rel=1e-12)
    # Each violated margin adds the image to its class's scores' gradient and takes it from the
    # true class's: with X = I, column n of dL/dW counts sample n's violations, over N.
    S = np.array(scores)
    violated = (S - S[classes, classes] + 1 > 0) & (np.arange(3)[:, None] != classes)
    by_hand = (violated - np.diag(violated.sum(axis=0))) / 3
    close(first["gradients"]["W1"], by_hand)
    tables["network"]["reduction"] = "sum"
    assert values(tables, tmp_path)["steps"][0]["loss"] == pytest.approx(sum(printed), rel=1e-12)


def test_hinge_on_a_softmax_output_passes_the_element_wise_cross_check(tmp_path):
    tables = one_layer(N=3, sizes=(2, 3), loss="hinge", labels=True)
    tables["network"]["activations"] = ["softmax"]
    path = tmp_path / "softmax-hinge.toml"
    path.write_text(toml(tables))
    worked = worked_example(path)
    assert worked.expansion is not None and worked.expansion.agrees()


def hand_sgd(tables: dict) -> list[tuple[dict, dict]]:
    """torch.optim.SGD's documented update on `one_layer`'s l2 network, all samples a step: the
    gradient g = ∇L + λθ (for b only with decay_biases), v = g at the first step, then
    v = μ v + (1 − τ) g, and θ ← θ − η (g + μ v) with Nesterov, else θ − η v. Each step's
    gradients and updated parameters."""
    data, training = tables["data"], tables["training"]
    X, Y = np.array(data["X"]).T, np.array(data["y"]).T
    θ = {"W1": np.array(tables["weights"]["W1"]), "b1": np.array(tables["weights"]["b1"])[:, None]}
    λ, μ = training.get("weight_decay", 0.0), training.get("momentum", 0.0)
    τ, η = training.get("dampening", 0.0), training["learning_rate"]
    velocity, steps = {}, []
    for _ in range(training["steps"]):
        R = θ["W1"] @ X + θ["b1"] - Y
        g = {"W1": R @ X.T / X.shape[1] + λ * θ["W1"],
             "b1": R.sum(axis=1, keepdims=True) / X.shape[1]
             + (λ * θ["b1"] if training.get("decay_biases") else 0)}
        for name in θ:
            velocity[name] = μ * velocity[name] + (1 - τ) * g[name] if name in velocity else g[name]
        step = {name: g[name] + μ * velocity[name] if training.get("nesterov")
                else velocity[name] if μ else g[name] for name in θ}
        θ = {name: θ[name] - η * step[name] for name in θ}
        steps.append((g, θ))
    return steps


@pytest.mark.parametrize("options", [
    {"momentum": 0.9, "nesterov": True},
    {"momentum": 0.9, "dampening": 0.5},
    {"momentum": 0.5, "weight_decay": 0.2},
    {"momentum": 0.5, "weight_decay": 0.2, "decay_biases": True},
    {"momentum": 0.9, "nesterov": True, "weight_decay": 0.2, "decay_biases": True},
], ids=lambda options: ", ".join(options))
def test_nesterov_dampening_and_decayed_biases_follow_torchs_update(tmp_path, options):
    tables = one_layer(N=4, steps=4, **options)
    ours = values(tables, tmp_path)["steps"]
    for step, (gradients, updated) in zip(ours, hand_sgd(tables), strict=True):
        for name in updated:
            close(step["gradients"][name], gradients[name])
            close(step["updated"][name], updated[name])


def test_lecun_normal_weights_and_standard_normal_biases_have_their_scale(tmp_path):
    sizes = [4, 3000, 1]  # within the work budget: 3,001 biases, 12,000 and 3,000 weights

    def drawn(seed: int, **init) -> list[np.ndarray]:
        tables = {
            "network": {"sizes": sizes, "activations": ["tanh", "linear"], "loss": "mse",
                        "bias": True},
            "data": {"X": [[0.0] * sizes[0]], "y": [[0.0] * sizes[-1]]},
            "weights": {"init": "lecun_normal", "seed": seed, "decimals": 6, **init},
        }
        path = tmp_path / "drawn.toml"
        path.write_text(toml(tables))
        example = load_example(path)
        return [*example.weights, np.concatenate(example.biases)]

    *weights, biases = drawn(1, bias_init="standard_normal")
    for W, fan_in in zip(weights, sizes):  # N(0, 1/fan_in), within 5 standard errors
        assert abs(W.std() * np.sqrt(fan_in) - 1) < 5 / np.sqrt(2 * W.size)
        assert abs(W.mean() * np.sqrt(fan_in)) < 5 / np.sqrt(W.size)
    assert abs(biases.std() - 1) < 5 / np.sqrt(2 * biases.size)  # N(0, 1)
    assert abs(biases.mean()) < 5 / np.sqrt(biases.size)
    for matrix in (*weights, biases):
        np.testing.assert_array_equal(np.round(matrix, 6), matrix)
    again, other = drawn(1, bias_init="standard_normal"), drawn(2, bias_init="standard_normal")
    assert all(np.array_equal(a, b) for a, b in zip(again, (*weights, biases), strict=True))
    assert not any(np.array_equal(a, b) for a, b in zip(other, (*weights, biases), strict=True))
    assert not drawn(1)[-1].any()  # bias_init's default: zeros


# Bad values of the new keys

def bad(**tables) -> dict:
    """`one_layer`'s hinge classifier with its class labels, each table updated as given
    (None removes a key)."""
    example = one_layer(N=4, sizes=(2, K), loss="hinge", labels=True)
    for name, changes in tables.items():
        example[name] = {key: value for key, value in {**example[name], **changes}.items()
                         if value is not None}
    return example


K = 3
"""Classes of the bad-input examples."""
LABELS = one_layer(N=4, sizes=(2, K), loss="hinge", labels=True)["data"]["y"]
BAD = [
    ("nesterov without momentum", bad(training={"nesterov": True}), "training.nesterov",
     "Nesterov momentum needs training.momentum above 0 and no dampening"),
    ("nesterov with dampening", bad(training={"nesterov": True, "momentum": 0.9,
                                              "dampening": 0.1}),
     "training.nesterov", "needs training.momentum above 0 and no dampening"),
    ("nesterov not true or false", bad(training={"nesterov": "yes"}), "training.nesterov",
     "true or false"),
    ("dampening without momentum", bad(training={"dampening": 0.5}), "training.dampening",
     "dampens the momentum: set training.momentum above 0 too"),
    ("dampening above 1", bad(training={"momentum": 0.9, "dampening": 1.5}),
     "training.dampening", "between 0 and 1"),
    ("decay_biases without biases", bad(network={"bias": False}, weights={"b1": None},
                                        training={"decay_biases": True, "weight_decay": 0.1}),
     "training.decay_biases", "needs network.bias = true and training.weight_decay above 0"),
    ("decay_biases without weight decay", bad(training={"decay_biases": True}),
     "training.decay_biases", "needs network.bias = true and training.weight_decay above 0"),
    ("a label out of range", bad(data={"y": [*LABELS[:1], K, *LABELS[2:]]}), "data.y[1]",
     f"class {K} does not exist: labels run from 0 to {K - 1}"),
    ("a negative label", bad(data={"y": [*LABELS[:1], -1, *LABELS[2:]]}), "data.y[1]",
     "class -1 does not exist"),
    ("a fractional label", bad(data={"y": [*LABELS[:1], 1.5, *LABELS[2:]]}), "data.y[1]",
     "a class label must be a whole number, not 1.5"),
    ("a label missing", bad(data={"y": LABELS[:-1]}), "data.y",
     f"must have {len(LABELS)} labels (one per sample), not {len(LABELS) - 1}"),
    ("hinge with one output", bad(network={"sizes": [2, 1]}), "network.sizes",
     "the hinge loss needs at least 2 classes"),
    ("hinge targets not one-hot", bad(data={"y": [np.full(K, 1 / K).tolist()]
                                          + np.eye(K)[LABELS[1:]].tolist()}),
     "data.y", "hinge targets must be one-hot rows"),
    ("an unknown reduction", bad(network={"reduction": "avg"}), "network.reduction",
     "must be one of mean, sum, batchmean, not 'avg'"),
    ("an unknown last_batch", bad(training={"last_batch": "keep"}), "training.last_batch",
     "must be one of wrap, partial, drop, not 'keep'"),
    ("an unknown bias_init", bad(weights={"init": "lecun_normal", "bias_init": "ones"}),
     "weights.bias_init", "must be one of zeros, standard_normal, not 'ones'"),
    ("bias_init without init", bad(weights={"bias_init": "standard_normal"}),
     "weights.bias_init", "goes with weights.init"),
]


@pytest.mark.parametrize("case, tables, field, words", BAD, ids=[case[0] for case in BAD])
def test_a_bad_value_of_a_new_key_is_one_line_naming_file_and_field(tmp_path, capsys, case,
                                                                     tables, field, words):
    path = tmp_path / "bad.toml"
    path.write_text(toml(tables))
    assert main(["values", str(path)]) == 2, case
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1, captured.err
    assert captured.err.startswith(f"{path}: {field}: ") and words in captured.err, captured.err
