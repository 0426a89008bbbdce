"""The worst example files derive accepts, and what each command costs on them.

Run from the repository root (a few minutes on a 2-core machine; `--quick` times `values` only):

    python benchmarks/worst.py [--quick]

Each shape pushes one limit as far as validation allows, found from the validator's own counts
(`spec.kept`, `spec.work`, `spec.exact_digits`, the cross-check's `expanded_terms`), so the table
follows the limits when they change; `huge-init` is the one refused. For each file it prints a
Markdown table of `derive values`, `derive check` and a one-example `derive build`: wall seconds
(and CPU seconds) with empty caches (cold) and again (warm), and the largest peak memory (from
`/usr/bin/time`). tests/test_budget.py checks the same files.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from derive import spec
from derive.spec import MAX_FILE_BYTES, MAX_LAYERS, MAX_STEPS, MAX_WIDTH, Network


@dataclass(frozen=True)
class Shape:
    """An example file's shape: its network, data and training; numbers are drawn when written."""

    sizes: tuple[int, ...]
    activations: tuple[str, ...]
    loss: str
    bias: bool = False
    samples: int = 1
    steps: int = 1
    batch_size: int | None = None
    exact: bool = False
    init: bool = False
    """Weights drawn by `[weights] init` rather than written out."""
    binary: bool = False
    """Data of 0s and 1s, the most numbers a file of `MAX_FILE_BYTES` can hold."""

    @property
    def network(self) -> Network:
        return Network(self.sizes, self.activations, self.loss, self.bias)

    def within(self) -> bool:
        """Whether the validator's counts accept this shape (the file size and exact fractions'
        digits aside, which `load_example` checks on the written file)."""
        batch = self.batch_size or self.samples
        return (spec.kept(self.network, batch, self.steps) <= spec.MAX_KEPT_NUMBERS
                and sum(spec.work(self.network, self.samples, batch, self.steps).values())
                <= spec.MAX_WORK)


def deep(width: int, hidden: str, output: str, loss: str, **options) -> Shape:
    """MAX_LAYERS layers of `width` units."""
    return Shape((width,) * (MAX_LAYERS + 1), (hidden,) * (MAX_LAYERS - 1) + (output,), loss,
                 **options)


def largest(shape: Callable[[int], Shape], high: int,
            accepted: Callable[[Shape], bool] = Shape.within) -> Shape:
    """The shape of the largest value from 1 to `high` that is still accepted."""
    low = 1
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if accepted(shape(middle)) else (low, middle - 1)
    return shape(low)


def exact_accepted(shape: Shape) -> bool:
    """Whether a written file of this exact shape loads (digits depend on its numbers)."""
    with tempfile.TemporaryDirectory() as folder:
        try:
            spec.load_example(write(shape, Path(folder) / "exact.toml"))
        except spec.SpecError:
            return False
    return True


def file_size_accepted(shape: Shape) -> bool:
    with tempfile.TemporaryDirectory() as folder:
        return write(shape, Path(folder) / "wide.toml").stat().st_size <= MAX_FILE_BYTES


