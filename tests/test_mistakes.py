"""The mistake catalogue: each mistake's numbers, evaluated from derive's rewritten derivation,
agree with a hand-written NumPy step that makes the same mistake; ids are stable; a mistake that
gives the right value is not offered; the real derivation is left alone."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest
from reference import softmax, toml_example, with_leak

from derive import worked_example
from derive.compile.compiled import compile_derivation
from derive.errors import DeriveError
from derive.mistakes import IDS, catalogue, catalogue_markdown, made_in, mistaken_values, offered
from derive.present.latex import number, tex
from derive.spec import load_example
from derive.symbolic import derive
from derive.training import derivation_of, final_loss, train
from derive.worked import WorkedExample

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted(path.stem for path in (ROOT / "examples").glob("*.toml"))
DESIGNED = ("sum-not-mean", "no-half", "no-activation-derivative", "derivative-at-output",
            "update-sign", "updated-weights-backward", "transpose", "target-sign",
            "softmax-elementwise", "bias-not-summed")
"""The ids DESIGN.md promises the page's `.mark()` may return."""


@cache
def shipped(name: str) -> WorkedExample:
    return worked_example(ROOT / "examples" / f"{name}.toml")


# A hand-written step with the mistake made, in plain NumPy: nothing of derive's.

def hand_step(worked: WorkedExample, step: int, mistake: str | None) -> dict:
    """Step `step` of the example by hand, from its true inputs, with `mistake` made."""
    e, net = worked.example, worked.example.network
    true = worked.steps[step - 1]
    previous = worked.steps[step - 2].velocity if step > 1 else {}
    X, Y, P = e.X[:, list(true.samples)], e.Y[:, list(true.samples)], true.parameters
    depth, N, k = len(net.activations), X.shape[1], Y.shape[0]
    eta, lam, mu, damp = e.learning_rate, e.weight_decay, e.momentum, e.dampening
    functions = with_leak(float(net.leaky_slope))
    W = {l: P[f"W{l}"] for l in range(1, depth + 1)}
    b = {l: P[f"b{l}"] if net.bias else 0.0 for l in range(1, depth + 1)}
    square = {l: net.sizes[l] == net.sizes[l - 1] for l in range(1, depth + 1)}
    values, S, Z = {}, {}, {0: X}
    for l in range(1, depth + 1):
        S[l] = W[l] @ Z[l - 1] + b[l]
        act = net.activations[l - 1]
        Z[l] = softmax(S[l]) if act == "softmax" else functions[act][0](S[l])
        values[f"S{l}"], values[f"Z{l}"] = S[l], Z[l]
    out = Z[depth]
    # What the sum of the loss's entries is divided by: its reduction, with the 1/N forgotten.
    per_sample = net.loss in ("cross_entropy", "hinge")
    mean = {"sum": 1, "batchmean": N, "mean": N if per_sample else N * k}[net.reduction]
    if mistake == "sum-not-mean":
        mean /= N
    decayed = {**W, **({f"b{l}": b[l] for l in b} if e.decay_biases else {})}
    if net.loss == "l2":
        loss = np.sum((Y - out) ** 2) / (1 if mistake == "no-half" else 2) / mean
    elif net.loss == "mse":
        loss = np.sum((Y - out) ** 2) / mean
    elif net.loss == "bce":
        loss = -np.sum(Y * np.log(out) + (1 - Y) * np.log(1 - out)) / mean
    elif net.loss == "hinge":
        values["M"] = out - np.sum(Y * out, axis=0) + 1
        loss = np.sum((1 - Y) * np.maximum(values["M"], 0)) / mean
    else:
        loss = -np.sum(Y * np.log(out)) / mean
    if lam:
        values["R"] = lam / 2 * sum(np.sum(w ** 2) for w in decayed.values())
        values["J"] = loss + values["R"]

    def back_through(l: int, G: np.ndarray) -> np.ndarray:
        act = net.activations[l - 1]
        if act == "linear":
            return G
        if act == "softmax":
            if mistake == "softmax-elementwise":
                return Z[l] * (1 - Z[l]) * G
            return Z[l] * (G - np.sum(Z[l] * G, axis=0))
        if mistake == "no-activation-derivative":
            return G
        return functions[act][1](Z[l] if mistake == "derivative-at-output" else S[l]) * G

    residual = Y - out if mistake == "target-sign" else out - Y
    if net.loss == "cross_entropy" and mistake == "softmax-elementwise":
        delta = out * (1 - out) * (-Y / (mean * out))
    elif net.loss in ("bce", "cross_entropy"):
        delta = residual / mean
    elif net.loss == "hinge":
        values["GM"] = (values["M"] > 0) * (1 - Y) / mean
        G = values["GM"] - Y * np.sum(values["GM"], axis=0)
        values[f"G{depth}"] = G
        delta = back_through(depth, G)
    else:
        G = residual / mean if net.loss == "l2" else 2 * residual / mean
        if mistake == "no-half":
            G = 2 * G if net.loss == "l2" else G / 2
        values[f"G{depth}"] = G
        delta = back_through(depth, G)
    gradients = {}
    for l in range(depth, 0, -1):
        values[f"delta{l}"] = delta
        transposed = mistake == "transpose" and square[l]
        gradients[f"W{l}"] = (Z[l - 1] @ delta.T if transposed else delta @ Z[l - 1].T) \
            + lam * W[l]
        if lam:
            values[f"dR_dW{l}"] = lam * W[l]
        if net.bias:
            gradients[f"b{l}"] = delta if mistake == "bias-not-summed" else \
                delta.sum(axis=1, keepdims=True)
            if e.decay_biases:
                gradients[f"b{l}"] = gradients[f"b{l}"] + lam * b[l]
                values[f"dR_db{l}"] = lam * b[l]
        if l > 1:
            back = W[l]
            if mistake == "updated-weights-backward" and f"W{l}" not in e.freeze:
                back = W[l] - eta * gradients[f"W{l}"]
            G = back @ delta if mistake == "weights-not-transposed" and square[l] else \
                back.T @ delta
            values[f"G{l - 1}"] = G
            delta = back_through(l - 1, G)
    trained = [name for name in P if name not in e.freeze]
    velocity = {n: mu * previous[n] + (1 - damp) * gradients[n] if n in previous
                else gradients[n] for n in trained} if mu else {}
    moves = velocity if mu else gradients
    if e.nesterov:
        moves = {n: gradients[n] + mu * velocity[n] for n in trained}
    sign = 1 if mistake == "update-sign" else -1
    updated = {n: P[n] + sign * eta * moves[n] if n in trained else P[n] for n in P}
    return {"loss": loss, "intermediates": values, "gradients": gradients,
            **({"velocity": velocity} if mu else {}), "updated": updated}


