"""Load and validate an example file (TOML) into a frozen `Example`.

Every problem is reported as `file: field: what is wrong`. The file is data: no string from it
is ever evaluated, parsed as an expression or handed to SymPy.
"""

from __future__ import annotations

import contextlib
import difflib
import math
import os
import re
import stat
import tomllib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from .errors import SpecError

KINKED = ("relu", "leaky_relu")
"""Activations with a kink at 0, where derive takes the slope from the left (0 for relu)."""
ACTIVATIONS = ("linear", "relu", "leaky_relu", "sigmoid", "tanh", "softmax")
"""Activation names; SymPy's definitions live in `ops` (not imported here, so loading
an example and calling cached gradient code never pays for importing SymPy)."""
LOSSES = ("l2", "mse", "bce", "cross_entropy", "hinge")
CLASSIFIERS = ("cross_entropy", "hinge")
"""Losses of one class per sample: each sample's loss is a sum over its outputs, and its
targets may be given as integer labels."""
REDUCTIONS = ("mean", "sum", "batchmean")
"""How a loss's entries become one number: their mean (PyTorch's default), their sum, or their
sum over the outputs averaged over the samples (Nielsen, CS231n). For the `CLASSIFIERS` an entry
is a sample's loss, so there mean and batchmean agree."""
DEFAULT_REDUCTION = {"l2": "batchmean", "mse": "mean", "bce": "mean", "cross_entropy": "mean",
                     "hinge": "mean"}
"""Each loss's reduction when the file names none: l2 is ½ Σ (y − ŷ)² / N."""
LAST_BATCHES = ("wrap", "partial", "drop")
"""What the last mini-batch of a pass does when batch_size does not divide the samples: take the
first samples of the next pass, stay smaller, or be left out."""
MAX_WIDTH = 4096
MAX_LAYERS = 32
MAX_SAMPLES = 100_000
MAX_STEPS = 10_000
MAX_PRECISION = 12
MAX_FILE_BYTES = 1024 * 1024
"""Bytes of an example file (TOML's parser takes about a second per MiB of numbers)."""
MAX_TITLE = 200
MAX_DESCRIPTION = 5_000
MAX_NAME = 100
MAX_KEPT_NUMBERS = 1_000_000
"""Numbers a run keeps (`kept`): 8 MB in memory, at most about 40 MB of JSON answer key."""
MAX_WORK = 3_500_000_000
"""Operations of a run and its build (`work`): about 5 s here."""
MAX_EXACT_ENTRIES = 1_000
"""Parameters x samples in exact fractions (200 x 200 took 128 s)."""
MAX_EXACT_DIGITS = 4_000
"""Digits of the largest fraction of the exact steps (`exact_digits`); Python refuses to print
an integer of more than 4,300."""
EXACT_STEPS = 3
"""Steps computed in exact fractions as well when the example asks for them (`worked`)."""
CHECKED_ENTRIES = 256
"""Entries per parameter the gradient check compares (`verify.gradcheck.MAX_ENTRIES`)."""
CALL = 1_000
"""Operations `work` charges for one NumPy call or Python step, whatever its size."""
MATRIX = 8
"""Values `answer_key_values` counts for a matrix, whatever its size: its name and lists."""
COSTS = {"layer": 47_000_000, "asked": 830_000, "blank": 67_000, "blank layer": 40_000,
         "term": 600_000, "number": 600, "read": 1_300}
"""Operations `work` charges for what a build does beyond the run, measured here at about
1.5 ns an operation: SymPy's work for each layer (derivation, code, formulas), the Moodle
question's mistakes for each parameter matrix asked times the layers they pass through, its
blanks for each parameter entry (and again per layer), each term of a hand calculation (a SymPy
sum over the batch), each value of the answer key written as JSON, and each number of the data
read (twice in a build)."""
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_NONCHARACTERS = "\ufdd0-\ufdef" + "".join(
    chr(plane + 0xFFFE) + chr(plane + 0xFFFF) for plane in range(0, 0x110000, 0x10000))
_REFUSED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff"
                      + _NONCHARACTERS + "]")
"""Characters a title or description may not hold: C0 controls but tab and newline, DEL and
the C1 controls (YAML front matter and terminals give them meaning; PyYAML refuses most of
them), surrogates and Unicode noncharacters (not text; U+FFFE/U+FFFF also break YAML), and the
bidirectional embedding, override and isolate controls U+202A-U+202E and U+2066-U+2069: they
make text display in another order than it is written (the "Trojan Source" trick) and an
unclosed one reorders the page text around it (navigation, window title). The marks U+200E,
U+200F and U+061C, which cannot leak, stay allowed for right-to-left titles."""
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]{1,40}")
INITS = ("xavier_uniform", "he_normal", "lecun_normal", "uniform")
"""How `[weights] init` draws the weights not given in the file."""
BIAS_INITS = ("zeros", "standard_normal")
"""How `[weights] bias_init` draws the biases not given in the file."""
_INIT_KEYS = ("init", "seed", "decimals", "bias_init")
EXACT_ACTIVATIONS = {"linear", "relu", "leaky_relu"}
EXACT_LOSSES = {"l2", "mse", "hinge"}

