"""Benchmarks of derive's generated gradients, its start-up, its derivations and its build.

Run from the repository root (about 5 minutes on a 2-core machine; `--quick` for a smoke test,
`--gradients-only` to measure the gradients alone, about a minute, keeping the other results):

    python benchmarks/run.py [--quick] [--gradients-only]

In one run it measures:

1. Gradients of the seed architecture (relu hidden layer, linear output, l2 loss) at d=2, h=3 and
   N = 4, 1e3, 1e5, 1e6, and at d=64, h=256, N=1e4: `derive.gradients` against a lean
   hand-written NumPy backward pass (the reference: the seed notebook's math without its masks
   of ones), torch autograd (CPU, float64) and jax.jit(grad) (float64), where installed; each
   quiet and with one core kept busy by a process of the benchmark's own (spinning, pinned to
   that core; paused with SIGSTOP for the quiet measurements). Each repetition times every
   method once quiet and once busy, in rotating order, so a busy moment of the machine hits them
   all alike; a method's ratio is the median over repetitions of its time divided by the
   reference's in the same repetition and condition.
2. Derivation (`derive`) plus lambdify (`gradient_module`) in fresh processes, against hidden
   width (2 ... 1024) and depth (1 ... 10).
3. `from derive import dL_dW1, dL_dW2` (cache warm) against `import numpy`, each timed inside
   fresh processes, paired in the same way.
4. The wall time of `python -m derive build examples/seed.toml`.
5. A generated course of 40 small examples (see `course.py`): cold builds (on both cores and on
   one), a build with nothing changed and one after editing an example, each in fresh copies;
   the wait from saving an example to its updated page under `mkdocs serve` (with and without
   `--dirty`); and a softmax example's cold build by number of classes.

It writes the tables into docs/performance.md (between its `results` markers) and the plots
docs/performance/gradients.svg and docs/performance/derivation.svg. Generated code is cached in
a temporary directory unless DERIVE_CACHE_DIR is set. If OPENBLAS_CORETYPE or OPENBLAS_L2_SIZE
are set they slow a current NumPy; unset them for this command alone (`env -u OPENBLAS_CORETYPE
-u OPENBLAS_L2_SIZE python benchmarks/run.py`): the BLAS kernel in use is printed in the results.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Self

import course
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
if "DERIVE_CACHE_DIR" not in os.environ:  # a cache of the benchmark's own, removed at its exit
    os.environ["DERIVE_CACHE_DIR"] = tempfile.mkdtemp(prefix="derive-bench-cache-")
    atexit.register(shutil.rmtree, os.environ["DERIVE_CACHE_DIR"], ignore_errors=True)

PAGE = ROOT / "docs" / "performance.md"
FIGURES = ROOT / "docs" / "performance"
RESULTS = FIGURES / "results.json"
BEGIN, END = "<!-- results: written by benchmarks/run.py -->", "<!-- end of results -->"
CASES = [(2, 3, 4), (2, 3, 1_000), (2, 3, 100_000), (2, 3, 1_000_000), (64, 256, 10_000)]
WIDTHS = [2, 8, 32, 128, 512, 1024]
DEPTHS = range(1, 11)
FAMILIES = {
    "relu layers, linear output, l2": ("relu", "linear", "l2", False),
    "sigmoid layers with biases, bce": ("sigmoid", "sigmoid", "bce", True),
}

Method = Callable[[], object]


def lean_numpy(X, y, W1, W2):
    """The same math as the notebook's, transcribed leanly: the hand-written NumPy to beat."""
    N = X.shape[1]
    s = W1.dot(X)
    z = np.maximum(0, s)
    d = (W2.dot(z) - y) / N
    return (W2.T.dot(d) * np.where(s > 0, 1.0, 0.0)).dot(X.T), d.dot(z.T)


def torch_method(X, y, W1, W2) -> Method | None:
    """torch autograd of the seed's loss, float64 on the CPU; None when torch is missing."""
    try:
        import torch
    except ImportError:
        return None
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    W1t, W2t = (torch.tensor(W, requires_grad=True) for W in (W1, W2))
    N = X.shape[1]

    def gradients():
        loss = ((W2t @ torch.relu(W1t @ Xt) - yt) ** 2).sum() / (2 * N)
        return torch.autograd.grad(loss, (W1t, W2t))

    return gradients


