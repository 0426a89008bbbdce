"""Exam variants: the same architecture with fresh, nicely rounded numbers, answer keys, and a
Moodle question bank."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .errors import DeriveError, show_path
from .moodle import Asked, question_bank, variant_name
from .output import replacing, require_apart, require_replaceable
from .present.answer_key import answer_key, to_json
from .present.pages import document, questions
from .present.view import view
from .spec import KINKED, MAX_NAME, MAX_TITLE, Example
from .worked import WorkedExample, worked_example

DECIMALS = 2
"""Every generated number has at most this many decimals, so it is easy to compute with."""
ATTEMPTS = 100
MAX_VARIANTS = 100


def write_variants(original: WorkedExample, count: int, seed: int, out: Path,
                   progress: Callable[[int, int], None] = lambda number, count: None,
                   moodle: Sequence[Asked] = ()) -> list[Path]:
    """Write `count` variants of an example into `out`: each a `.toml`, its answer key (`.json`
    and the worked `.tex`) and a question sheet (`-questions.tex`, no answers); with `moodle`
    (the quantities to ask) also `NAME-moodle.xml`, a Moodle question bank of the variants.

    `out` is replaced whole, and only if derive made it (or it is empty or absent) and it does
    not hold the example file.

    `progress(number, count)` is told of each variant as it is computed. The same `seed` always
    gives the same files. A variant with a relu-like pre-activation of exactly 0 is drawn again,
    so no answer hangs on the convention for the kink.
    """
    require_count(count)
    example = original.example
    if len(f"{example.name}-v{count}") > MAX_NAME:
        raise DeriveError(f"{show_path(example.path)}: variants: the variants' names "
                          f"({example.name}-v1 ...) would be longer than {MAX_NAME} characters; "
                          "shorten the file name")
    require_replaceable(out, "--out")
    require_apart(out, "--out", [example.path])
    rng = np.random.default_rng(seed)
    variants = []
    for number in range(1, count + 1):
        path = out / f"{example.name}-v{number}.toml"
        for _ in range(ATTEMPTS):
            worked = worked_example(_variant(example, _draw(example, rng), path, number))
            if not _on_a_kink(worked):
                break
        else:
            raise DeriveError(f"{show_path(example.path)}: variants: no variant without a relu "
                              "kink found")
        worked.require_checked()
        variants.append(worked)
        progress(number, count)
    with replacing(out, "--out") as fresh:
        fresh.mkdir()
        for worked in variants:
            path = fresh / worked.example.path.name
            path.write_text(_toml(worked.example), encoding="utf-8")
            path.with_suffix(".json").write_text(to_json(answer_key(worked)), encoding="utf-8")
            page = view(worked)
            path.with_suffix(".tex").write_text(document(worked, page), encoding="utf-8")
            path.with_name(f"{path.stem}-questions.tex").write_text(questions(page),
                                                                    encoding="utf-8")
        if moodle:
            names = [variant_name(example.title, n) for n in range(1, count + 1)]
            bank = question_bank(example.title, list(zip(names, variants)), moodle)
            (fresh / f"{example.name}-moodle.xml").write_text(bank, encoding="utf-8")
    return [worked.example.path for worked in variants]


def require_count(count: int) -> None:
    """Refuse a number of variants outside 1 to MAX_VARIANTS."""
    if not 1 <= count <= MAX_VARIANTS:
        raise DeriveError(f"--count: must be between 1 and {MAX_VARIANTS}, not {count}")


def _draw(example: Example, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Fresh data and weights of the example's shapes, rounded to `DECIMALS`."""
    network = example.network
    N = example.X.shape[1]
    numbers = {"X": _round(rng.uniform(-1, 1, size=(N, network.sizes[0]))),
               "y": _targets(example.Y.T, rng)}
    for layer, weight in enumerate(example.weights, start=1):
        numbers[f"W{layer}"] = _round(rng.uniform(-1, 1, size=weight.shape))
        if network.bias:
            numbers[f"b{layer}"] = _round(rng.uniform(-0.5, 0.5, size=weight.shape[0]))
    return numbers