_SCHEMA = {
    "": {"title", "description", "network", "data", "weights", "training", "render"},
    "network": {"sizes", "activations", "loss", "bias", "leaky_slope", "reduction"},
    "data": {"X", "y"},
    "training": {"learning_rate", "steps", "batch_size", "shuffle_seed", "freeze", "weight_decay",
                 "momentum", "dampening", "nesterov", "decay_biases", "last_batch"},
    "render": {"precision", "exact"},
}


@dataclass(frozen=True)
class Network:
    """The architecture: layer widths, one activation per layer, the loss, biases or not, the
    slope of leaky_relu below 0 and the loss's reduction (the loss's default when not given)."""

    sizes: tuple[int, ...]
    activations: tuple[str, ...]
    loss: str
    bias: bool
    leaky_slope: float = 0.01
    reduction: str = ""

    def __post_init__(self) -> None:
        if not self.reduction:
            object.__setattr__(self, "reduction", DEFAULT_REDUCTION[self.loss])

    @property
    def depth(self) -> int:
        return len(self.sizes) - 1


@dataclass(frozen=True, eq=False)
class Example:
    """A validated worked example; X is d x N and Y is k x N (columns are samples)."""

    path: Path
    title: str
    description: str
    network: Network
    X: np.ndarray
    Y: np.ndarray
    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    learning_rate: float
    steps: int
    precision: int
    exact: bool
    batch_size: int
    """Samples per SGD step: the next ones in file order (or a shuffled order)."""
    shuffle_seed: int | None = None
    last_batch: str = "wrap"
    """A pass's last, smaller batch: "wrap" fills it from the next pass, "partial" keeps it
    smaller (PyTorch's DataLoader, Nielsen), "drop" leaves it out (drop_last=True)."""
    freeze: tuple[str, ...] = ()
    """Parameters that keep their values; their gradients are still computed and shown."""
    weight_decay: float = 0.0
    """λ of the objective L + (λ/2) Σ_l ‖W_l‖² (biases excluded)."""
    momentum: float = 0.0
    """μ of PyTorch's SGD: v ← μ v + (1 − dampening) ∇θ (v ← ∇θ at the first step), then
    θ ← θ − η v, or θ ← θ − η (∇θ + μ v) with Nesterov."""
    dampening: float = 0.0
    nesterov: bool = False
    decay_biases: bool = False
    """Whether weight decay's term (λ/2) Σ ‖θ‖² holds the biases too (PyTorch's weight_decay)."""
    labels: tuple[int, ...] | None = None
    """Each sample's class when the file gives integer labels; Y is then their one-hot columns."""
    drawn: str = ""
    """How the weights not given in the file were drawn (`[weights] init`), in words."""
    bias_init: str = ""
    """How the biases not given in the file were drawn (`[weights] bias_init`); "" when none
    was drawn."""

    @property
    def name(self) -> str:
        """The file's stem: the example's page, `.tex` and `.json` are named after it."""
        return self.path.stem

    @property
    def parameters(self) -> dict[str, np.ndarray]:
        """W1..WL (and b1..bL as columns) by name, in layer order."""
        params = {}
        for layer, weight in enumerate(self.weights, start=1):
            params[f"W{layer}"] = weight
            if self.network.bias:
                params[f"b{layer}"] = self.biases[layer - 1]
        return params