def jax_method(X, y, W1, W2) -> Method | None:
    """jax.jit(jax.grad) of the seed's loss in float64; None when JAX is missing."""
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    def loss(X, y, W1, W2):
        return jnp.sum((W2 @ jax.nn.relu(W1 @ X) - y) ** 2) / (2 * X.shape[1])

    compiled = jax.jit(jax.grad(loss, argnums=(2, 3)))
    arguments = [jax.device_put(a) for a in (X, y, W1, W2)]
    return lambda: jax.block_until_ready(compiled(*arguments))


def calls_per_batch(method: Method, seconds: float) -> int:
    """How many calls take at least `seconds`, so timer resolution and call noise even out."""
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            method()
        if time.perf_counter() - start >= seconds:
            return number
        number *= 2


def paired(methods: dict[str, Method], repetitions: int, seconds: float) -> dict[str, list[float]]:
    """Seconds per call of each method in each repetition, the methods interleaved."""
    numbers = {name: calls_per_batch(method, seconds) for name, method in methods.items()}
    times: dict[str, list[float]] = {name: [] for name in methods}
    for repetition in range(repetitions):
        interleaved(methods, numbers, repetition, times)
    return times


def interleaved(methods: dict[str, Method], numbers: dict[str, int], repetition: int,
                times: dict[str, list[float]]) -> None:
    """One repetition: each method's seconds per call over `numbers` calls, in rotating order."""
    names = list(methods)
    shift = repetition % len(names)
    for name in names[shift:] + names[:shift]:
        start = time.perf_counter()
        for _ in range(numbers[name]):
            methods[name]()
        times[name].append((time.perf_counter() - start) / numbers[name])


SPIN = """import ctypes, os, signal, sys
ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: ends with the benchmark, always
if os.getppid() != int(sys.argv[2]):
    sys.exit()  # the benchmark ended before the line above
os.sched_setaffinity(0, {int(sys.argv[1])})
while True:
    pass
"""
CONDITIONS = ("quiet", "busy")


class BusyCore:
    """A process spinning on one core (the last this process may use), paused when not wanted.

    Pausing (SIGSTOP) rather than restarting lets quiet and busy repetitions alternate within
    a second, so other load on the machine falls on both alike.
    """

    def __enter__(self) -> Self:
        core = max(os.sched_getaffinity(0))
        self.process = subprocess.Popen([sys.executable, "-c", SPIN, str(core), str(os.getpid())])
        self.busy(False)
        return self

    def busy(self, on: bool) -> None:
        """Run (`on`) or pause the spinning process, then let the scheduler settle."""
        self.process.send_signal(signal.SIGCONT if on else signal.SIGSTOP)
        time.sleep(0.05)

    def __exit__(self, *exception: object) -> None:
        self.process.kill()
        self.process.wait()


def under_load(methods: dict[str, Method], repetitions: int, seconds: float,
               core: BusyCore) -> dict[str, dict[str, list[float]]]:
    """Seconds per call of each method, quiet and with `core` busy, the conditions alternating."""
    core.busy(False)
    numbers = {name: calls_per_batch(method, seconds) for name, method in methods.items()}
    times: dict[str, dict[str, list[float]]] = {c: {name: [] for name in methods}
                                                 for c in CONDITIONS}
    for repetition in range(repetitions):
        for condition in CONDITIONS[repetition % 2:] + CONDITIONS[:repetition % 2]:
            core.busy(condition == "busy")
            interleaved(methods, numbers, repetition, times[condition])
    core.busy(False)
    return times


def ratios(times: dict[str, list[float]], baseline: str) -> dict[str, float]:
    """Each method's median of per-repetition ratios to the baseline."""
    return {name: statistics.median(t / b for t, b in zip(values, times[baseline]))
            for name, values in times.items()}


REFERENCE = "lean NumPy"