def as_json(name: str, value) -> np.ndarray:
    """A value shaped as the `derive values` JSON writes it: a bias column flat."""
    array = np.asarray(value, dtype=float)
    return array.ravel() if name.startswith("b") and array.shape[-1] == 1 else array


def quantities(values: dict) -> dict[str, np.ndarray]:
    """Every quantity of a step by its dotted JSON path."""
    found = {"loss": np.asarray(values["loss"], dtype=float)}
    for group in ("intermediates", "gradients", "velocity", "updated"):
        found |= {f"{group}.{name}": as_json(name, value)
                  for name, value in values.get(group, {}).items()}
    return found


def differs(a: np.ndarray, b: np.ndarray, relative: float) -> bool:
    """Whether a and b differ in shape, or by more than `relative` times b's largest entry."""
    if a.shape != b.shape:
        return True
    return bool(np.max(np.abs(a - b), initial=0.0) > relative * np.max(np.abs(b), initial=0.0))


def check_against_hand(worked: WorkedExample) -> list[str]:
    """Every mistake of the example, every detailed step: derive's numbers against the hand
    step's to 1e-12 relative (to the quantity's largest entry), and `offered` where the hand
    step's mistaken value differs from its right one. Returns the mistakes checked."""
    checked = []
    for mistake in catalogue(worked):
        for step, got in enumerate(mistaken_values(worked, mistake), start=1):
            made = quantities(got)
            wanted = quantities(hand_step(worked, step, mistake.id))
            right = quantities(hand_step(worked, step, None))
            assert sorted(made) == sorted(wanted), (mistake.id, step)
            for path, value in wanted.items():
                where = f"{worked.example.name}: {mistake.id}: step {step}: {path}"
                assert not differs(np.asarray(made[path]), value, 1e-12), where
                assert offered(worked, mistake, step, path) == differs(value, right[path], 1e-9), \
                    where
        checked.append(mistake.id)
    return checked


@pytest.mark.parametrize("name", SHIPPED)
def test_every_mistake_of_a_shipped_example_is_the_hand_written_mistake(name):
    worked = shipped(name)
    checked = check_against_hand(worked)
    everywhere = {"sum-not-mean", "update-sign"} | (
        {"target-sign"} if worked.example.network.loss != "hinge" else set())
    assert everywhere <= set(checked)


