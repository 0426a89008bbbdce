"""The page's JavaScript, in chromium: the chain rule printed from the derivation trains every
example again to the numbers of `derive values`, and the page's numbers follow the reader."""

from __future__ import annotations

import contextlib
import functools
import html
import io
import json
import math
import re
import shutil
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np
import pytest
from browser import opened, serve
from files import numbers_only
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import derive.worked
from derive.cli import main
from derive.present.calculations import _exact_sum, hand_calculation
from derive.present.figures import loss_alt, loss_curve, network_diagram
from derive.present.latex import bmatrix, kept, number, setting
from derive.present.options import DEFAULTS
from derive.present.pages import example_files
from derive.present.render import environment
from derive.present.view import view
from derive.project import new_project
from derive.site.build import build_site

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted(path.stem for path in (ROOT / "examples").glob("*.toml"))
HIDDEN = ["linear", "relu", "leaky_relu", "sigmoid", "tanh"]
OUTPUTS = {"l2": [*HIDDEN, "softmax"], "mse": [*HIDDEN, "softmax"], "bce": ["sigmoid"],
           "cross_entropy": ["softmax"], "hinge": ["linear", "tanh", "relu", "softmax"]}
CLASSIFIERS = ("cross_entropy", "hinge")
RANDOM_NETWORKS = 12
"""Random example files in the sweep's one site: each new architecture costs SymPy about a
second in the build (their architectures follow their index, their sizes and numbers vary)."""
RELATIVE = 1e-12
CONDITIONING = 1e3
"""How many times its own sensitivity to rounding a run's numbers may differ by: a long run of
chaotic SGD turns a last-bit difference (an FMA in NumPy's BLAS) into many digits, as it turns
one that moves the data by one unit in the last place."""
DRAWS = {"init", "seed", "decimals", "bias_init"}
"""The keys of an example file's weights that draw the weights it does not give."""

# The answer key of every example on the page, trained again in the page with its edits.
EVALUATE = """async (runs) => {
  for (const [name] of runs) {
    await new Promise((resolve, reject) => {
      const script = Object.assign(document.createElement("script"), {src: `examples/${name}.js`});
      script.onload = resolve;
      script.onerror = () => reject(new Error(`examples/${name}.js did not load`));
      document.head.append(script);
    });
  }
  return runs.map(([name, edits]) => {
    try {
      return derive.example(name).values(edits);
    } catch (error) {
      return {error: error.message};
    }
  });
}"""


def toml(document: dict[str, Any]) -> str:
    """An example file's text from its parsed tables (TOML's strings read JSON's escapes)."""
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return str(v).lower()
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(v) if isinstance(v, str) else repr(v)

    lines = [f"{key} = {value(v)}" for key, v in document.items() if not isinstance(v, dict)]
    for table, entries in document.items():
        if isinstance(entries, dict):
            lines += [f"[{table}]", *(f"{key} = {value(v)}" for key, v in entries.items())]
    return "\n".join(lines) + "\n"


def edited(document: dict[str, Any], edits: dict[str, Any]) -> dict[str, Any]:
    """The example file with `edits` (its keys: X, y, W1, b1, learning_rate, ...) written in."""
    tables = {"X": "data", "y": "data", "learning_rate": "training", "momentum": "training",
              "dampening": "training", "weight_decay": "training"}
    result = {key: dict(v) if isinstance(v, dict) else v for key, v in document.items()}
    for key, v in edits.items():
        result.setdefault(tables.get(key, "weights"), {})[key] = v
    return result