def gradient_benchmarks(quick: bool) -> dict:
    """Every method's median time per call and ratio to the reference, quiet and busy, per case."""
    from derive import gradients

    rows = []
    with BusyCore() as core:
        for d, h, N in CASES:
            rng = np.random.default_rng(N)
            X, y = rng.normal(size=(d, N)), rng.normal(size=(1, N))
            W1, W2 = rng.normal(size=(h, d)) / np.sqrt(d), rng.normal(size=(1, h)) / np.sqrt(h)
            arguments = (X, y, W1, W2)
            expected = lean_numpy(*arguments)
            methods: dict[str, Method] = {
                REFERENCE: partial(lean_numpy, *arguments),
                "derive": partial(gradients, *arguments),
            }
            for name, make in (("torch autograd", torch_method), ("jax.jit(grad)", jax_method)):
                method = make(*arguments)
                if method is not None:
                    methods[name] = method
            for name, method in methods.items():
                for got, want in zip(method(), expected):
                    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-9, atol=1e-12,
                                               err_msg=name)
            repetitions = 5 if quick else (9 if N >= 100_000 else 21)
            times = under_load(methods, repetitions, 0.005 if quick else 0.02, core)
            rows.append({"case": (d, h, N), "repetitions": repetitions,
                         "times": {c: {k: statistics.median(v) for k, v in times[c].items()}
                                   for c in CONDITIONS},
                         "ratios": {c: ratios(times[c], REFERENCE) for c in CONDITIONS}})
            for condition in CONDITIONS:
                print(f"gradients d={d} h={h} N={N}, {condition}: " + ", ".join(
                    f"{k} {v:.2f}x" for k, v in rows[-1]["ratios"][condition].items()),
                      file=sys.stderr)
    return {"date": time.strftime("%Y-%m-%d"), "machine": machine(), "quick": quick, "rows": rows}


DERIVE_IN_A_FRESH_PROCESS = """
import json, sys, time
import numpy as np, sympy
from derive.compile.cache import load
from derive.compile.printer import gradient_module
from derive.compile.runtime import blocked
from derive.spec import Network
from derive.symbolic import derive
sizes, activations, loss, bias = json.loads(sys.argv[1])
network = Network(tuple(sizes), tuple(activations), loss, bias)
start = time.perf_counter()
derive(network)
derived = time.perf_counter()
source = gradient_module(network)
done = time.perf_counter()
gradients = blocked(load(source, "<bench>")["gradients"], bias=bias)
rng = np.random.default_rng(0)
parameters = []
for l in range(len(activations)):
    parameters.append(rng.normal(size=(sizes[l + 1], sizes[l])))
    if bias:
        parameters.append(rng.normal(size=sizes[l + 1]))
Y = rng.uniform(0.1, 0.9, size=(sizes[-1], 3))
shapes = [g.shape for g in gradients(rng.normal(size=(sizes[0], 3)), Y, *parameters)]
assert shapes == [p.shape if p.ndim == 2 else (p.size, 1) for p in parameters], shapes
print(json.dumps([derived - start, done - derived]))
"""


def derivation_time(sizes: list[int], activations: list[str], loss: str, bias: bool) -> tuple[float, float]:
    """(derivation, lambdify) seconds in a fresh process: no SymPy or derive cache is warm."""
    argument = json.dumps([sizes, activations, loss, bias])
    result = subprocess.run([sys.executable, "-c", DERIVE_IN_A_FRESH_PROCESS, argument],
                            capture_output=True, text=True, check=True, cwd=ROOT, env=_env())
    derived, lambdified = json.loads(result.stdout)
    return derived, lambdified


def derivation_benchmarks(quick: bool) -> dict:
    repetitions = 1 if quick else 3

    def median_time(sizes, activations, loss, bias):
        runs = [derivation_time(sizes, activations, loss, bias) for _ in range(repetitions)]
        return tuple(statistics.median(r[i] for r in runs) for i in range(2))

    by_width = {h: median_time([16, h, 1], ["relu", "linear"], "l2", False) for h in WIDTHS}
    print(f"derivation by width: {by_width}", file=sys.stderr)
    by_depth = {}
    for family, (hidden, output, loss, bias) in FAMILIES.items():
        by_depth[family] = {
            depth: median_time([8] * depth + [1], [hidden] * (depth - 1) + [output], loss, bias)
            for depth in DEPTHS}
        print(f"derivation by depth, {family}: {by_depth[family]}", file=sys.stderr)
    return {"width": by_width, "depth": by_depth, "repetitions": repetitions}


