"""Exam variants: the same architecture with fresh, nicely rounded numbers, and answer keys."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .errors import DeriveError
from .pages import example_pages
from .spec import Example, load_example

DECIMALS = 2
"""Every generated number has at most this many decimals, so it is easy to compute with."""
ATTEMPTS = 100


def write_variants(example: Example, count: int, seed: int, out: Path) -> list[Path]:
    """Write `count` variants of `example` into `out`: each a `.toml`, its `.json` and `.tex`.

    The same `seed` always gives the same files. A variant whose relu-like pre-activation is
    exactly 0 is drawn again, so no answer hangs on the convention for the kink.
    """
    if count < 1:
        raise DeriveError(f"--count: must be at least 1, not {count}")
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    written = []
    for number in range(1, count + 1):
        path = out / f"{example.name}-v{number}.toml"
        for _ in range(ATTEMPTS):
            path.write_text(_toml(_draw(example, rng), example, number), encoding="utf-8")
            if not _on_a_kink(path):
                break
        else:
            raise DeriveError(f"{example.path}: variants: no variant without a relu kink found")
        for name, content in example_pages(path).items():
            if name.endswith((".json", ".tex")):
                (out / Path(name).name).write_text(content, encoding="utf-8")
        written.append(path)
    return written


def _draw(example: Example, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Fresh data and weights of the example's shapes, rounded to `DECIMALS`."""
    network = example.network
    N, k = example.X.shape[1], network.sizes[-1]
    numbers = {"X": _round(rng.uniform(-1, 1, size=(N, network.sizes[0])))}
    if network.loss == "cross_entropy":
        numbers["y"] = np.eye(k)[rng.integers(0, k, size=N)]
    elif network.loss == "bce":
        numbers["y"] = rng.integers(0, 2, size=(N, k)).astype(float)
    else:
        numbers["y"] = _round(rng.uniform(-1, 1, size=(N, k)))
    for layer, weight in enumerate(example.weights, start=1):
        numbers[f"W{layer}"] = _round(rng.uniform(-1, 1, size=weight.shape))
        if network.bias:
            numbers[f"b{layer}"] = _round(rng.uniform(-0.5, 0.5, size=weight.shape[0]))
    return numbers


def _round(values: np.ndarray) -> np.ndarray:
    return np.round(values, DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0


def _on_a_kink(path: Path) -> bool:
    from .numeric import train

    example = load_example(path)
    first = train(example)[0]
    return any(np.any(first.values[f"S{layer}"] == 0)
               for layer, activation in enumerate(example.network.activations, start=1)
               if "relu" in activation)


def _toml(numbers: dict[str, np.ndarray], example: Example, number: int) -> str:
    """The variant as an example file in the format derive reads."""
    network = example.network

    def value(v) -> str:
        return json.dumps(np.asarray(v).tolist() if isinstance(v, np.ndarray) else v,
                          ensure_ascii=False)

    y = numbers["y"].ravel() if network.sizes[-1] == 1 else numbers["y"]
    lines = [
        f"title = {value(f'{example.title} (variant {number})')}",
        f"description = {value(f'Variant {number} of {example.name}: the same network, fresh numbers.')}",
        "",
        "[network]",
        f"sizes = {value(list(network.sizes))}",
        f"activations = {value(list(network.activations))}",
        f"loss = {value(network.loss)}",
        f"bias = {value(network.bias)}",
        "",
        "[data]",
        f"X = {value(numbers['X'])}",
        f"y = {value(y)}",
        "",
        "[weights]",
        *(f"{name} = {value(v)}" for name, v in numbers.items() if name not in ("X", "y")),
        "",
        "[training]",
        f"learning_rate = {value(example.learning_rate)}",
        f"steps = {example.steps}",
        "",
        "[render]",
        f"precision = {example.precision}",
    ]
    return "\n".join(lines) + "\n"