def values_of(path: Path) -> dict | str:
    """`python -m derive values PATH` run here: its JSON, or its error after the file's path."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["values", str(path)])
    if code:  # the message, naming the file as the page does
        return err.getvalue().strip().split(f"{path.parent}/", 1)[-1]
    return json.loads(out.getvalue())


def numbers(a: Any, b: Any, relative: float = RELATIVE) -> list[str]:
    """Where two answer keys differ: keys, nesting and strings exactly, numbers to `relative` of
    the larger of the two and of the largest entry of the matrix they are in, or of the group of
    matrices (a step's gradients or intermediates, say) when they come as one: a sum that
    cancels to almost nothing, such as a bias gradient of one entry, is as exact as its terms,
    and a product with a factor that cancels (1 − Z∘Z of a saturated tanh, where the two
    runtimes' tanh may differ in the last bit) as exact as its other factor."""
    found: list[str] = []

    def walk(x: Any, y: Any, path: str, scale: float) -> None:
        if isinstance(y, dict):
            if not isinstance(x, dict) or list(x) != list(y):
                found.append(f"{path}: keys {list(x) if isinstance(x, dict) else x} != {list(y)}")
                return
            # A step's intermediates are one group even when they hold scalars (R, J).
            matrices = [v for v in y.values() if isinstance(v, list)]
            top = largest(matrices) if matrices else 0.0
            for key in y:
                walk(x[key], y[key], f"{path}.{key}", top)
        elif isinstance(y, list):
            if not isinstance(x, list) or len(x) != len(y):
                found.append(f"{path}: {x} != {y}")
                return
            top = scale or largest(y)
            for i, (u, v) in enumerate(zip(x, y)):
                walk(u, v, f"{path}.{i}", top)
        elif isinstance(y, float | int) and not isinstance(y, bool) and isinstance(x, float | int):
            if not math.isclose(x, y, rel_tol=relative, abs_tol=relative * scale + 1e-300):
                found.append(f"{path}: {x!r} != {y!r}")
        elif x != y:
            found.append(f"{path}: {x!r} != {y!r}")

    walk(a, b, "", 0.0)
    return found


def deviation(a: Any, b: Any) -> float:
    """The smallest relative tolerance at which `numbers` finds a and b alike (by bisection of
    its exponent, to a factor of 2)."""
    low, high = -60, 0
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if not numbers(a, b, 2.0**middle) else (middle, high)
    return 2.0**high


def largest(nested: Any) -> float:
    """The largest magnitude of the numbers in nested lists (0 for none)."""
    if isinstance(nested, list):
        return max((largest(item) for item in nested), default=0.0)
    is_number = isinstance(nested, float | int) and not isinstance(nested, bool)
    return abs(nested) if is_number else 0.0


@pytest.fixture(scope="module")
def chromium(browser) -> tuple[Any, list[str]]:
    """The session's chromium, and every URL the module's pages request (and their script
    errors)."""
    return browser, []


@contextlib.contextmanager
def new_page(chromium: tuple[Any, list[str]], width: int = 1280,
             height: int = 900) -> Iterator[Any]:
    """A page of the module's chromium whose requests and script errors the module records;
    closed after."""
    browser, requests = chromium
    with opened(browser, viewport={"width": width, "height": height}) as page:
        page.on("request", lambda request: requests.append(request.url))
        page.on("pageerror", lambda error: requests.append(f"script error: {error}"))
        yield page


def left(requests: list[str]) -> list[str]:
    """The requests that left 127.0.0.1, and the pages' script errors."""
    return [url for url in requests if urlsplit(url).hostname != "127.0.0.1"]


def answers(page: Any, documents: dict[str, dict], runs: list[tuple[str, dict]],
            folder: Path) -> tuple[list, list, list]:
    """Each run's answer key from the page's `values(edits)`, from `derive values` of the
    example file with the edits written in, and from `derive values` of that file with its data
    moved by one unit in the last place (its sensitivity to rounding)."""
    got = page.evaluate(EVALUATE, runs)
    expected, nudged, drawn = [], [], {}
    with numbers_only():
        for i, (name, edits) in enumerate(runs):
            document = documents[name]
            if DRAWS & set(document["weights"]) and name not in drawn:
                path = folder / f"{name}-drawn" / f"{name}.toml"
                path.parent.mkdir(parents=True)
                path.write_text(toml(document))
                drawn[name] = values_of(path)
            if name in drawn:
                # The page edits the weights the file drew; a file giving some of them would
                # draw the others afresh, so it gives them all, and the key says they were drawn.
                weights = drawn[name]["steps"][0]["weights"]
                document = {**document, "weights": dict(weights)}
            path = folder / f"{name}-{i}" / f"{name}.toml"
            path.parent.mkdir(parents=True)
            written = edited(document, edits)
            path.write_text(toml(written))
            key = values_of(path)
            if name in drawn and isinstance(key, dict):
                key |= {field: drawn[name][field] for field in ("weights_drawn", "biases_drawn")}
            expected.append(key)
            moved = folder / f"{name}-{i}-nudged" / f"{name}.toml"
            moved.parent.mkdir(parents=True)
            X = np.nextafter(np.asarray(written["data"]["X"], dtype=float), np.inf).tolist()
            moved.write_text(toml({**written, "data": {**written["data"], "X": X}}))
            nudged.append(values_of(moved))
    return got, expected, nudged


# Each hand calculation of the page as the page's script writes it for a run with edits, and
# the numbers of the run's first step it writes them from, by name (a bias flat).
HANDS = """(runs) => runs.map(([name, edits, hands]) => {
  try {
    const run = derive.example(name).run(edits), spec = derive.examples[name];
    const precision = spec.precision, parsed = hands.map((hand) => JSON.parse(hand));
    const names = new Set(parsed.flatMap((hand) => [hand.name, ...[...hand.terms, hand.last || []]
      .flat().filter((factor) => typeof factor !== "string").map(([matrix]) => matrix)]));
    const numbers = Object.fromEntries([...names].map((matrix) => [matrix, run.quantity(
      ["X", "Y"].includes(matrix) ? matrix : spec.parameters.includes(matrix)
        ? `weights.${matrix}` : `intermediates.${matrix}`, 1)]));
    return {tex: parsed.map((hand) => handTex(hand, run, precision)), numbers, precision};
  } catch (error) {
    return {error: error.message};
  }
})"""
HAND_ROWS = '((* import "macros.j2" as m *))((( m.hand_rows(h) | trim )))'


def hand_calculations(worked: derive.worked.WorkedExample, numbers: dict[str, Any] | None = None,
                      precision: int | None = None) -> list[str]:
    """The example's hand calculations: with `numbers` (each matrix of its first step by name,
    a bias flat) and `precision`, as derive's `hand_calculation` writes them from those (the
    TeX between the display's delimiters); without, what its page holds to write them again
    (`live`)."""
    if numbers is None:
        return [h["live"] for h in view(worked)["hand"]]
    derivation, network = worked.derivation, worked.example.network
    sizes = dict(zip(derivation.widths, network.sizes))
    sizes[derivation.N] = len(worked.steps[0].samples)
    values = {name: np.asarray(v, dtype=float).reshape(len(v), -1) for name, v in numbers.items()}
    return [aligned(hand_calculation(d, sizes, values, precision=precision,
                                     max_terms=DEFAULTS.max_terms,
                                     terms_per_line=DEFAULTS.terms_per_line))
            for d in derivation.backward if d.symbol.name.startswith("dL_d")]


def worked_without_expansion(path: Path) -> derive.worked.WorkedExample:
    """The example file worked: the entry-by-entry cross-check of the loss changes no number."""
    with numbers_only():
        return derive.worked.worked_example(path)


def aligned(hand: dict[str, Any]) -> str:
    """A hand calculation's TeX as a page shows it between the display's delimiters."""
    rows = environment().from_string(HAND_ROWS).render(h=hand)
    return f"\\begin{{aligned}}\n{rows}\n\\end{{aligned}}"


def hands_disagree(page: Any, runs: list[tuple[str, dict]], folder: Path,
                   expected: list) -> dict[str, list]:
    """Where the page's hand calculations, written by its script for each run's edits, differ
    from those derive writes from the same numbers of the first step (the numbers themselves
    are derive's: see `disagreements`); the example files with the edits are those `answers`
    wrote into `folder` (`expected`, their answer keys: runs derive refuses are left out).
    Edits change no shape, so the page's data for its hand calculations is the edited file's."""
    worked = {i: worked_without_expansion(folder / f"{name}-{i}" / f"{name}.toml")
              for i, (name, _) in enumerate(runs) if not isinstance(expected[i], str)}
    asked = [(*runs[i], hand_calculations(run)) for i, run in worked.items()]
    found: dict[str, Any] = {}
    for run, (name, edits, _), got in zip(worked.values(), asked, page.evaluate(HANDS, asked)):
        if "error" in got:
            found[f"{name} {json.dumps(edits)}"] = got["error"]
            continue
        written = hand_calculations(run, got["numbers"], got["precision"])
        differ = [next((a, b) for a, b in zip(mine.split("\n"), theirs.split("\n")) if a != b)
                  for mine, theirs in zip(got["tex"], written) if mine != theirs]
        if differ or len(got["tex"]) != len(written):
            found[f"{name} {json.dumps(edits)}"] = differ  # each first line that differs
    return found


def disagreements(runs: list[tuple[str, dict]], got: list, expected: list,
                  nudged: list) -> dict[str, list]:
    """Where the page's answer keys differ from derive's (an error: its message): each step's
    numbers to RELATIVE, or to CONDITIONING times the step's own sensitivity to rounding where
    that is larger (the final numbers as the last step's)."""
    found = {}
    for (name, edits), ours, theirs, moved in zip(runs, got, expected, nudged):
        if isinstance(theirs, str):
            differences = [] if ours == {"error": theirs} else [f"{ours} != {theirs!r}"]
        elif not isinstance(ours, dict) or not isinstance(moved, dict) or \
                len(ours.get("steps", [])) != len(theirs["steps"]):
            differences = numbers(ours, theirs)
        else:
            tolerances = [max(RELATIVE, CONDITIONING * deviation(a, b))
                          for a, b in zip(moved["steps"], theirs["steps"])]
            differences = numbers({**ours, "steps": [], "final": None},
                                  {**theirs, "steps": [], "final": None})
            for index, (mine, step, tolerance) in enumerate(
                    zip(ours["steps"], theirs["steps"], tolerances)):
                differences += [f".steps.{index}{difference}"
                                for difference in numbers(mine, step, tolerance)]
            differences += [f".final{difference}" for difference in
                            numbers(ours["final"], theirs["final"], tolerances[-1])]
        if differences:
            found[f"{name} {json.dumps(edits)}"] = differences[:5]
    return found


def project(folder: Path, interactive: bool = True) -> Path:
    """A project as `derive new` makes it, without examples; its mkdocs.yml."""
    new_project(folder)
    (folder / "examples" / "first.toml").unlink()
    config = folder / "mkdocs.yml"
    if not interactive:
        config.write_text(config.read_text().replace(
            "examples: examples/*.toml", "examples: examples/*.toml\n      interactive: false"))
    return config


# The sweep: every shipped example and random networks, each with random edits.

def matrix(rng: np.random.Generator, rows: int, columns: int,
           scale: float = 1.0) -> list[list[float]]:
    """Short decimals, as an example file holds them."""
    return (np.round(rng.uniform(-scale, scale, size=(rows, columns)), 2) + 0.0).tolist()


def targets(rng: np.random.Generator, loss: str, samples: int, k: int,
            labels: bool = False) -> list:
    """Targets the loss accepts: class labels, one-hot rows, entries in [0, 1], or any
    numbers."""
    if labels:
        return rng.integers(0, k, size=samples).tolist()
    if loss in CLASSIFIERS:
        rows = np.eye(k)[rng.integers(0, k, size=samples)].tolist()
    else:
        rows = np.abs(matrix(rng, samples, k)) if loss == "bce" else matrix(rng, samples, k)
        rows = np.asarray(rows).tolist()
    return [row[0] for row in rows] if k == 1 else rows


def edits_of(rng: np.random.Generator, document: dict[str, Any]) -> dict[str, Any]:
    """New numbers, in the file's shapes, for a random choice of the file's keys."""
    network, data, weights = document["network"], document["data"], document["weights"]
    training = document.get("training", {})
    sizes, samples = network["sizes"], len(data["X"])
    labels = network["loss"] in CLASSIFIERS and not isinstance(data["y"][0], list)
    choices: dict[str, Any] = {"X": lambda: matrix(rng, samples, sizes[0]),
                               "y": lambda: targets(rng, network["loss"], samples, sizes[-1],
                                                    labels),
                               "learning_rate": lambda: float(rng.choice([0.05, 0.1, 0.3]))}
    for layer in range(1, len(sizes)):
        choices[f"W{layer}"] = functools.partial(matrix, rng, sizes[layer], sizes[layer - 1])
        if f"b{layer}" in weights:
            choices[f"b{layer}"] = lambda n=sizes[layer]: matrix(rng, 1, n)[0]
    if training.get("momentum", 0) > 0:
        choices["momentum"] = lambda: float(rng.choice([0.0, 0.5, 0.95]))
    if training.get("dampening", 0) > 0:
        choices["dampening"] = lambda: float(rng.choice([0.0, 0.1, 0.5]))
    if training.get("weight_decay", 0) > 0:
        choices["weight_decay"] = lambda: float(rng.choice([0.0, 0.001, 0.2]))
    keys = rng.choice(sorted(choices), size=rng.integers(1, len(choices) + 1), replace=False)
    return {key: choices[key]() for key in keys}


def network(rng: np.random.Generator, index: int) -> dict[str, Any]:
    """A random example file; by `index`, every loss, reduction, activation, depth, bias, leaky
    slope, momentum (plain, dampened and Nesterov's), weight decay (of the biases too) and last
    batch, class labels or target rows, with random widths, numbers, freezes, mini-batches and
    shuffling; too many parameters x samples to expand entry by entry (its cross-check of
    softmax takes minutes, and changes no number)."""
    loss = sorted(OUTPUTS)[index % len(OUTPUTS)]
    depth = 1 + index % 3
    activations = [HIDDEN[(index + j) % len(HIDDEN)] for j in range(depth - 1)]
    activations.append(OUTPUTS[loss][index // len(OUTPUTS) % len(OUTPUTS[loss])])
    sizes = rng.integers(1, 5, size=depth + 1).tolist()
    if activations[-1] == "softmax" or loss == "hinge":
        sizes[-1] = max(sizes[-1], 2)
    bias = index % 4 < 2
    parameters = sum(sizes[l] * (sizes[l - 1] + bias) for l in range(1, depth + 1))
    samples = max(int(rng.integers(2, 7)), 65 // parameters + 1)
    names = [f"{kind}{l}" for l in range(1, depth + 1) for kind in ("W", "b")[:1 + bias]]
    frozen = rng.choice(names, size=rng.integers(0, len(names)), replace=False).tolist()
    weights = {}
    for l in range(1, depth + 1):
        weights[f"W{l}"] = matrix(rng, sizes[l], sizes[l - 1])
        if bias:
            weights[f"b{l}"] = matrix(rng, 1, sizes[l], 0.5)[0]
    decay = 0.01 if index % 5 < 2 else 0.0
    return {
        "network": {"sizes": sizes, "activations": activations, "loss": loss, "bias": bias,
                    "leaky_slope": 0.2 if index % 2 else 0.01,
                    "reduction": ("mean", "sum", "batchmean")[index % 3]},
        "data": {"X": matrix(rng, samples, sizes[0], 2.0),
                 "y": targets(rng, loss, samples, sizes[-1],
                              labels=loss in CLASSIFIERS and index % 2 == 0)},
        "weights": weights,
        "training": {"learning_rate": float(rng.choice([0.1, 0.5])),
                     "steps": int(rng.integers(1, 5)),
                     "batch_size": int(rng.integers(1, samples + 1)),
                     **({"shuffle_seed": int(rng.integers(0, 4))} if rng.random() < 0.5 else {}),
                     "freeze": frozen,
                     "momentum": 0.9 if index % 3 == 0 else 0.0,
                     # torch.optim.SGD's options of momentum, in turn: none, dampening, Nesterov.
                     "dampening": 0.3 if index % 9 == 3 else 0.0,
                     "nesterov": index % 9 == 6,
                     "weight_decay": decay,
                     "decay_biases": bool(bias and decay and index % 2),
                     "last_batch": ("wrap", "partial", "drop")[index // 2 % 3]},
    }


SHIPPED_DOCUMENTS = {name: tomllib.loads((ROOT / "examples" / f"{name}.toml").read_text())
                     for name in SHIPPED}


@pytest.fixture(scope="module")
def site_page(built_site: Path, chromium: tuple[Any, list[str]]) -> Iterator[tuple[Any, str]]:
    """The built site served, and a page of it in the module's chromium."""
    with serve(built_site) as base, new_page(chromium) as page:
        page.goto(base, wait_until="load")
        yield page, base


@pytest.fixture(scope="module")
def spare_page(chromium: tuple[Any, list[str]]) -> Iterator[Any]:
    """Another page of the module's chromium, which tests that load a page of their own navigate
    in turn (a page opened afresh takes half a second longer to load than one navigated to)."""
    with new_page(chromium) as page:
        yield page


def test_every_shipped_example_trains_again_unedited_as_derive_values_does(site_page, chromium,
                                                                          tmp_path_factory):
    assert_shipped_runs_agree(site_page[0], chromium, tmp_path_factory.mktemp("e"),
                              [(name, {}) for name in SHIPPED])


@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(0, 2**32 - 1))
def test_every_shipped_example_trains_again_with_random_edits_as_derive_values_does(
        site_page, chromium, tmp_path_factory, seed):
    rng = np.random.default_rng(seed)
    runs = [(name, edits_of(rng, document)) for name, document in SHIPPED_DOCUMENTS.items()]
    assert_shipped_runs_agree(site_page[0], chromium, tmp_path_factory.mktemp("e"), runs)


def assert_shipped_runs_agree(page: Any, chromium: tuple[Any, list[str]], folder: Path,
                              runs: list[tuple[str, dict]]) -> None:
    """The page trains each run of a shipped example again as `derive values` does, writes its
    hand calculations as derive does, and requests nothing from outside."""
    got, expected, nudged = answers(page, SHIPPED_DOCUMENTS, runs, folder)
    assert disagreements(runs, got, expected, nudged) == {}
    assert hands_disagree(page, runs, folder, expected) == {}
    assert left(chromium[1]) == []


def test_a_hinge_margin_on_its_kink_is_flagged_as_derive_values_flags_it(site_page,
                                                                       tmp_path_factory):
    edits = {"W1": [[0.08, 0.82, -0.36], [0.88, -0.3, -0.14], [0.15, 0.05, 0.65]],
             "y": [1, 2, 1], "learning_rate": 0.1}
    runs = [("cs231n-svm", edits)]
    got, expected, nudged = answers(site_page[0], SHIPPED_DOCUMENTS, runs,
                                    tmp_path_factory.mktemp("e"))
    flagged = [step["near_kinks"] for step in expected[0]["steps"] if "near_kinks" in step]
    assert flagged and all(k["quantity"] == "intermediates.M" for k in flagged[0])
    assert disagreements(runs, got, expected, nudged) == {}


def test_a_run_that_stops_being_finite_is_the_error_derive_values_gives(site_page,
                                                                        tmp_path_factory):
    runs = [("seed", {"X": [[1e200, 1e200], [0.2, 0.05], [-0.75, 0.8], [0.2, -0.05]]}),
            ("tanh-momentum", {"learning_rate": 1e6}),
            ("seed", {"W1": [[0.6, 0.01, 0.3]]}), ("seed", {"learning_rate": -1.0})]
    got, expected, _ = answers(site_page[0], SHIPPED_DOCUMENTS, runs[:2],
                            tmp_path_factory.mktemp("e"))
    assert got[0] == {"error": expected[0]} == {
        "error": "seed.toml: training: step 1: the loss is inf; lower training.learning_rate "
                 "or scale the data and weights down"}
    assert got[1] == {"error": expected[1]} and "training: step " in expected[1]
    assert site_page[0].evaluate(EVALUATE, runs[2:]) == [
        {"error": "seed.toml: weights.W1: must have 3 rows, not 1"},
        {"error": "seed.toml: training.learning_rate: must be positive (and at most 1e6), "
                  "not -1"}]


@pytest.fixture(scope="module")
def runtime_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site of the seed alone, for derive's page runtime: the sweep adds each random
    network's script as the build writes it (`example_files`), without building its page."""
    folder = tmp_path_factory.mktemp("runtime")
    config = project(folder / "project")
    shutil.copy(ROOT / "examples" / "seed.toml", folder / "project" / "examples")
    return build_site(site_dir=folder / "site", config_file=config)


@settings(max_examples=2, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
@given(st.integers(0, 2**32 - 1))
def test_random_networks_train_again_in_the_page_as_derive_values_does(chromium, spare_page,
                                                                      runtime_site,
                                                                      tmp_path_factory, seed):
    folder = tmp_path_factory.mktemp("sweep")
    rng = np.random.default_rng(seed)
    documents = {f"random{i:02d}": network(rng, i) for i in range(RANDOM_NETWORKS)}
    runs = [(name, edits_of(rng, document)) for name, document in documents.items()]
    site = folder / "site"
    shutil.copytree(runtime_site, site)
    (site / "examples").mkdir(exist_ok=True)
    for name, document in documents.items():
        path = folder / "examples" / f"{name}.toml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(toml(document))
        script = f"examples/{name}.js"
        (site / script).write_text(example_files(worked_without_expansion(path))[script])
    with serve(site) as base:
        spare_page.goto(base, wait_until="load")
        got, expected, nudged = answers(spare_page, documents, runs, folder / "edited")
        hands = hands_disagree(spare_page, runs, folder / "edited", expected)
    assert disagreements(runs, got, expected, nudged) == {}
    assert hands == {}
    assert left(chromium[1]) == []


# The seed's page, edited by a reader.

# Every recomputed quantity as the page shows it: its value, its TeX (a table cell: its text),
# whether MathJax typeset it without error, whether it is still the typesetting the page loaded
# with, and whether it is shown.
SHOWN = """() => [...document.querySelectorAll("[data-derive-quantity]")].map((el) => {
  const math = el.querySelector(".arithmatex");
  const item = math && MathJax.startup.document.getMathItemsWithin(math)[0];
  const container = el.querySelector("mjx-container");
  return {
    quantity: el.dataset.deriveQuantity, step: Number(el.dataset.deriveStep || 0),
    value: JSON.parse(el.dataset.deriveValue), tex: item ? item.math.trim() : el.textContent,
    typeset: !math || (!!item && !!container && !el.querySelector("mjx-merror")),
    loaded: !!container && container.dataset.loaded === "yes",
    shown: el.getClientRects().length > 0,
  };
})"""
MARK_LOADED = """() => document.querySelectorAll("[data-derive-quantity] mjx-container")
  .forEach((container) => { container.dataset.loaded = "yes"; })"""
TYPESET = """() => [...document.querySelectorAll(".arithmatex")]
  .every((el) => el.querySelector("mjx-container")) && window.derive && derive.page"""
# Each weight the network diagram writes on an edge, and the edge's tooltip.
EDGES = """() => [...document.querySelectorAll(".derive-network g.edge")].map((edge) =>
  [edge.querySelector(".weight").textContent, edge.querySelector("title").textContent])"""
# The loss curve's picture (its SVG, once the page draws it) and its alt text.
CURVE = """() => { const img = document.querySelector("img[src$='-loss.svg'], img[src^='data:']");
  return [img.src.startsWith("data:") ? decodeURIComponent(img.src.split(",")[1]) : img.src,
          img.alt]; }"""
# Each hand calculation's TeX as the page shows it, and whether it is typeset without error.
HANDS_SHOWN = """() => [...document.querySelectorAll("[data-derive-hand]")].map((el) => {
  const item = MathJax.startup.document.getMathItemsWithin(el)[0];
  return {tex: item ? item.math.trim() : "",
          typeset: !!el.querySelector("mjx-container") && !el.querySelector("mjx-merror")};
})"""
INPUTS = """() => Object.fromEntries([...document.querySelectorAll(".derive-inputs fieldset")]
  .map((set) => [set.querySelector("legend").textContent,
                 [...set.querySelectorAll("tr")].map((row) =>
                   [...row.querySelectorAll("input")].map((input) => input.value))]))"""


def settle(page: Any) -> None:
    """Wait until the page is typeset and its last recomputation shown."""
    page.wait_for_function(TYPESET, timeout=20_000)
    page.evaluate("() => derive.page.settled")


@pytest.fixture(scope="module")
def seed_edited(site_page, spare_page, tmp_path_factory) -> dict[str, Any]:
    """The seed's page loaded, W1's first entry typed in, reloaded from its address, an edit
    that overflows, one that is not a number, then reset; what it showed at each stage, and
    `derive values` of the seed with the same W1."""
    page = spare_page
    url = site_page[1] + "examples/seed/"
    page.goto(url, wait_until="load")
    settle(page)
    seen: dict[str, Any] = {"loaded": page.evaluate(SHOWN), "inputs": page.evaluate(INPUTS),
                            "hands_loaded": page.evaluate(HANDS_SHOWN),
                            "edges_loaded": page.evaluate(EDGES),
                            "curve_loaded": page.evaluate(CURVE)}
    page.evaluate(MARK_LOADED)
    page.fill("input[aria-label='W1 entry 1, 1']", "0.5")
    page.wait_for_function("() => location.hash.startsWith('#edits=')")
    settle(page)
    seen |= {"edited": page.evaluate(SHOWN), "hash": page.evaluate("() => location.hash"),
             "hands_edited": page.evaluate(HANDS_SHOWN), "edges_edited": page.evaluate(EDGES),
             "curve_edited": page.evaluate(CURVE)}
    page.reload(wait_until="load")
    settle(page)
    seen |= {"reloaded": page.evaluate(SHOWN), "reloaded_inputs": page.evaluate(INPUTS)}
    errors: dict[str, Any] = {}
    for text in ("1e200", "abc"):
        page.fill("input[aria-label='X entry 1, 1']", text)
        page.wait_for_function(
            "(shown) => { const error = document.querySelector('.derive-error');"
            " return !error.hidden && error.textContent !== shown; }",
            arg=errors.get("1e200", {}).get("message", ""))
        errors[text] = {"message": page.inner_text(".derive-error"),
                        "shown": sum(q["shown"] for q in page.evaluate(SHOWN))}
    page.click("button.derive-reset")
    settle(page)
    seen |= {"errors": errors, "reset": page.evaluate(SHOWN),
             "reset_inputs": page.evaluate(INPUTS), "hands_reset": page.evaluate(HANDS_SHOWN),
             "edges_reset": page.evaluate(EDGES), "curve_reset": page.evaluate(CURVE),
             "reset_hash": page.evaluate("() => location.hash"),
             "error_shown": page.is_visible(".derive-error")}
    document = edited(SHIPPED_DOCUMENTS["seed"], {"W1": [[0.5, 0.01], [0.7, 0.43], [0.0, 0.88]]})
    path = tmp_path_factory.mktemp("seed") / "seed.toml"
    path.write_text(toml(document))
    files = {"file": ROOT / "examples" / "seed.toml", "edited": path}
    hands = {name: [aligned(h) for h in view(worked_without_expansion(file))["hand"]]
             for name, file in files.items()}
    edges = {name: diagram_edges(worked_without_expansion(file).example)
             for name, file in files.items()}
    return seen | {"expected": values_of(path), "hands": hands, "edges": edges}


def diagram_edges(example: Any) -> list[list[str]]:
    """Each weight derive's network diagram of the example writes on an edge, and its tooltip."""
    svg = network_diagram(example, DEFAULTS)
    return [[html.unescape(text), html.unescape(title)] for title, text in re.findall(
        r'<g class="edge[^>]*>\n<title>(.*?)</title>.*?<text class="weight"[^>]*>(.*?)</text>',
        svg, re.DOTALL)]


def lookup(key: dict[str, Any], quantity: str, step: int) -> Any:
    """A quantity of an answer key by its dotted path, in a step (from 1) or the whole run."""
    node = key["steps"][step - 1] if step else key
    for part in quantity.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def python_tex(shown: dict[str, Any], precision: int = 4) -> str:
    """The TeX (or text) a shown quantity has with its value, as derive's Python writes it."""
    tex, value = shown["tex"], shown["value"]
    if not isinstance(value, list):
        head = tex.split(" = ")[0] + " = " if " = " in tex else ""
        settings_ = shown["quantity"] in ("learning_rate", "training.momentum",
                                          "training.dampening", "training.weight_decay")
        return head + (setting(value) if settings_ else number(value, precision))
    table = [[number(v, precision) for v in (row if isinstance(row, list) else [row])]
             for row in value]
    matrix = bmatrix(table, kept(len(table), 10, 4, 2), kept(len(table[0]), 10, 4, 2))
    return re.sub(r"\\begin\{bmatrix\}.*?\\end\{bmatrix\}", lambda _: matrix, tex, count=1)


def test_the_page_writes_each_quantity_as_derive_does(seed_edited):
    loaded = seed_edited["loaded"]
    assert len(loaded) > 40 and all(q["typeset"] and q["shown"] for q in loaded)
    assert [q for q in loaded if python_tex(q) != q["tex"]] == []
    assert seed_edited["inputs"] == {
        "X, a row per sample": [["0.75", "0.8"], ["0.2", "0.05"], ["-0.75", "0.8"],
                                ["0.2", "-0.05"]],
        "y, a row per sample": [["1", "1", "-1", "-1"]],
        "W1": [["0.6", "0.01"], ["0.7", "0.43"], ["0", "0.88"]],
        "W2": [["0.02", "0.03", "0.09"]], "learning rate η": [["0.5"]]}


def test_typing_a_weight_recomputes_and_retypesets_only_the_changed_numbers(seed_edited):
    loaded, now, expected = seed_edited["loaded"], seed_edited["edited"], seed_edited["expected"]
    assert [q for q in now if not (q["typeset"] and q["shown"])] == []
    changed = [q for q, before in zip(now, loaded) if q["value"] != before["value"]]
    kept_ = [q for q, before in zip(now, loaded) if q["value"] == before["value"]]
    assert {q["quantity"] for q in changed} >= {"weights.W1", "intermediates.S1", "loss",
                                                "gradients.W2", "updated.W1", "final.loss",
                                                "final.weights.W1", "weights.W1.0.0"}
    assert {q["quantity"] for q in kept_} >= {"X", "Y", "weights.W2", "learning_rate"}
    # Only the changed quantities were typeset again; the page shows what derive computes.
    assert [q["quantity"] for q in changed if q["loaded"]] == []
    assert [q["quantity"] for q in kept_ if "\\" in q["tex"] and not q["loaded"]] == []
    assert [q for q in now if python_tex(q) != q["tex"]] == []
    for q in now:
        if q["quantity"] not in ("X", "Y"):
            assert numbers(q["value"], lookup(expected, q["quantity"], q["step"])) == [], q


def test_the_network_diagram_writes_the_edited_weights_as_derive_draws_them(seed_edited):
    edges = seed_edited["edges"]
    assert len(edges["file"]) == 9 and edges["file"] != edges["edited"]
    assert edges["edited"][0][0] == "0.50" and "W1[1,1] = 0.50: " in edges["edited"][0][1]
    for stage, expected in (("loaded", "file"), ("edited", "edited"), ("reset", "file")):
        assert seed_edited[f"edges_{stage}"] == edges[expected], stage


def test_the_loss_curve_is_drawn_again_as_derive_draws_it(seed_edited):
    losses = [step["loss"] for step in seed_edited["expected"]["steps"]]
    assert seed_edited["curve_edited"] == [loss_curve(losses), loss_alt(losses)]
    assert seed_edited["curve_loaded"][0].endswith("/examples/seed-loss.svg")
    assert seed_edited["curve_reset"] == seed_edited["curve_loaded"]


def test_the_pages_loss_curve_is_derives_for_any_losses(site_page):
    rng = np.random.default_rng(3)
    cases = [[1.0], [0.0, 0.0], [0.03125, 0.01], [2.5, -1.5, 0.125]]
    cases += [(np.abs(rng.normal(size=n)) * 10.0 ** rng.integers(-7, 5)).tolist()
              for n in (2, 3, 7, 10, 29, 30, 31, 99, 1000, 10000)]
    got = site_page[0].evaluate("(cases) => cases.map((c) => [lossCurve(c), lossAlt(c)])", cases)
    assert got == [[loss_curve(losses), loss_alt(losses)] for losses in cases]


def test_the_hand_calculations_follow_the_edits_as_derive_writes_them(seed_edited):
    hands = seed_edited["hands"]
    assert len(hands["file"]) == 2 and hands["file"] != hands["edited"]
    for stage, expected in (("loaded", "file"), ("edited", "edited"), ("reset", "file")):
        shown = seed_edited[f"hands_{stage}"]
        assert [h["tex"] for h in shown] == hands[expected], stage
        assert all(h["typeset"] for h in shown), stage


def test_the_settings_in_the_text_follow_the_edits(site_page, spare_page, tmp_path_factory):
    page = spare_page
    page.goto(site_page[1] + "examples/tanh-momentum/", wait_until="load")
    settle(page)
    loaded = {q["quantity"]: q for q in page.evaluate(SHOWN)}
    edits = {"learning_rate": 0.05, "weight_decay": 0.002, "momentum": 0.5}
    for key, value in edits.items():
        page.fill(f"input[aria-label='{key} entry 1, 1']", str(value))
    page.wait_for_function("() => location.hash.includes('momentum')")
    settle(page)
    now = page.evaluate(SHOWN)
    path = tmp_path_factory.mktemp("settings") / "tanh-momentum.toml"
    path.write_text(toml(edited(SHIPPED_DOCUMENTS["tanh-momentum"], edits)))
    expected = values_of(path)
    settings_ = {q["quantity"]: q for q in now if not q["step"] and "." not in q["quantity"][9:]}
    for key, value in edits.items():
        path = key if key == "learning_rate" else f"training.{key}"
        assert settings_[path]["value"] == value and settings_[path]["typeset"], key
        assert settings_[path]["tex"] == loaded[path]["tex"].split(" = ")[0] + f" = {value}"
    assert [q for q in now if python_tex(q) != q["tex"] or not q["typeset"]] == []
    # Each shown quantity the answer key holds (dL/dW, the part of dJ/dW from the loss, is not).
    kept_ = [q for q in now if q["quantity"] not in ("X", "Y", "intermediates.dL_dW1",
                                                     "intermediates.dL_dW2")]
    assert len(kept_) > 40
    for q in kept_:
        assert numbers(q["value"], lookup(expected, q["quantity"], q["step"])) == [], q


def test_the_edits_live_in_the_address_and_come_back_on_reload(seed_edited):
    edits = json.loads(unquote(seed_edited["hash"].removeprefix("#edits=")))
    assert edits == {"W1": [[0.5, 0.01], [0.7, 0.43], [0, 0.88]]}
    assert seed_edited["reloaded"] == [{**q, "loaded": False} for q in seed_edited["edited"]]
    assert seed_edited["reloaded_inputs"]["W1"][0] == ["0.5", "0.01"]


def test_a_run_that_cannot_be_computed_shows_its_error_instead_of_numbers(seed_edited):
    assert seed_edited["errors"] == {
        "1e200": {"message": "seed.toml: training: step 1: the loss is inf; lower "
                             "training.learning_rate or scale the data and weights down",
                  "shown": 0},
        "abc": {"message": 'X, a row per sample: "abc" is not a number', "shown": 0}}


def test_reset_restores_the_files_numbers_and_the_page_as_built(seed_edited):
    reset, loaded = seed_edited["reset"], seed_edited["loaded"]
    assert [{**q, "loaded": False} for q in reset] == [{**q, "loaded": False} for q in loaded]
    assert all(q["typeset"] and q["shown"] for q in reset)
    assert seed_edited["reset_inputs"] == seed_edited["inputs"]
    assert seed_edited["reset_hash"] == "" and not seed_edited["error_shown"]


def test_no_request_leaves_the_pages_and_no_script_fails(seed_edited, chromium):
    assert left(chromium[1]) == []


# Formatting, printing and the static pages.

FORMAT = """([values, precision]) => values.map((value) =>
  matrixTex(value, {precision, elide: {limit: 10, head: 4, tail: 2}}))"""


def test_the_pages_numbers_round_and_elide_as_derive_writes_them(site_page):
    rng = np.random.default_rng(7)
    ties = [[0.125, -0.125, 0.375, 2.5, 0.0625, -0.0], [1e22, -1e-9, 123.456, 0.5, 1.5, 2.675]]
    values = [ties, rng.normal(size=(12, 15)).tolist(), rng.normal(size=(3, 11)).tolist(),
              rng.normal(size=12).tolist(), [[1e-5, -2e-5, 3.0]]]
    for precision in (0, 2, 3, 9):
        got = site_page[0].evaluate(FORMAT, [values, precision])
        expected = []
        for value in values:
            table = [[number(v, precision) for v in (row if isinstance(row, list) else [row])]
                     for row in value]
            expected.append(bmatrix(table, kept(len(table), 10, 4, 2),
                                    kept(len(table[0]), 10, 4, 2)))
        assert got == expected


def test_the_pages_numbers_at_every_precision_are_those_derive_writes(site_page):
    rng = np.random.default_rng(11)
    values = [0.0, -0.0, 1.0, -1.0, 0.5, 1.5, 2.5, -2.5, 0.125, -0.375, 2.675, 1e21, 1e22,
              -3e25, 123456789.0, 5e-13, -5e-13, 4.5e-12, 1e-300, 5e-324, 0.045650000000000003]
    values += (rng.normal(size=120) * 10.0 ** rng.integers(-14, 22, size=120)).tolist()
    values += (rng.integers(-10**6, 10**6, size=30) / 2 ** rng.integers(0, 14, size=30)).tolist()
    values += rng.integers(-10**9, 10**9, size=20).astype(float).tolist()
    got = site_page[0].evaluate("(values) => values.map((x) => Array.from({length: 13}, "
                                "(_, precision) => fixed(x, precision)))", values)
    assert got == [[number(x, p) for p in range(13)] for x in values]


def test_the_sum_of_a_hand_calculation_as_shown_is_derives_exact_sum(site_page):
    rng = np.random.default_rng(5)
    constants = ["\\frac{1}{4}", "- \\frac{3}{8}", "\\frac{1}{3}", "2", "- \\frac{5}{1}",
                 "\\lambda"]
    sums = []
    for _ in range(300):
        precision = int(rng.integers(0, 13))
        terms = [[number(float(x), precision) for x in rng.normal(size=rng.integers(1, 4))
                  * 10.0 ** rng.integers(-3, 4)] for _ in range(rng.integers(1, 7))]
        if rng.random() < 0.3:
            terms[0].append(str(rng.choice(constants)))
        sums.append(terms)
    got = site_page[0].evaluate("(sums) => sums.map(exactSum)", sums)
    expected = [_exact_sum(terms) for terms in sums]
    assert got == expected
    assert None in expected and len(set(expected)) > 250


def test_each_definition_is_one_line_of_javascript_named_as_on_the_page():
    from derive.compile.javascript import chain
    from derive.worked import worked_example

    for name in SHIPPED:
        derivation = worked_example(ROOT / "examples" / f"{name}.toml").derivation
        lines = chain(derivation).splitlines()
        names = [d.symbol.name for d in derivation.definitions]
        assert re.match(r"\(rt, \{X, Y, W1[,}]", lines[0]) and lines[-1] == "}"
        assert [line.split(" = ")[0] for line in lines[1:-2]] == [f"  const {n}" for n in names]
        assert all(f"const {n} = given.{n} ?? " in line for n, line in zip(names, lines[1:]))
        assert lines[-2] == f"  return {{{', '.join(names)}}};"
        loss = chain(derivation, [derivation.loss]).splitlines()
        assert set(loss[1:-2]) <= set(lines[1:-2]) and loss[-2].endswith(", L};")
        assert "delta1" not in loss[-2]


def test_the_page_shows_the_generated_javascript(built_site):
    page = (built_site / "examples" / "seed" / "index.html").read_text()
    assert 'id="the-generated-javascript"' in page
    text = html.unescape(re.sub(r"<[^>]+>", "", page))  # the code block's highlighting
    assert "const S1 = given.S1 ?? rt.matmul(W1, X);" in text
    assert page.count('<script src="../seed.js"></script>') == 1
    assert (built_site / "examples" / "seed.js").is_file()


def test_static_pages_have_no_script_and_no_data_attributes(tmp_path):
    config = project(tmp_path / "static", interactive=False)
    shutil.copyfile(ROOT / "examples" / "seed.toml", tmp_path / "static" / "examples" / "seed.toml")
    site = build_site(site_dir=tmp_path / "static" / "site", config_file=config)
    page = (site / "examples" / "seed" / "index.html").read_text()
    for absent in ("derive-runtime.js", "seed.js\"", "data-derive", "derive-edit",
                   "The generated JavaScript"):
        assert absent not in page
    assert not (site / "examples" / "seed.js").exists()
    assert "The generated NumPy code" in page and "W^{[1]} = \\begin{bmatrix}" in page