IMPORT_TIMED = "import time; start = time.perf_counter(); {}; print(time.perf_counter() - start)"


def import_benchmarks(quick: bool) -> dict:
    """Import times measured inside fresh processes (interpreter start-up excluded), paired."""
    statements = {"import numpy": "import numpy",
                  "from derive import dL_dW1, dL_dW2": "from derive import dL_dW1, dL_dW2"}
    subprocess.run([sys.executable, "-c", "from derive import dL_dW1"], check=True, cwd=ROOT,
                   env=_env())  # warm the cache: the miss derives once
    times: dict[str, list[float]] = {name: [] for name in statements}
    for _ in range(5 if quick else 21):
        for name, statement in statements.items():
            result = subprocess.run([sys.executable, "-c", IMPORT_TIMED.format(statement)],
                                    capture_output=True, text=True, check=True, cwd=ROOT,
                                    env=_env())
            times[name].append(float(result.stdout))
    found = {"times": {k: statistics.median(v) for k, v in times.items()},
             "ratio": ratios(times, "import numpy")["from derive import dL_dW1, dL_dW2"]}
    print(f"imports: {found}", file=sys.stderr)
    return found


def build_benchmark(quick: bool) -> dict:
    """Median wall time of `python -m derive build examples/seed.toml` into a temporary site."""
    walls = []
    repetitions = 1 if quick else 3
    with tempfile.TemporaryDirectory() as site:
        for _ in range(repetitions):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "derive", "build", "examples/seed.toml",
                            "--site-dir", str(Path(site) / "site")], check=True, cwd=ROOT,
                           env=_env(), capture_output=True)
            walls.append(time.perf_counter() - start)
    print(f"build: {walls}", file=sys.stderr)
    return {"wall": statistics.median(walls), "repetitions": repetitions}


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def machine() -> str:
    """One line on what was measured with: CPU count, Python, NumPy and its BLAS, torch, JAX."""
    from threadpoolctl import threadpool_info

    parts = [f"{os.cpu_count()} cores", f"Python {platform.python_version()}",
             f"NumPy {np.__version__}"]
    parts += [f"{i['internal_api']} {i['version']} ({i.get('architecture')}, "
              f"{i['num_threads']} threads)" for i in threadpool_info() if i["user_api"] == "blas"]
    for module in ("sympy", "torch", "jax"):
        try:
            parts.append(f"{module} {__import__(module).__version__}")
        except ImportError:
            parts.append(f"{module} not installed")
    return ", ".join(parts)