def network(sizes, activations, loss, bias, **training) -> dict:
    return {"sizes": sizes, "activations": activations, "loss": loss, "bias": bias, **training}


RANDOM = [
    network([2, 2, 2], ["leaky_relu", "softmax"], "l2", True),
    network([3, 3, 2], ["tanh", "sigmoid"], "bce", True, steps=2, weight_decay=0.05),
    network([2, 3, 3], ["sigmoid", "softmax"], "cross_entropy", False),
    network([2, 2, 2, 1], ["relu", "tanh", "linear"], "mse", True, steps=3),
    network([1, 3, 2], ["sigmoid", "linear"], "mse", False, steps=3, momentum=0.5),
    network([2, 2, 1], ["linear", "sigmoid"], "l2", True, steps=2, freeze=["W2"]),
    network([3, 2, 2], ["relu", "softmax"], "mse", True, steps=3, momentum=0.9, freeze=["b1"]),
    network([2, 3, 3], ["relu", "linear"], "hinge", True, steps=2, weight_decay=0.05,
            decay_biases=True, momentum=0.5, nesterov=True),
    network([2, 2, 3], ["tanh", "softmax"], "cross_entropy", True, reduction="sum", steps=3,
            momentum=0.9, dampening=0.3),
    network([2, 2, 2], ["sigmoid", "sigmoid"], "bce", True, reduction="batchmean", steps=3,
            batch_size=2, last_batch="partial"),
    network([2, 2, 2], ["relu", "linear"], "mse", False, reduction="sum", steps=2),
]


def random_network(tmp_path: Path, seed: int, sizes, activations, loss, bias, steps=1,
                   reduction=None, **training) -> WorkedExample:
    """A small network with random numbers, trained but not verified (verification is tested
    elsewhere, and its element-wise expansion of softmax + l2 is slow)."""
    rng = np.random.default_rng(seed)
    N, k = 3, sizes[-1]
    X = rng.uniform(-1, 1, (N, sizes[0])).round(2)
    if loss in ("cross_entropy", "hinge"):
        Y = np.eye(k)[rng.integers(0, k, N)]
    else:
        Y = rng.uniform(0.05, 0.95, (N, k)).round(2) if loss == "bce" else \
            rng.uniform(-1, 1, (N, k)).round(2)
    weights = [rng.uniform(-1, 1, (sizes[l], sizes[l - 1])).round(2)
               for l in range(1, len(sizes))]
    biases = [rng.uniform(-0.5, 0.5, sizes[l]).round(2) for l in range(1, len(sizes))]
    path = tmp_path / f"random{seed}.toml"
    text = toml_example(sizes, activations, loss, bias, X, Y, weights, biases, steps, **training)
    if reduction:
        text = text.replace(f'loss = "{loss}"', f'loss = "{loss}"\nreduction = "{reduction}"')
    path.write_text(text)
    example = load_example(path)
    compiled = compile_derivation(derivation_of(example))
    steps_ = train(example, compiled)
    return WorkedExample(example, compiled.derivation, compiled.source(), steps_,
                         final_loss(example, compiled, steps_[-1]), None, (), None, None)


@pytest.mark.parametrize("seed", range(len(RANDOM)))
def test_every_mistake_of_a_random_network_is_the_hand_written_mistake(tmp_path, seed):
    assert check_against_hand(random_network(tmp_path, seed, **RANDOM[seed]))


def test_the_random_networks_cover_every_mistake_and_every_activation_loss_and_bias(tmp_path):
    found = set()
    for seed, spec in enumerate(RANDOM):
        found |= {m.id for m in catalogue(random_network(tmp_path, seed, **spec))}
    assert found == set(IDS)
    assert {a for spec in RANDOM for a in spec["activations"]} == \
        {"linear", "relu", "leaky_relu", "sigmoid", "tanh", "softmax"}
    assert {spec["loss"] for spec in RANDOM} == {"l2", "mse", "bce", "cross_entropy", "hinge"}
    assert {spec.get("reduction") for spec in RANDOM} == {None, "sum", "batchmean"}
    assert {spec["bias"] for spec in RANDOM} == {True, False}