def _targets(original: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Fresh targets (N x k) of the original's form: one-hot stays one-hot, values from a set
    of two (±1, 0 and 1) stay in that set, anything else is drawn from [-1, 1]."""
    N, k = original.shape
    levels = np.unique(original)
    if k > 1 and set(levels) <= {0.0, 1.0} and np.all(original.sum(axis=1) == 1):
        return np.eye(k)[rng.integers(0, k, size=N)]
    if len(levels) <= 2 and set(levels) <= {-1.0, 0.0, 1.0}:
        pair = levels if len(levels) == 2 else np.array([0.0, 1.0])
        return rng.choice(pair, size=(N, k))
    if original.min() >= 0 and original.max() <= 1:
        return _round(rng.uniform(0, 1, size=(N, k)))
    return _round(rng.uniform(-1, 1, size=(N, k)))


def _round(values: np.ndarray) -> np.ndarray:
    return np.round(values, DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0


def _variant(example: Example, numbers: dict[str, np.ndarray], path: Path,
             number: int) -> Example:
    """The example with the drawn numbers, named after its variant file."""
    depth = example.network.depth
    return dataclasses.replace(
        example,
        path=path,
        title=_fit(example.title, f" (variant {number})"),
        description=f"Variant {number} of {example.name}: the same network, fresh numbers.",
        X=numbers["X"].T.copy(),
        Y=numbers["y"].T.copy(),
        labels=tuple(int(c) for c in numbers["y"].argmax(axis=1))
        if example.labels is not None else None,
        weights=tuple(numbers[f"W{l}"] for l in range(1, depth + 1)),
        biases=tuple(numbers[f"b{l}"][:, None] for l in range(1, depth + 1))
        if example.network.bias else (),
        drawn="",
    )


def _fit(title: str, suffix: str) -> str:
    """The title with the suffix, shortened to stay within the title limit."""
    return title[:MAX_TITLE - len(suffix)].rstrip() + suffix


def _on_a_kink(worked: WorkedExample) -> bool:
    """Whether the first step has a relu-like pre-activation or a hinge margin of exactly 0."""
    first = worked.steps[0]
    margins = [first.values["M"]] if "M" in first.values else []
    return any(np.any(value == 0) for value in margins + [
        first.values[f"S{layer}"]
        for layer, activation in enumerate(worked.example.network.activations, start=1)
        if activation in KINKED])


def _toml(example: Example) -> str:
    """The variant as an example file in the format derive reads."""
    network = example.network
    y = (list(example.labels) if example.labels is not None
         else example.Y.T.ravel() if network.sizes[-1] == 1 else example.Y.T)
    lines = [
        f"title = {_toml_value(example.title)}",
        f"description = {_toml_value(example.description)}",
        "",
        "[network]",
        f"sizes = {_toml_value(list(network.sizes))}",
        f"activations = {_toml_value(list(network.activations))}",
        f"loss = {_toml_value(network.loss)}",
        f"reduction = {_toml_value(network.reduction)}",
        f"bias = {_toml_value(network.bias)}",
        f"leaky_slope = {_toml_value(network.leaky_slope)}",
        "",
        "[data]",
        f"X = {_toml_value(example.X.T)}",
        f"y = {_toml_value(y)}",
        "",
        "[weights]",
        *(f"{name} = {_toml_value(v.ravel() if name.startswith('b') else v)}"
          for name, v in example.parameters.items()),
        "",
        "[training]",
        f"learning_rate = {_toml_value(example.learning_rate)}",
        f"steps = {example.steps}",
        f"batch_size = {example.batch_size}",
        f"last_batch = {_toml_value(example.last_batch)}",
        *([f"shuffle_seed = {example.shuffle_seed}"] if example.shuffle_seed is not None else []),
        f"freeze = {_toml_value(list(example.freeze))}",
        f"weight_decay = {_toml_value(example.weight_decay)}",
        f"decay_biases = {_toml_value(example.decay_biases)}",
        f"momentum = {_toml_value(example.momentum)}",
        f"dampening = {_toml_value(example.dampening)}",
        f"nesterov = {_toml_value(example.nesterov)}",
        "",
        "[render]",
        f"precision = {example.precision}",
        *(["exact = true"] if example.exact else []),
    ]
    return "\n".join(lines) + "\n"


_TOML_ESCAPES = str.maketrans({'"': '\\"', "\\": "\\\\",
                               **{chr(code): f"\\u{code:04X}" for code in [*range(0x20), 0x7F]}})
"""What a TOML basic string may not hold literally: quotes, backslashes, control characters."""


def _toml_value(value: object) -> str:
    """A number, boolean, string, or (nested) list or array of them, as a TOML value."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, str):
        return '"' + value.translate(_TOML_ESCAPES) + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return json.dumps(value)