def _time(seconds: float) -> str:
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table: the first column left-aligned, the others right-aligned (numbers)."""
    lines = ["| " + " | ".join(header) + " |",
             "| --- | " + " | ".join("---:" for _ in header[1:]) + " |"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def markdown(results: dict) -> str:
    """The results as Markdown: a line on the machine, then a table per measurement."""
    derivation, imports, build = results["derivation"], results["imports"], results["build"]
    quick = " (a quick run: few repetitions)" if results["quick"] else ""
    lines = [f"Measured {results['date']} on: {results['machine']}{quick}.", ""]
    lines += gradient_markdown(results["gradients"], results["machine"])

    lines += [("**Derivation + lambdify** in a fresh process (SymPy imported, nothing derived "
                   "yet): `derive(network)` + `gradient_module(network)`, median of "
                   f"{derivation['repetitions']}."), ""]
    lines += table(["hidden width h (16-h-1 relu, linear, l2)", *derivation["width"]],
                   [["derivation + lambdify",
                     *(f"{_time(a)} + {_time(b)}" for a, b in derivation["width"].values())]])
    lines.append("")
    families = derivation["depth"]
    depths = next(iter(families.values()))
    lines += table(["layers", *families], [
        [depth, *(f"{_time(f[depth][0])} + {_time(f[depth][1])}" for f in families.values())]
        for depth in depths])

    numpy_time, derive_time = imports["times"].values()
    lines += ["", ("**Start-up**, timed inside fresh processes (the interpreter's own start "
                   "excluded; the generated code cached), median of paired runs:"), ""]
    lines += table(["import", "time", "ratio"], [
        ["`import numpy`", _time(numpy_time), "1"],
        ["`from derive import dL_dW1, dL_dW2`", _time(derive_time), f"{imports['ratio']:.2f}x"]])
    lines += ["", (f"**Build**: `python -m derive build examples/seed.toml` takes "
                   f"{_time(build['wall'])} wall (median of {build['repetitions']})."), ""]
    return "\n".join(lines + course_markdown(results))


def gradient_markdown(gradients: dict, machine: str) -> list[str]:
    """The gradient table: each method's time and ratio to the reference, quiet and busy."""
    rows = gradients["rows"]
    methods = list(rows[0]["ratios"]["quiet"])
    measured = f" {gradients['date']}" + (f" on: {gradients['machine']}"
                                          if gradients["machine"] != machine else "")
    quick = ", a quick run" if gradients["quick"] else ""
    repetitions = sorted({row["repetitions"] for row in rows})
    lines = [(f"**Gradients of the seed architecture** (measured{measured}{quick}): median time "
              "per call, and in brackets the median ratio to the lean hand-written NumPy "
              "measured in the same repetitions; *quiet*, and *busy* with another process "
              "spinning on one of the cores, the two alternating within each repetition "
              f"(medians of {' to '.join(map(str, repetitions))} repetitions)."), ""]
    header = ["d, h, N"] + [f"{m}, {c}" for m in methods for c in CONDITIONS]
    lines += table(header, [
        [f"{row['case'][0]}, {row['case'][1]}, {row['case'][2]:,}",
         *(_time(row["times"][c][m]) if m == REFERENCE
           else f"{_time(row['times'][c][m])} ({row['ratios'][c][m]:.2f}x)"
           for m in methods for c in CONDITIONS)]
        for row in rows])
    return [*lines, ""]


def course_markdown(results: dict) -> list[str]:
    """The course, serve and class-count tables."""
    built, served, classes = results["course"], results["serve"], results["classes"]
    lines = [(f"**A course of {built['examples']} examples** (four architectures, hidden widths "
              "2-5, 8 samples, 3 steps): `python -m derive build` in a fresh copy with an empty "
              f"cache, then again; median wall time of {built['repetitions']}, and the median "
              "ratio to the cold build of the same copy."), ""]
    lines += table(["build", "wall", "ratio to cold"], [
        [name, _time(built["walls"][name]), f"{built['ratios'][name]:.2f}x"]
        for name in built["walls"]])
    lines += ["", ("**Live edits**: seconds from saving one example of the served course to its "
                   "page being served with the change (MkDocs looks for changes every 0.5 s)."),
              ""]
    lines += table(["server", "median", "slowest", "edits"], [
        [f"`{mode}`", _time(found["median"]), _time(found["max"]), str(found["edits"])]
        for mode, found in served.items()])
    lines += ["", ("**Classes**: cold `python -m derive build` of one softmax example (4 inputs, "
                   "8 relu units, 16 samples, 2 steps) by its number of classes."), ""]
    lines += table(["classes", "wall", "page"], [
        [str(k), _time(found["wall"]), f"{found['page_bytes'] / 1024:.0f} KiB"]
        for k, found in classes.items()])
    return [*lines, ""]


def write_page(results: str) -> None:
    """Put the results between the page's markers, leaving the hand-written text as it is."""
    text = PAGE.read_text(encoding="utf-8")
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    PAGE.write_text(f"{head}{BEGIN}\n\n{results}\n{END}{tail}", encoding="utf-8")