def test_ids_are_stable_and_unique():
    assert IDS == ("sum-not-mean", "no-half", "target-sign", "no-activation-derivative",
                   "derivative-at-output", "softmax-elementwise", "transpose",
                   "weights-not-transposed", "bias-not-summed", "updated-weights-backward",
                   "update-sign")
    assert set(DESIGNED) <= set(IDS)
    for name in SHIPPED:
        ids = [m.id for m in catalogue(shipped(name))]
        assert len(ids) == len(set(ids)) and set(ids) <= set(IDS)


@pytest.mark.parametrize(("name", "ids"), [
    ("seed", {"sum-not-mean", "no-half", "target-sign", "no-activation-derivative",
              "derivative-at-output", "updated-weights-backward", "update-sign"}),
    ("sigmoid-bias", set(IDS) - {"softmax-elementwise"}),
    ("softmax-classifier", set(IDS) - {"no-half"}),
    # Momentum: the already-updated weights would need the previous velocity.
    ("tanh-momentum", {"sum-not-mean", "no-half", "target-sign", "no-activation-derivative",
                       "derivative-at-output", "bias-not-summed", "update-sign"}),
])
def test_the_catalogue_holds_the_mistakes_that_apply_to_the_network(name, ids):
    assert {m.id for m in catalogue(shipped(name))} == ids


def test_each_mistake_shows_the_right_step_beside_the_mistaken_one():
    worked = shipped("sigmoid-bias")
    definitions = {d.symbol.name: d for d in worked.derivation.definitions}
    for mistake in catalogue(worked):
        assert mistake.title and mistake.explanation and mistake.wrong_tex != mistake.right_tex
        if mistake.id == "update-sign":
            assert mistake.where == "W1_new" and mistake.derivation is None and mistake.ascent
            continue
        right = definitions[mistake.where]
        assert mistake.right_tex == f"{tex(right.symbol)} = {tex(right.expr)}"
        assert mistake.wrong_tex.startswith(f"{tex(right.symbol)} = ")
        assert mistake.derivation is not None and not mistake.ascent
    where = {m.id: m.where for m in catalogue(worked)}
    assert where == {"sum-not-mean": "G2", "no-half": "G2", "target-sign": "G2",
                     "no-activation-derivative": "delta2", "derivative-at-output": "delta2",
                     "transpose": "dL_dW2", "weights-not-transposed": "G1",
                     "bias-not-summed": "dL_db2", "updated-weights-backward": "G1",
                     "update-sign": "W1_new"}


def test_the_updated_weights_mistake_is_the_code_that_gave_mazurs_published_loss():
    worked = shipped("sigmoid-frozen-biases")
    mistake = next(m for m in catalogue(worked) if m.id == "updated-weights-backward")
    assert mistake.derivation.arguments[-1].name == "eta"
    example = worked.example
    updated = mistaken_values(worked, mistake)[0]["updated"]
    weights = [np.reshape(updated[name], value.shape) for name, value in
               example.parameters.items()]
    after = compile_derivation(worked.derivation).loss(example.X, example.Y, *weights)
    assert f"{after:.9f}" == "0.291027924"  # the post's error after one update
    assert f"{worked.final_loss:.9f}" == "0.291027774"  # the post's text: the weights before


def test_a_mistake_that_gives_the_right_value_is_not_offered():
    seed = shipped("seed")
    at_output = next(m for m in catalogue(seed) if m.id == "derivative-at-output")
    assert not offered(seed, at_output, 1, "intermediates.delta1")  # relu' is the same at Z
    one_sample = shipped("sigmoid-bias")
    for mistake in catalogue(one_sample):
        if mistake.id in ("sum-not-mean", "bias-not-summed"):  # N = 1
            assert not any(offered(one_sample, mistake, 1, q) for q in
                           ("loss", "gradients.W1", "gradients.b1", "gradients.b2"))
    mse = shipped("tanh-regression")
    no_half = next(m for m in catalogue(mse) if m.id == "no-half")
    assert not offered(mse, no_half, 1, "loss") and offered(mse, no_half, 1, "gradients.W1")
    frozen = shipped("sigmoid-frozen-biases")
    sign = next(m for m in catalogue(frozen) if m.id == "update-sign")
    assert not offered(frozen, sign, 1, "gradients.W1")
    assert not offered(frozen, sign, 1, "updated.b1") and offered(frozen, sign, 1, "updated.W1")


def test_an_unsummed_bias_gradient_is_one_column_per_sample():
    worked = shipped("softmax-classifier")
    mistake = next(m for m in catalogue(worked) if m.id == "bias-not-summed")
    first = mistaken_values(worked, mistake)[0]
    assert np.shape(first["gradients"]["b2"]) == (3, 6)
    assert np.allclose(first["gradients"]["b2"], first["intermediates"]["delta2"])
    assert np.shape(first["gradients"]["W2"]) == (3, 3)