def load_example(path: Path | str) -> Example:
    """Read and validate one example file (TOML, see docs/example-files.md or `derive help
    example-file`) into a frozen `Example`, without training anything.

    In the file X is N x d and y is N x k (one row per sample; a flat list when k = 1); the
    returned `Example` holds X as d x N and Y as k x N (one column per sample), W_l as
    n_l x n_(l-1) and b_l as a column. A bad file raises `SpecError` naming the file and field.

    Example:
        >>> from derive import load_example
        >>> example = load_example("examples/seed.toml")
        >>> example.X.shape, example.Y.shape, [W.shape for W in example.weights]
        ((2, 4), (1, 4), [(3, 2), (1, 3)])
    """
    path = Path(path)
    data = _read(path)
    _require_name(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(path, "file", "is not UTF-8 text") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        problem = _unclosed(text, str(err)) or err
        raise SpecError(path, "toml", f"invalid TOML ({problem})") from None
    except ValueError:  # Python's limit of 4300 digits on converting an integer
        raise SpecError(path, "toml",
                        "invalid TOML (an integer with more than 4300 digits)") from None
    except RecursionError:
        raise SpecError(path, "toml", "invalid TOML (arrays or tables nested too deeply)") from None
    return _Validator(path).example(raw)


_TOML_TOKENS = re.compile(
    r'"""(?:\\.|[^\\])*?(?:"""|\Z)'  # a multi-line basic string
    r"|'''.*?(?:'''|\Z)"  # a multi-line literal string
    r'|"(?:\\.|[^"\\\n])*"?'  # a basic string, to its line's end if unclosed
    r"|'[^'\n]*'?"  # a literal string
    r"|#[^\n]*|[\[\]{}]", re.DOTALL)
"""What can hold a bracket in TOML: strings (skipped whole), comments and the brackets."""
_NOTICED = re.compile(r"\(at line (\d+), column (\d+)\)|\(at end of document\)")


def _unclosed(text: str, error: str) -> str | None:
    """Where an array or inline table that is never closed opened, when it opened no later
    than where TOML's parser noticed the error (`error`): the parser notices only later."""
    opened: list[int] = []
    header_end = -1
    for token in _TOML_TOKENS.finditer(text):
        bracket, at = token[0], token.start()
        if at < header_end or bracket not in "[]{}":
            continue
        if bracket == "[" and not opened and not text[text.rfind("\n", 0, at) + 1:at].strip():
            end = text.find("\n", at)  # a [table] header, to its line's end
            header_end = len(text) if end < 0 else end
        elif bracket in "[{":
            opened.append(at)
        elif opened and text[opened[-1]] == {"]": "[", "}": "{"}[bracket]:
            opened.pop()
    noticed = _NOTICED.search(error)
    if not opened or noticed is None:
        return None
    line = text.count("\n", 0, opened[0]) + 1
    if noticed[1] and line > int(noticed[1]):
        return None
    where = (f"noticed at line {noticed[1]}, column {noticed[2]}" if noticed[1]
             else "the file ends first")
    return f"the {text[opened[0]]} opened on line {line} is never closed; {where}"


def _read(path: Path) -> bytes:
    """The file's bytes, refusing anything but a regular file of at most `MAX_FILE_BYTES`.

    The file is opened without blocking and checked before reading, so a FIFO cannot hang the
    command and a device such as /dev/zero cannot fill the memory.
    """
    try:
        with open(path, "rb", opener=_open_nonblocking) as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                raise SpecError(path, "file", "is not a regular file")
            data = file.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise SpecError(path, "file", "no such file") from None
    except IsADirectoryError:
        raise SpecError(path, "file", "is a directory, not an example file") from None
    except OSError as err:
        raise SpecError(path, "file", f"cannot read: {err.strerror or err}") from None
    if len(data) > MAX_FILE_BYTES:
        raise SpecError(path, "file", f"larger than {MAX_FILE_BYTES // 2**20} MiB")
    return data


def _open_nonblocking(path: str, flags: int) -> int:
    """`open`'s opener: a FIFO opens at once instead of waiting for a writer."""
    return os.open(path, flags | os.O_NONBLOCK)


def _require_name(path: Path) -> None:
    """Refuse a file stem that cannot safely name a page, a URL and the generated files."""
    stem = path.stem
    if len(stem) > MAX_NAME:
        raise SpecError(path, "file", f"name {_show(stem)} is longer than {MAX_NAME} characters "
                        "(it names the page and its files)")
    if not _NAME.fullmatch(stem):
        raise SpecError(path, "file", f"name {_show(stem)} may hold only letters, digits, '.', "
                        "'_' and '-', starting with a letter or digit (it names the page and its "
                        "files)")


class _Validator:
    """Checks one parsed TOML document field by field."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, field: str, problem: str) -> SpecError:
        return SpecError(self.path, field, problem)

    def example(self, raw: dict[str, Any]) -> Example:
        self.keys("", raw)
        for table in ("network", "data", "weights"):
            if table not in raw:
                raise self.fail(table, "missing table")
        for table in ("network", "data", "weights", "training", "render"):
            if not isinstance(raw.get(table, {}), dict):
                raise self.fail(table, "must be a table")
        network = self.network(raw["network"])
        X, Y, labels = self.data(raw["data"], network)
        training = raw.get("training", {})
        render = raw.get("render", {})
        self.keys("training", training)
        self.keys("render", render)
        samples = X.shape[1]
        steps = self.integer("training.steps", training.get("steps", 1), 1, MAX_STEPS)
        batch_size = self.integer("training.batch_size", training.get("batch_size", samples), 1,
                                  samples)
        # The budget first: nothing is drawn or allocated for a run beyond it.
        self.budget(network, samples, batch_size, steps)
        exact = self.exact(render.get("exact", False), network, samples)
        weights, biases, drawn, bias_init = self.weights(raw["weights"], network)
        for array in (X, Y, *weights, *biases):
            array.setflags(write=False)  # an Example is shared by every front end: data only
        example = Example(
            path=self.path,
            title=self.title(raw.get("title", "")),
            description=self.text("description", raw.get("description", ""), MAX_DESCRIPTION),
            network=network,
            X=X,
            Y=Y,
            weights=weights,
            biases=biases,
            learning_rate=self.learning_rate(training.get("learning_rate", 0.5)),
            steps=steps,
            precision=self.integer("render.precision", render.get("precision", 4), 0,
                                   MAX_PRECISION),
            exact=exact,
            batch_size=batch_size,
            shuffle_seed=self.seed(training.get("shuffle_seed")),
            freeze=self.freeze(training.get("freeze", []), network),
            last_batch=self.choice("training.last_batch", training.get("last_batch", "wrap"),
                                   LAST_BATCHES),
            labels=labels,
            drawn=drawn,
            bias_init=bias_init,
            **self.optimizer(training, network),
        )
        if exact:
            self.exact_digits(example)
        return example

    def optimizer(self, training: dict[str, Any], network: Network) -> dict[str, Any]:
        """Weight decay and momentum, with the combinations torch.optim.SGD refuses (or that
        would do nothing) refused in one line."""
        decay = self.bounded("training.weight_decay", training.get("weight_decay", 0.0), 0.0,
                             1e6, "at least 0 and at most 1e6")
        momentum = self.bounded("training.momentum", training.get("momentum", 0.0), 0.0, 0.999,
                                "at least 0 and below 1")
        dampening = self.bounded("training.dampening", training.get("dampening", 0.0), 0.0, 1.0,
                                 "between 0 and 1")
        nesterov = self.boolean("training.nesterov", training.get("nesterov", False))
        decay_biases = self.boolean("training.decay_biases", training.get("decay_biases", False))
        if dampening and not momentum:
            raise self.fail("training.dampening", "dampens the momentum: set training.momentum "
                            "above 0 too")
        if nesterov and not (momentum and not dampening):
            raise self.fail("training.nesterov", "Nesterov momentum needs training.momentum "
                            "above 0 and no dampening (as torch.optim.SGD)")
        if decay_biases and not (network.bias and decay):
            raise self.fail("training.decay_biases", "decays the biases: needs network.bias = "
                            "true and training.weight_decay above 0")
        return {"weight_decay": decay, "momentum": momentum, "dampening": dampening,
                "nesterov": nesterov, "decay_biases": decay_biases}

    def choice(self, field: str, value: Any, allowed: tuple[str, ...]) -> str:
        """One of the `allowed` names."""
        if value not in allowed:
            raise self.fail(field, f"must be one of {', '.join(allowed)}, not {_show(value)}")
        return value

    def keys(self, table: str, values: dict[str, Any]) -> None:
        allowed = _SCHEMA[table]
        for key in values:
            if key not in allowed:
                field = f"{table}.{_key(key)}" if table else _key(key)
                close = difflib.get_close_matches(key, sorted(allowed), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise self.fail(field, f"unknown key{hint}")

    def network(self, raw: dict[str, Any]) -> Network:
        self.keys("network", raw)
        for key in ("sizes", "activations", "loss"):
            if key not in raw:
                raise self.fail(f"network.{key}", "missing")
        sizes = raw["sizes"]
        if not isinstance(sizes, list) or not 2 <= len(sizes) <= MAX_LAYERS + 1:
            raise self.fail("network.sizes", f"must be a list of 2 to {MAX_LAYERS + 1} widths")
        for i, size in enumerate(sizes):
            self.integer(f"network.sizes[{i}]", size, 1, MAX_WIDTH)
        activations = raw["activations"]
        if not isinstance(activations, list) or len(activations) != len(sizes) - 1:
            raise self.fail("network.activations",
                            f"must be a list of {len(sizes) - 1} names, one per layer")
        for i, name in enumerate(activations):
            if name not in ACTIVATIONS:
                raise self.fail(f"network.activations[{i}]",
                                f"unknown activation {_show(name)}; use one of "
                                + ", ".join(ACTIVATIONS))
            if name == "softmax" and i != len(activations) - 1:
                raise self.fail(f"network.activations[{i}]", "softmax is allowed on the last layer only")
        loss = raw["loss"]
        if loss not in LOSSES:
            raise self.fail("network.loss", f"unknown loss {_show(loss)}; use one of " + ", ".join(LOSSES))
        if loss == "cross_entropy" and activations[-1] != "softmax":
            raise self.fail("network.activations", "the cross_entropy loss needs a softmax output layer")
        if loss == "bce" and activations[-1] != "sigmoid":
            raise self.fail("network.activations", "the bce loss needs outputs in (0, 1): a sigmoid output layer")
        if loss == "hinge" and sizes[-1] < 2:
            raise self.fail("network.sizes", "the hinge loss needs at least 2 classes: a last "
                            "width of 2 or more")
        bias = self.boolean("network.bias", raw.get("bias", False))
        slope = self.bounded("network.leaky_slope", raw.get("leaky_slope", 0.01), 0.0, 1.0,
                             "between 0 and 1")
        reduction = self.choice("network.reduction", raw.get("reduction", DEFAULT_REDUCTION[loss]),
                                REDUCTIONS)
        return Network(tuple(sizes), tuple(activations), loss, bias, slope, reduction)

    def data(self, raw: dict[str, Any],
             network: Network) -> tuple[np.ndarray, np.ndarray, tuple[int, ...] | None]:
        """X and Y (columns are samples), and the class labels when y gives them."""
        self.keys("data", raw)
        for key in ("X", "y"):
            if key not in raw:
                raise self.fail(f"data.{key}", "missing")
        d, k = network.sizes[0], network.sizes[-1]
        X = self.matrix("data.X", raw["X"], columns=d)
        if X.shape[0] > MAX_SAMPLES:
            raise self.fail("data.X", f"at most {MAX_SAMPLES} samples")
        y = raw["y"]
        flat = isinstance(y, list) and all(not isinstance(v, list) for v in y)
        labels = None
        if flat and k > 1 and network.loss not in CLASSIFIERS:
            raise self.fail("data.y", "a flat list gives class labels, which need the "
                            f"cross_entropy or hinge loss; give one row of {k} targets per sample")
        if flat and k > 1:
            labels = self.labels(y, X.shape[0], k)
            Y = np.eye(k)[list(labels)]
        elif flat and k == 1:
            Y = self.vector("data.y", y, X.shape[0])[:, None]
        else:
            Y = self.matrix("data.y", y, columns=k)
        if Y.shape[0] != X.shape[0]:
            raise self.fail("data.y", f"has {Y.shape[0]} rows but X has {X.shape[0]} samples")
        if network.loss == "bce" and not np.all((Y >= 0) & (Y <= 1)):
            raise self.fail("data.y", "bce targets must lie in [0, 1]")
        if network.loss == "cross_entropy" and not (
            np.all(Y >= 0) and np.allclose(Y.sum(axis=1), 1.0, rtol=0, atol=1e-9)
        ):
            raise self.fail("data.y", "cross_entropy targets must be distributions: each row >= 0, summing to 1")
        if network.loss == "hinge" and not (
            np.all((Y == 0) | (Y == 1)) and np.all(Y.sum(axis=1) == 1)
        ):
            raise self.fail("data.y", "hinge targets must be one-hot rows (one 1, the rest 0) "
                            "or class labels")
        return X.T.copy(), Y.T.copy(), labels

    def labels(self, value: list[Any], samples: int, classes: int) -> tuple[int, ...]:
        """Integer class labels, one per sample, each from 0 to classes - 1."""
        if len(value) != samples:
            raise self.fail("data.y", f"must have {samples} labels (one per sample), not "
                            f"{len(value)}")
        for i, label in enumerate(value):
            if isinstance(label, bool) or not isinstance(label, int):
                raise self.fail(f"data.y[{i}]", f"a class label must be a whole number, not "
                                f"{_show(label)} (or give one-hot rows)")
            if not 0 <= label < classes:
                raise self.fail(f"data.y[{i}]", f"class {label} does not exist: labels run from "
                                f"0 to {classes - 1}")
        return tuple(value)

    def weights(self, raw: dict[str, Any], network: Network) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...], str, str]:
        """The weights and biases (columns), those not given drawn by `init`; how they were
        drawn, in words ("" when every one is given), and the biases' `bias_init`."""
        depth = network.depth
        expected = {f"W{l}" for l in range(1, depth + 1)} | set(_INIT_KEYS)
        if network.bias:
            expected |= {f"b{l}" for l in range(1, depth + 1)}
        for key in raw:
            if key not in expected:
                if key.startswith("b") and key[1:].isdigit() and not network.bias:
                    raise self.fail(f"weights.{_key(key)}",
                                    "biases given but network.bias is false")
                close = difflib.get_close_matches(key, sorted(expected), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise self.fail(f"weights.{_key(key)}", f"unknown key{hint}")
        init = self.init(raw, network.bias)
        rng = np.random.default_rng(init[1]) if init else None
        weights, biases = [], []
        drawn = biases_drawn = False
        for l in range(1, depth + 1):
            rows, cols = network.sizes[l], network.sizes[l - 1]
            if f"W{l}" in raw:
                W = self.matrix(f"weights.W{l}", raw[f"W{l}"], columns=cols)
                if W.shape[0] != rows:
                    raise self.fail(f"weights.W{l}", f"must have {rows} rows (sizes[{l}]), not {W.shape[0]}")
            elif rng is not None:
                W, drawn = _draw(init[0], rng, rows, cols, init[2]), True
            else:
                raise self.fail(f"weights.W{l}", f"missing ({rows} x {cols} matrix; or set "
                                "weights.init to draw it)")
            weights.append(W)
            if network.bias:
                if f"b{l}" in raw:
                    biases.append(self.vector(f"weights.b{l}", raw[f"b{l}"], rows)[:, None])
                elif rng is not None:
                    biases.append(_draw_bias(init[3], rng, rows, init[2]))
                    drawn = biases_drawn = True
                else:
                    raise self.fail(f"weights.b{l}", f"missing (list of {rows} numbers)")
        described = (f"{init[0]}, seed {init[1]}, rounded to {init[2]} decimals"
                     if drawn and init else "")
        return tuple(weights), tuple(biases), described, init[3] if biases_drawn else ""

    def init(self, raw: dict[str, Any], bias: bool) -> tuple[str, int, int, str] | None:
        """`weights.init` with its seed, decimals and bias_init, or None when not asked for."""
        if "init" not in raw:
            for key in ("seed", "decimals", "bias_init"):
                if key in raw:
                    raise self.fail(f"weights.{key}", "goes with weights.init")
            return None
        name = raw["init"]
        if name not in INITS:
            raise self.fail("weights.init", f"unknown initialisation {_show(name)}; use one of "
                            + ", ".join(INITS))
        seed = self.integer("weights.seed", raw.get("seed", 0), 0, 2**63 - 1)
        decimals = self.integer("weights.decimals", raw.get("decimals", 2), 1, 12)
        bias_init = self.choice("weights.bias_init", raw.get("bias_init", "zeros"), BIAS_INITS)
        if "bias_init" in raw and not bias:
            raise self.fail("weights.bias_init", "draws biases: needs network.bias = true")
        return name, seed, decimals, bias_init

    def matrix(self, field: str, value: Any, columns: int) -> np.ndarray:
        if not isinstance(value, list) or not value:
            raise self.fail(field, "must be a non-empty list of rows")
        rows = []
        for i, row in enumerate(value):
            if not isinstance(row, list):
                raise self.fail(f"{field}[{i}]", "must be a list of numbers (one row)")
            rows.append(self.vector(f"{field}[{i}]", row, columns))
        return np.array(rows, dtype=float)

    def vector(self, field: str, value: Any, length: int) -> np.ndarray:
        if not isinstance(value, list):
            raise self.fail(field, "must be a list of numbers")
        if len(value) != length:
            raise self.fail(field, f"must have {length} entries, not {len(value)}")
        if all(type(v) is float or type(v) is int for v in value):  # the common case, at once
            with contextlib.suppress(OverflowError):
                array = np.array(value, dtype=float)
                if np.isfinite(array).all():
                    return array
        return np.array([self.number(f"{field}[{i}]", v) for i, v in enumerate(value)], dtype=float)

    def number(self, field: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(field, f"must be a number, not {_show(value)}")
        try:
            number = float(value)
        except OverflowError:
            raise self.fail(field, "must be a number of at most about 1.8e308 in size") from None
        if not math.isfinite(number):
            raise self.fail(field, f"must be finite, not {number}")
        return number

    def integer(self, field: str, value: Any, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(field, f"must be a whole number, not {_show(value)}")
        if not low <= value <= high:
            raise self.fail(field, f"must be between {low} and {high}, not {_show(value)}")
        return value

    def boolean(self, field: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.fail(field, f"must be true or false, not {_show(value)}")
        return value

    def text(self, field: str, value: Any, limit: int) -> str:
        """Text shown as written: a string of at most `limit` characters, none refused."""
        if not isinstance(value, str):
            raise self.fail(field, f"must be a string, not {_show(value)}")
        self.characters(field, value)
        if len(value) > limit:
            raise self.fail(field, f"must be at most {limit:,} characters, not {len(value):,}")
        return value

    def title(self, value: Any) -> str:
        """The title on one line (a heading must not open Markdown structure); default the stem.

        Its characters are checked before folding, which would take U+001C-U+001F and U+0085
        for spaces."""
        if not isinstance(value, str):
            raise self.fail("title", f"must be a string, not {_show(value)}")
        self.characters("title", value)
        return self.text("title", " ".join(value.split()), MAX_TITLE) or self.path.stem

    def characters(self, field: str, value: str) -> None:
        """Refuse a character text cannot show as itself (see `_REFUSED`), by its code point."""
        found = _REFUSED.search(value)
        if found:
            char = found.group()
            raise self.fail(field, f"must not hold U+{ord(char):04X} ({_kind(char)}), found at "
                            f"character {found.start() + 1}")

    def budget(self, network: Network, samples: int, batch: int, steps: int) -> None:
        """Refuse a run that would keep more than `MAX_KEPT_NUMBERS` numbers or take more than
        `MAX_WORK` operations, from the shape alone (before any weight is drawn)."""
        numbers = kept(network, batch, steps)
        if numbers > MAX_KEPT_NUMBERS:
            raise self.fail("training.steps", f"the run would keep {numbers:,} numbers (steps x "
                            "(batch x units x 4 + parameters x 5)); at most "
                            f"{MAX_KEPT_NUMBERS:,}: lower training.steps, the samples or the "
                            "widths")
        parts = work(network, samples, batch, steps)
        if sum(parts.values()) > MAX_WORK:
            shown = ", ".join(f"{name} {count:.1e}" for name, count in parts.items())
            raise self.fail("training.steps", f"the run would take {sum(parts.values()):,} "
                            f"operations ({shown}); at most {MAX_WORK:,}: lower "
                            "training.steps or training.batch_size, the samples or the widths")

    def exact(self, value: Any, network: Network, samples: int) -> bool:
        exact = self.boolean("render.exact", value)
        if not exact:
            return exact
        if not (set(network.activations) <= EXACT_ACTIVATIONS and network.loss in EXACT_LOSSES):
            raise self.fail("render.exact", "exact fractions need rational arithmetic: "
                            "linear, relu or leaky_relu layers and the l2, mse or hinge loss")
        entries = _parameter_count(network) * samples
        if entries > MAX_EXACT_ENTRIES:
            raise self.fail("render.exact", f"parameters x samples is {entries:,}; exact fractions "
                            f"allow at most {MAX_EXACT_ENTRIES:,}: use fewer samples or narrower "
                            "layers, or set exact = false")
        return exact

    def exact_digits(self, example: Example) -> None:
        """Refuse exact steps whose fractions would grow beyond `MAX_EXACT_DIGITS` digits."""
        digits = exact_digits(example)
        if digits > MAX_EXACT_DIGITS:
            raise self.fail("render.exact", f"the exact steps' fractions would grow to about "
                            f"{digits:,} digits (each step multiplies them by about 2 x layers); "
                            f"at most {MAX_EXACT_DIGITS:,}: use fewer layers, steps or decimals, "
                            "or set exact = false")

    def bounded(self, field: str, value: Any, low: float, high: float, allowed: str) -> float:
        number = self.number(field, value)
        if not low <= number <= high:
            raise self.fail(field, f"must be {allowed}, not {number:g}")
        return number

    def seed(self, value: Any) -> int | None:
        if value is None:
            return None
        return self.integer("training.shuffle_seed", value, 0, 2**63 - 1)

    def freeze(self, value: Any, network: Network) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise self.fail("training.freeze", "must be a list of parameter names")
        names = [f"{kind}{l}" for l in range(1, network.depth + 1)
                 for kind in ("W", "b")[:1 + network.bias]]
        for i, name in enumerate(value):
            if name not in names:
                raise self.fail(f"training.freeze[{i}]",
                                f"{_show(name)} is not a parameter; use one of {', '.join(names)}")
        if len(set(value)) == len(names):
            raise self.fail("training.freeze", "freezes every parameter: nothing would be trained")
        return tuple(name for name in names if name in value)

    def learning_rate(self, value: Any) -> float:
        rate = self.number("training.learning_rate", value)
        if not 0 < rate <= 1e6:
            raise self.fail("training.learning_rate", f"must be positive (and at most 1e6), not {rate}")
        return rate


def _draw(init: str, rng: np.random.Generator, rows: int, columns: int,
          decimals: int) -> np.ndarray:
    """A rows x columns weight matrix drawn as `init` says, rounded to `decimals`.

    xavier_uniform: U(±√(6 / (fan_in + fan_out))); he_normal: N(0, √(2 / fan_in));
    lecun_normal: N(0, √(1 / fan_in)), Nielsen's network2.py; uniform: U(±1/√fan_in), PyTorch's
    default for a linear layer.
    """
    if init == "xavier_uniform":
        bound = math.sqrt(6 / (columns + rows))
        values = rng.uniform(-bound, bound, size=(rows, columns))
    elif init == "he_normal":
        values = rng.normal(0.0, math.sqrt(2 / columns), size=(rows, columns))
    elif init == "lecun_normal":
        values = rng.normal(0.0, math.sqrt(1 / columns), size=(rows, columns))
    else:
        bound = 1 / math.sqrt(columns)
        values = rng.uniform(-bound, bound, size=(rows, columns))
    return np.round(values, decimals) + 0.0  # + 0.0 turns -0.0 into 0.0


def _draw_bias(init: str, rng: np.random.Generator, rows: int, decimals: int) -> np.ndarray:
    """A bias column drawn as `bias_init` says: zeros, or N(0, 1) rounded to `decimals`
    (Nielsen's network.py and network2.py)."""
    if init == "zeros":
        return np.zeros((rows, 1))
    return np.round(rng.standard_normal((rows, 1)), decimals) + 0.0


def _kind(char: str) -> str:
    """What a refused character is, in words, for the message."""
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF:
        return "a surrogate"
    if 0x202A <= code <= 0x202E or 0x2066 <= code <= 0x2069:
        return "a bidirectional control"
    if code <= 0x9F:
        return "a control character"
    return "a noncharacter"


def kept(network: Network, batch: int, steps: int) -> int:
    """Numbers a run keeps: each step's S, Z, G and delta of every layer (units x batch each),
    the hinge loss's margins and their gradient, and the parameters, their gradients (and weight
    decay's), their velocity and their update."""
    margins = 2 * batch * network.sizes[-1] if network.loss == "hinge" else 0
    return steps * (4 * batch * sum(network.sizes[1:]) + margins + 5 * _parameter_count(network))


def answer_key_values(network: Network, batch: int, steps: int) -> int:
    """Values the answer key writes: the numbers kept, each step's samples, one more for each
    row (a list) and `MATRIX` more for each matrix (its name and its lists)."""
    rows = (4 + 5 * (1 + network.bias)) * sum(network.sizes[1:])
    matrices = (4 + 5 * (1 + network.bias)) * network.depth
    return kept(network, batch, steps) + steps * (batch + rows + MATRIX * matrices)


def work(network: Network, samples: int, batch: int, steps: int) -> dict[str, int]:
    """Operations of a run and its build by part, counted from the shape, so the same on any
    machine: the SGD steps, the gradient check, the final loss, the page (see `COSTS`), the
    answer key and reading the data. A NumPy call costs `CALL`, a multiply-add of a matrix
    product half an operation."""
    return {"steps": steps * _step(network, samples, batch),
            "gradient check": checked_passes(network) * _pass(network, batch),
            "final loss": _forward(network, samples),
            "page": _page(network, batch),
            "answer key": COSTS["number"] * answer_key_values(network, batch, steps),
            "data": COSTS["read"] * (network.sizes[0] + network.sizes[-1]) * samples}


def checked_passes(network: Network) -> int:
    """Passes through the network the gradient check makes: two per entry it compares, and one
    at the weights themselves."""
    return 1 + 2 * sum(min(size, CHECKED_ENTRIES) for size in _parameter_sizes(network))


def _step(network: Network, samples: int, batch: int) -> int:
    """Operations of one SGD step: its pass, its bookkeeping (finite checks, the update, the
    batch's columns), choosing its samples (each looked for among those chosen before it) and,
    with mini-batches, the loss of all samples."""
    step = (_pass(network, batch) + CALL * (20 + 10 * network.depth)
            + 6 * _parameter_count(network) + (network.sizes[0] + network.sizes[-1]) * batch
            + 3 * batch**2)
    return step + (_forward(network, samples) if batch < samples else 0)


def _page(network: Network, batch: int) -> int:
    """Operations of an example's page beyond the run (see `COSTS`)."""
    L, parameters = network.depth, _parameter_count(network)
    matrices = L * (1 + network.bias)
    return (COSTS["layer"] * L + COSTS["asked"] * matrices * L
            + (COSTS["blank"] + COSTS["blank layer"] * L) * parameters
            + COSTS["term"] * batch * matrices)


def _pass(network: Network, n: int) -> int:
    """Operations of a forward and backward pass on n samples: the calls of each layer, three
    products with each weight matrix, S, Z, G and delta of each unit, and the gradients."""
    parameters = _parameter_count(network)
    return (CALL * (20 + 3 * network.depth) + 3 * parameters * n // 2
            + 8 * sum(network.sizes[1:]) * n + 3 * parameters)


def _forward(network: Network, n: int) -> int:
    """Operations of the loss of n samples: a forward pass and the data's columns."""
    return (CALL * (10 + 2 * network.depth) + _parameter_count(network) * n // 2
            + 2 * sum(network.sizes[1:]) * n + (network.sizes[0] + network.sizes[-1]) * n)


def exact_digits(example: Example) -> int:
    """About how many digits (numerator and denominator) the largest fraction of the exact steps
    has: with d the most digits of an input as a fraction, (2L + 2) d after the first step, and
    each further step's products of about 2L numbers multiply that by 2L - 1 (and add twice the
    first step's digits); an upper estimate of what the steps give."""
    network = example.network
    inputs = [example.X, example.Y, *example.weights, *example.biases,
              [example.learning_rate, example.momentum, example.dampening, example.weight_decay,
               network.leaky_slope, example.X.shape[1] * network.sizes[-1]]]
    d = max(_digits(value) for values in inputs for value in np.ravel(values))
    first = digits = (2 * network.depth + 2) * d
    for _ in range(1, min(EXACT_STEPS, example.steps)):
        digits = (2 * network.depth - 1) * digits + 2 * first
    return digits


def _digits(value: float) -> int:
    """Digits of a number as the fraction it was written as (0.25 = 1/4: 2)."""
    fraction = Fraction(repr(float(value)))
    return len(str(abs(fraction.numerator))) + len(str(fraction.denominator))


def _parameter_sizes(network: Network) -> list[int]:
    """Entries of each parameter, in layer order."""
    sizes = network.sizes
    return [size for l in range(1, len(sizes))
            for size in (sizes[l] * sizes[l - 1], sizes[l])[:1 + network.bias]]


def _parameter_count(network: Network) -> int:
    """Weights (and biases) of all layers."""
    sizes = network.sizes
    return sum(sizes[l] * (sizes[l - 1] + network.bias) for l in range(1, len(sizes)))


def _key(key: str) -> str:
    """A key as it may appear in a message's field: quoted unless plain and short."""
    return key if _BARE_KEY.fullmatch(key) else _show(key)


def _show(value: Any) -> str:
    """A short, safe rendering of a bad value for an error message."""
    try:
        text = repr(value)
    except ValueError:  # an integer beyond Python's 4300 digits (TOML's hex, octal, binary)
        return "a value too long to show"
    return text if len(text) <= 40 else text[:37] + "..."