def plots(results: dict) -> None:
    """gradients.svg (ratios to hand-written NumPy) and derivation.svg (time by width, depth)."""
    gradient_rows, derivation = results["gradients"]["rows"], results["derivation"]
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is not installed: no plots", file=sys.stderr)
        return
    matplotlib.use("svg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "derive", "font.size": 10})
    FIGURES.mkdir(parents=True, exist_ok=True)
    methods = [m for m in gradient_rows[0]["ratios"]["quiet"] if m != REFERENCE]
    labels = [f"d={d} h={h}\nN={N:,}" for d, h, N in (r["case"] for r in gradient_rows)]
    figure, panels = plt.subplots(2, 1, figsize=(8, 6.4), sharex=True, sharey=True)
    width = 0.8 / len(methods)
    for axes, condition in zip(panels, CONDITIONS):
        for i, method in enumerate(methods):
            positions = [x + (i - (len(methods) - 1) / 2) * width for x in range(len(labels))]
            axes.bar(positions, [r["ratios"][condition][method] for r in gradient_rows], width,
                     label=method)
        axes.axhline(1, color="black", linewidth=1, label="lean hand-written NumPy")
        axes.set_yscale("log")
        axes.set_yticks([0.1, 0.25, 0.5, 1, 2, 5, 10, 20],
                        ["0.1", "0.25", "0.5", "1", "2", "5", "10", "20"])
        axes.minorticks_off()
        axes.set_ylabel("time / lean NumPy")
        axes.set_title(f"{condition}" + (": another process spinning on one core"
                                          if condition == "busy" else ""), fontsize=10)
    panels[-1].set_xticks(range(len(labels)), labels)
    panels[0].legend(fontsize=8, ncols=3)
    figure.suptitle("Seed gradients: median ratio to lean hand-written NumPy (lower is faster)")
    figure.tight_layout()
    figure.savefig(FIGURES / "gradients.svg", metadata={"Date": None})
    plt.close(figure)

    figure, (by_width, by_depth) = plt.subplots(1, 2, figsize=(8, 3.4), sharey=True)
    widths = [int(h) for h in derivation["width"]]
    by_width.plot(widths, [sum(t) for t in derivation["width"].values()], "o-", label="total")
    by_width.plot(widths, [t[0] for t in derivation["width"].values()], "s--", label="derivation")
    by_width.set_xscale("log", base=2)
    by_width.set_xlabel("hidden width (16-h-1, relu)")
    by_width.set_ylabel("seconds")
    for family, values in derivation["depth"].items():
        depths = [int(depth) for depth in values]
        by_depth.plot(depths, [sum(t) for t in values.values()], "o-", label=f"{family}: total")
        by_depth.plot(depths, [t[0] for t in values.values()], "s--",
                      label=f"{family}: derivation")
    by_depth.set_xlabel("layers")
    for axes in (by_width, by_depth):
        axes.axhline(1, color="grey", linewidth=0.8)
        axes.set_ylim(bottom=0)
        axes.legend(fontsize=7)
    figure.suptitle("Derivation + lambdify in a fresh process")
    figure.tight_layout()
    figure.savefig(FIGURES / "derivation.svg", metadata={"Date": None})
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repetitions (a smoke test)")
    parser.add_argument("--render", action="store_true",
                        help=f"only rewrite the page and plots from {RESULTS.relative_to(ROOT)}")
    parser.add_argument("--gradients-only", action="store_true",
                        help="measure the gradients alone, keeping the other results")
    options = parser.parse_args()
    if options.gradients_only and not options.render:
        results = json.loads(RESULTS.read_text(encoding="utf-8"))
        results["gradients"] = gradient_benchmarks(options.quick)
        RESULTS.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    elif not options.render:
        quick = options.quick
        results = {
            "date": time.strftime("%Y-%m-%d"), "machine": machine(), "quick": quick,
            "gradients": gradient_benchmarks(quick),
            "derivation": derivation_benchmarks(quick),
            "imports": import_benchmarks(quick),
            "build": build_benchmark(quick),
            "course": course.course_benchmark(_env, quick),
            "serve": course.serve_benchmark(_env, quick),
            "classes": course.classes_benchmark(_env, quick),
        }
        FIGURES.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    results = json.loads(RESULTS.read_text(encoding="utf-8"))
    write_page(markdown(results))
    plots(results)
    print(f"wrote {RESULTS.relative_to(ROOT)}, {PAGE.relative_to(ROOT)} and the plots in "
          f"{FIGURES.relative_to(ROOT)}/", file=sys.stderr)


if __name__ == "__main__":
    main()