def worst_shapes() -> dict[str, tuple[str, Shape]]:
    """Each worst accepted shape by name, with what it pushes; and `huge-init`, refused."""
    return {
        "softmax-mse-deep": ("softmax + mse, 32 layers as wide as accepted", largest(
            lambda w: deep(w, "tanh", "softmax", "mse", bias=True, init=True), MAX_WIDTH)),
        "softmax-l2-wide": ("softmax + l2, one layer as wide as accepted", largest(
            lambda w: Shape((w, w), ("softmax",), "l2", bias=True, init=True), MAX_WIDTH)),
        "softmax-mse-5-5-1-2-3": ("the reported 5-5-1-2-3 softmax + mse, 2 steps", Shape(
            (5, 5, 1, 2, 3), ("sigmoid", "tanh", "tanh", "softmax"), "mse", bias=True, steps=2)),
        "tanh-deep-wide": ("32 tanh layers as wide as accepted", largest(
            lambda w: deep(w, "tanh", "tanh", "l2", init=True), MAX_WIDTH)),
        "steps-deep": ("32 one-unit layers, as many steps as accepted", largest(
            lambda s: deep(1, "linear", "linear", "l2", steps=s), MAX_STEPS)),
        "steps": ("one weight, as many steps as accepted", largest(
            lambda s: Shape((1, 1), ("linear",), "l2", steps=s), MAX_STEPS)),
        "kept-numbers": ("1,000 samples, as many steps as accepted", largest(
            lambda s: Shape((1, 1), ("linear",), "l2", samples=1000, steps=s), MAX_STEPS)),
        "mazur-10000": ("Mazur's 2-2-2 sigmoid network, 10,000 steps", Shape(
            (2, 2, 2), ("sigmoid", "sigmoid"), "l2", bias=True, steps=MAX_STEPS)),
        "exact-deep": ("exact fractions, 3 steps, as many one-unit layers as accepted", largest(
            lambda d: Shape((1,) * (d + 1), ("linear",) * d, "l2", samples=1000 // d, steps=3,
                            exact=True), MAX_LAYERS, exact_accepted)),
        "exact-entries": ("exact fractions, 3 steps, 999 parameters x samples", Shape(
            (2, 3, 1), ("relu", "linear"), "l2", samples=111, steps=3, exact=True)),
        "wide-input": ("4,096 inputs, as many samples as 1 MiB holds", largest(
            lambda n: Shape((MAX_WIDTH, 1), ("linear",), "l2", samples=n, binary=True),
            1000, file_size_accepted)),
        "samples": ("one weight, as many samples as accepted", largest(
            lambda n: Shape((1, 1), ("linear",), "l2", samples=n), spec.MAX_SAMPLES)),
        "mini-batches": ("batches of 1 from 10,000 samples, as many steps as accepted", largest(
            lambda s: Shape((1, 1), ("linear",), "l2", samples=10_000, batch_size=1, steps=s),
            MAX_STEPS)),
        "expansion-limit": ("relu layers of 2 units, as deep as the cross-check expands",
                            largest(lambda d: Shape((2,) * (d + 1), ("relu",) * d, "l2"),
                                    MAX_LAYERS, expansion_accepted)),
        "huge-init": ("33 layers of 4,096 drawn weights (refused)", Shape(
            (MAX_WIDTH,) * (MAX_LAYERS + 1), ("linear",) * MAX_LAYERS, "l2", init=True)),
    }


def expansion_accepted(shape: Shape) -> bool:
    """Whether the element-wise cross-check expands this shape's network."""
    from derive.verify.expansion import MAX_TERMS, expanded_terms

    with tempfile.TemporaryDirectory() as folder:
        example = spec.load_example(write(shape, Path(folder) / "expansion.toml"))
    return expanded_terms(example) <= MAX_TERMS


def write(shape: Shape, path: Path) -> Path:
    """Write an example file of this shape, its numbers drawn with two decimals (0s and 1s for
    `binary` data)."""
    rng = np.random.default_rng(0)
    d, k = shape.sizes[0], shape.sizes[-1]
    if shape.binary:
        X = rng.integers(0, 2, (shape.samples, d))
    else:
        X = rng.uniform(-1, 1, (shape.samples, d)).round(2)
    Y = rng.uniform(0, 1, (shape.samples, k)).round(2)
    lines = ["[network]", f"sizes = {list(shape.sizes)}",
             f"activations = {json.dumps(list(shape.activations))}", f'loss = "{shape.loss}"',
             f"bias = {json.dumps(shape.bias)}", "[data]", f"X = {_rows(X)}", f"y = {_rows(Y)}",
             "[weights]"]
    if shape.init:
        lines.append('init = "xavier_uniform"')
    else:
        for layer in range(1, len(shape.sizes)):
            rows, columns = shape.sizes[layer], shape.sizes[layer - 1]
            lines.append(f"W{layer} = {_rows(rng.uniform(-1, 1, (rows, columns)).round(2))}")
            if shape.bias:
                lines.append(f"b{layer} = {_rows(np.zeros((1, rows)))[1:-1]}")
    lines += ["[training]", "learning_rate = 0.01", f"steps = {shape.steps}"]
    if shape.batch_size:
        lines.append(f"batch_size = {shape.batch_size}")
    lines += ["[render]", f"exact = {json.dumps(shape.exact)}"]
    path.write_text("\n".join(lines) + "\n")
    return path