def test_mistaken_values_cover_the_detailed_steps():
    assert len(mistaken_values(shipped("seed"), catalogue(shipped("seed"))[0])) == 2
    worked = shipped("tanh-regression")
    assert len(mistaken_values(worked, catalogue(worked)[0])) == 3


def test_the_mistakes_made_in_a_step_are_the_catalogue_with_its_values_and_offers():
    worked = shipped("tanh-regression")  # three detailed steps, biases and two layers
    mistakes = catalogue(worked)
    for step in (1, 2, 3):
        made = made_in(worked, step)
        assert [one.mistake for one in made] == list(mistakes)
        for one in made:
            assert one.wrong == mistaken_values(worked, one.mistake)[step - 1]
            quantities = ["loss", *(f"{group}.{name}" for group, named in one.right.items()
                                    if isinstance(named, dict) for name in named)]
            assert [one.offered(q) for q in quantities] == [
                offered(worked, one.mistake, step, q) for q in quantities]
    with pytest.raises(DeriveError, match="step: must be between 1 and 3, not 4"):
        made_in(worked, 4)


@pytest.mark.parametrize("name", ["seed", "seed_exact", "tanh-momentum", "softmax-classifier"])
def test_a_mistake_keeps_the_steps_own_values_where_it_changes_nothing(name):
    # As the page's script does: a definition whose formula is the real one and uses nothing
    # the mistake changed keeps the step's value, to the bit (an exact step's forward pass too,
    # which floats would round differently); the hand-written steps above check the values it
    # does change.
    worked = shipped(name)
    formulas = {d.symbol.name: d.expr for d in worked.derivation.definitions}
    for one in made_in(worked, 1):
        if one.mistake.derivation is None:
            continue
        changed: set[str] = set()
        for definition in one.mistake.derivation.definitions:
            if (formulas.get(definition.symbol.name) != definition.expr
                    or {s.name for s in definition.expr.free_symbols} & changed):
                changed.add(definition.symbol.name)
        kept = set(one.wrong["intermediates"]) - changed
        assert kept and changed, one.mistake.id
        for quantity in kept:
            assert one.wrong["intermediates"][quantity] == one.right["intermediates"][quantity]


def test_building_the_catalogue_leaves_the_real_derivation_unchanged():
    worked = shipped("softmax-classifier")
    before = [(d.symbol, d.expr) for d in worked.derivation.definitions]
    arguments = worked.derivation.arguments
    for mistake in catalogue(worked):
        mistaken_values(worked, mistake)
    assert [(d.symbol, d.expr) for d in worked.derivation.definitions] == before
    assert worked.derivation.arguments == arguments
    # As printed: a derivation read back from the disk cache has Lambdas of other dummies.
    fresh = derive(worked.example.network)
    assert [str(d) for d in fresh.definitions] == [str(d) for d in worked.derivation.definitions]
    step = worked.steps[0]
    example = worked.example
    again = compile_derivation(worked.derivation).intermediates(
        example.X, example.Y, *step.parameters.values())
    for definition, value in zip(worked.derivation.definitions, again):
        assert np.array_equal(value, step.values[definition.symbol.name])


def test_the_docs_catalogue_works_each_mistake_on_the_first_example_it_changes():
    examples = [shipped(name) for name in ("seed", "sigmoid-bias", "softmax-classifier")]
    markdown = catalogue_markdown(examples)
    sections = markdown.split("\n### ")[1:]
    assert [section.split("`")[1] for section in sections] == list(IDS)
    worked_in = {section.split("`")[1]: section for section in sections}
    assert "Seed" in worked_in["no-half"] and "softmax" in worked_in["softmax-elementwise"]
    assert "sigmoid" in worked_in["derivative-at-output"]
    seed = examples[0]
    no_half = next(m for m in catalogue(seed) if m.id == "no-half")
    G2 = mistaken_values(seed, no_half)[0]["intermediates"]["G2"][0]
    assert " & ".join(number(v, seed.example.precision) for v in G2) in worked_in["no-half"]
    assert all(s.count(r"\text{mistaken:}") >= 2 for s in sections)


def test_the_docs_page_shows_the_catalogue(built_site):
    page = (built_site / "check-your-numbers" / "index.html").read_text()
    assert "derive:mistakes" not in page
    for mistake in IDS:
        assert f'id="{mistake}"' in page
