"""Benchmarks of whole sites: a generated course of many small examples, built and served, and a
softmax example built at growing numbers of classes.

Every build is `python -m derive build` in a fresh process, as a teacher runs it; every course is
a fresh copy with its own empty cache folder, so "cold" means nothing derived or rendered yet.
"""

from __future__ import annotations

import contextlib
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

ARCHITECTURES = (
    # (hidden activation, output activation, loss, biases)
    ("relu", "linear", "l2", False),
    ("sigmoid", "sigmoid", "bce", True),
    ("tanh", "linear", "mse", True),
    ("relu", "softmax", "cross_entropy", True),
)
"""The course's four architectures, taken in turn; hidden widths run through 2 to 5."""

COURSE_EXAMPLES = 40
CLASSES = (3, 10, 100, 1000)


def _rows(matrix: np.ndarray) -> str:
    return "[" + ", ".join("[" + ", ".join(f"{v:.3f}" for v in row) + "]" for row in matrix) + "]"


def course_example(index: int, samples: int = 8, steps: int = 3) -> str:
    """Example `index` of the course: 2 inputs, a hidden width of 2-5, 8 samples, 3 steps."""
    hidden, output, loss, bias = ARCHITECTURES[index % len(ARCHITECTURES)]
    width, classes = 2 + (index // len(ARCHITECTURES)) % 4, 3 if output == "softmax" else 1
    return example_file(f"Example {index + 1}", [2, width, classes], [hidden, output], loss,
                            bias, samples, steps, seed=index)


def example_file(title: str, sizes: list[int], activations: list[str], loss: str, bias: bool,
                     samples: int, steps: int, seed: int) -> str:
    """An example file with random data and weights drawn from `seed`."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(samples, sizes[0]))
    if loss == "bce":
        Y = rng.integers(0, 2, size=(samples, 1)).astype(float)
    elif loss == "cross_entropy":
        Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], size=samples)]
    else:
        Y = rng.normal(size=(samples, sizes[-1]))
    lines = [f'title = "{title}"', "", "[network]", f"sizes = {sizes}",
             "activations = [" + ", ".join(f'"{a}"' for a in activations) + "]",
             f'loss = "{loss}"', f"bias = {str(bias).lower()}", "", "[data]",
             f"X = {_rows(X)}", f"y = {_rows(Y)}", "", "[weights]"]
    for layer in range(1, len(sizes)):
        weights = rng.normal(size=(sizes[layer], sizes[layer - 1])) / np.sqrt(sizes[layer - 1])
        lines.append(f"W{layer} = {_rows(weights)}")
        if bias:
            lines.append(f"b{layer} = [{', '.join('0.1' for _ in range(sizes[layer]))}]")
    lines += ["", "[training]", "learning_rate = 0.1", f"steps = {steps}", ""]
    return "\n".join(lines)


def write_course(folder: Path, count: int = COURSE_EXAMPLES) -> list[Path]:
    """A project made by `derive new` holding `count` course examples instead of its first."""
    subprocess.run([sys.executable, "-m", "derive", "new", str(folder)], check=True,
                   capture_output=True)
    (folder / "examples" / "first.toml").unlink()
    paths = []
    for index in range(count):
        path = folder / "examples" / f"example-{index + 1:02d}.toml"
        path.write_text(course_example(index))
        paths.append(path)
    return paths


def edit(path: Path, marker: str) -> None:
    """Change an example as a teacher would: its title."""
    path.write_text(re.sub(r'title = "[^"]*"', f'title = "{marker}"', path.read_text()))


ON_ONE_CORE = ("import os, runpy; os.sched_setaffinity(0, {0}); "
               "runpy.run_module('derive', run_name='__main__', alter_sys=True)")
"""`python -m derive` confined to one core before it starts (no fork of this process needed)."""


def _build(folder: Path, env: dict[str, str], *arguments: str,
           one_core: bool = False) -> float:
    """Wall seconds of `python -m derive build` in `folder` (on one core if asked)."""
    program = ["-c", ON_ONE_CORE] if one_core else ["-m", "derive"]
    start = time.perf_counter()
    subprocess.run([sys.executable, *program, "build", *arguments], cwd=folder, env=env,
                   check=True, capture_output=True)
    return time.perf_counter() - start


def course_benchmark(env: Callable[[], dict[str, str]], quick: bool) -> dict:
    """Cold, unchanged and one-edit builds of a fresh course, and a cold build on one core;
    each repetition in a fresh copy with an empty cache, ratios to that repetition's cold build."""
    walls: dict[str, list[float]] = {"cold": [], "cold, one core": [], "nothing changed": [],
                                     "one example edited": []}
    for repetition in range(1 if quick else 3):
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch) / "course"
            paths = write_course(folder)
            fresh = {**env(), "DERIVE_CACHE_DIR": str(Path(scratch) / "cache")}
            walls["cold"].append(_build(folder, fresh))
            walls["nothing changed"].append(_build(folder, fresh))
            edit(paths[len(paths) // 2], f"Edited {repetition}")
            walls["one example edited"].append(_build(folder, fresh))
            alone = {**env(), "DERIVE_CACHE_DIR": str(Path(scratch) / "cache-one-core")}
            walls["cold, one core"].append(_build(folder, alone, one_core=True))
    found = {"examples": COURSE_EXAMPLES, "repetitions": len(walls["cold"]),
             "walls": {k: statistics.median(v) for k, v in walls.items()},
             "ratios": {k: statistics.median(a / b for a, b in zip(v, walls["cold"]))
                        for k, v in walls.items()}}
    print(f"course: {found}", file=sys.stderr)
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def _serving(folder: Path, env: dict[str, str], *options: str) -> Iterator[str]:
    """`mkdocs serve` of `folder` on a free port until the block ends; yields its address."""
    address = f"127.0.0.1:{_free_port()}"
    with open(folder / "serve.log", "w") as log:
        server = subprocess.Popen([sys.executable, "-m", "mkdocs", "serve", "-a", address,
                                   *options], cwd=folder, env=env, stdout=log, stderr=log)
        try:
            yield f"http://{address}/"
        finally:
            server.terminate()
            server.wait(timeout=30)


def _wait_for(url: str, text: str = "", limit: float = 120) -> float:
    """Seconds until `url` is served with `text` in it, asked every 10 ms."""
    start = time.perf_counter()
    while True:
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=10) as response:
            if text in response.read().decode():
                return time.perf_counter() - start
        if time.perf_counter() - start > limit:
            raise TimeoutError(f"{url} was not served with {text!r} within {limit} s")
        time.sleep(0.01)


def serve_benchmark(env: Callable[[], dict[str, str]], quick: bool) -> dict:
    """Seconds from saving one example of a served 40-example course to its page being served
    with the change (MkDocs polls for changes every 0.5 s), with and without `--dirty`."""
    edits = 3 if quick else 7
    found = {}
    for mode, options in (("mkdocs serve", ()), ("mkdocs serve --dirty", ("--dirty",))):
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch) / "course"
            paths = write_course(folder)
            fresh = {**env(), "DERIVE_CACHE_DIR": str(Path(scratch) / "cache")}
            _build(folder, fresh)  # the cache is warm, as after a first build
            edited = paths[len(paths) // 2]
            with _serving(folder, fresh, *options) as base:
                url = f"{base}examples/{edited.stem}/"
                _wait_for(url)
                time.sleep(3)  # the imports `mkdocs serve` starts in the background
                waits = []
                for number in range(edits):
                    marker = f"Edited {number}"
                    edit(edited, marker)
                    waits.append(_wait_for(url, marker))
                    time.sleep(1)
        found[mode] = {"median": statistics.median(waits), "max": max(waits), "edits": edits}
    print(f"serve: {found}", file=sys.stderr)
    return found


def classes_benchmark(env: Callable[[], dict[str, str]], quick: bool) -> dict:
    """Cold build of one softmax example (4 inputs, 8 relu units, 16 samples, 2 steps) by the
    number of classes, and the size of its page."""
    found = {}
    for classes in CLASSES[:2] if quick else CLASSES:
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch) / "course"
            write_course(folder, count=0)
            example = folder / "examples" / f"classes-{classes}.toml"
            example.write_text(example_file(
                f"{classes} classes", [4, 8, classes], ["relu", "softmax"], "cross_entropy",
                True, samples=16, steps=2, seed=classes))
            fresh = {**env(), "DERIVE_CACHE_DIR": str(Path(scratch) / "cache")}
            wall = _build(folder, fresh)
            page = folder / "site" / "examples" / example.stem / "index.html"
            found[classes] = {"wall": wall, "page_bytes": page.stat().st_size}
    print(f"classes: {found}", file=sys.stderr)
    return found