def _rows(matrix: np.ndarray) -> str:
    return json.dumps(matrix.tolist(), separators=(",", ":"))


def timed(command: list[str], folder: Path, cache: Path) -> tuple[float, float, int, int]:
    """Wall and CPU seconds, peak memory (MB) and exit code of `python -m derive COMMAND` in
    `folder` (CPU time tells a busy machine from a slow command)."""
    report = folder / "time.txt"
    environment = {**os.environ, "DERIVE_CACHE_DIR": str(cache)}
    result = subprocess.run(["/usr/bin/time", "-o", str(report), "-f", "%e %U %S %M",
                             sys.executable, "-m", "derive", *command], check=False, cwd=folder,
                            env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    wall, user, system, kilobytes = report.read_text().split()[-4:]
    if result.returncode not in (0, 1):
        print(f"{' '.join(command)}: {result.stderr.strip().splitlines()[-1]}", file=sys.stderr)
    return float(wall), float(user) + float(system), int(kilobytes) // 1024, result.returncode


def measure(path: Path, quick: bool) -> dict[str, str]:
    """Cold and warm wall time of each command on one file, and the largest peak memory."""
    commands = {"values": ["values", str(path)]}
    if not quick:
        commands |= {"check": ["check", str(path)], "build": ["build", str(path)]}
    cells, peak = {}, 0
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder) / "project"
        subprocess.run([sys.executable, "-m", "derive", "new", str(project)], check=True,
                       capture_output=True)
        for name, command in commands.items():
            cache = Path(folder) / f"cache-{name}"
            times = []
            for _ in ("cold", "warm"):
                wall, cpu, megabytes, code = timed(command, project, cache)
                exit = "" if code == 0 else f", exit {code}"
                times.append(f"{wall:.1f} ({cpu:.1f}{exit})")
                peak = max(peak, megabytes)
            cells[name] = " / ".join(times)
    cells["peak MB"] = str(peak)
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="time `derive values` only")
    quick = parser.parse_args().quick
    columns = ["values"] if quick else ["values", "check", "build"]
    print("| file | what it pushes | " + " | ".join(f"{c} cold / warm s (CPU s)" for c in columns)
          + " | peak MB |")
    print("| --- | --- | " + " | ".join("---:" for _ in columns) + " | ---: |")
    with tempfile.TemporaryDirectory() as folder:
        for name, (pushes, shape) in worst_shapes().items():
            path = write(shape, Path(folder) / f"{name}.toml")
            cells = measure(path, quick)
            print(f"| `{name}` | {pushes} ({_summary(shape)}) | "
                  + " | ".join(cells[c] for c in columns) + f" | {cells['peak MB']} |",
                  flush=True)


def _summary(shape: Shape) -> str:
    """The shape in a few words: widths, samples, steps."""
    sizes = shape.sizes
    widths = (f"{len(sizes)} x {sizes[0]}" if len(set(sizes)) == 1 and len(sizes) > 5
              else "-".join(map(str, sizes)))
    batch = f", batch {shape.batch_size}" if shape.batch_size else ""
    return f"{widths}, N = {shape.samples:,}{batch}, {shape.steps:,} steps"


if __name__ == "__main__":
    main()
