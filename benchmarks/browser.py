"""What an interactive example page costs in chromium: training again and re-typesetting.

Run from the repository root (about a minute; needs Playwright and the chromium of
tests/browser.py):

    python benchmarks/browser.py [--write]

It builds a site of the seed and a 64-wide example of three layers (64 inputs, 64 relu, 64 tanh
units, 10 softmax classes, biases, 32 samples, 10 steps), serves it on 127.0.0.1, and measures in
chromium the median and the least time of `derive.example(name).values()` for each (calls timed
in batches, as chromium's clock is coarse), of `.mark()` of a wrong gradient, and of the seed's
page recomputing and typesetting again after one edit of a weight; on a shared machine the least
is the time undisturbed by other processes. Beside them, in the same run, a reference: the wide
example's matrix products as plain loops, and the ratio of `values()` to it. It prints a
Markdown table; `--write` also puts it into docs/performance.md between its `browser` markers.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from browser import CHROMIUM, CHROMIUM_FLAGS, serve
from course import example_file

from derive.project import new_project
from derive.site.build import build_site

PAGE = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- browser: written by benchmarks/browser.py -->", "<!-- end of browser -->"
WIDE = example_file("64 wide, three layers", [64, 64, 64, 10], ["relu", "tanh", "softmax"],
                    "cross_entropy", True, samples=32, steps=10, seed=0)
TARGETS = {"seed": 1e-3, "wide": 20e-3, "edit": 0.3}
"""The longest each measurement may take: the page must answer while the reader types."""

# The median and the least seconds of one call of `run` over `batches` batches of `calls` calls.
TIMED = """
  const timed = (run, calls, batches) => {
    const times = [];
    for (let b = 0; b < batches; b++) {
      const start = performance.now();
      for (let i = 0; i < calls; i++) run();
      times.push((performance.now() - start) / calls / 1000);
    }
    times.sort((x, y) => x - y);
    return [times[Math.floor(times.length / 2)], times[0]];
  };"""

# `values()` or `mark()` timed; `mark` marks a dL/dW1 wrong in every entry, so that every
# mistake of the catalogue is tried.
TIME = """async ([name, what, calls, batches]) => {""" + TIMED + """
  const example = derive.example(name);
  const wrong = example.values({}).steps[0].gradients.W1.map((row) => row.map((x) => x + 1));
  const run = {
    values: () => example.values({}),
    mark: () => example.mark({step: 1, quantity: "gradients.W1", entered: wrong}),
  }[what];
  return timed(run, calls, batches);
}"""

# The median and the least seconds of a reference for the example's `values()`: the matrix
# products of its run (each step's forward and backward pass, and the final loss's forward pass)
# as the plainest loops over Float64Array, i, j, then k, with nothing else. Measured in the same
# run, it gives the machine's speed at that moment: on a busy machine both slow down alike.
REFERENCE = """async ([name, calls, batches]) => {""" + TIMED + """
  const spec = derive.examples[name], sizes = spec.network.sizes;
  const shapes = [];
  const forward = (N) => sizes.slice(1).forEach((n, l) => shapes.push([n, sizes[l], N]));
  for (const batch of spec.batches) {
    const N = batch.length;
    forward(N);
    for (let l = sizes.length - 1; l >= 1; l--) {
      shapes.push([sizes[l], N, sizes[l - 1]]);
      if (l > 1) shapes.push([sizes[l - 1], sizes[l], N]);
    }
  }
  forward(spec.values.X.length);
  const filled = (n) => Float64Array.from({length: n}, (_, i) => Math.sin(i));
  const operands = shapes.map(([r, m, n]) => [filled(r * m), filled(m * n)]);
  const run = () => shapes.forEach(([r, m, n], s) => {
    const [A, B] = operands[s], C = new Float64Array(r * n);
    for (let i = 0; i < r; i++) {
      for (let j = 0; j < n; j++) {
        let total = 0;
        for (let k = 0; k < m; k++) total += A[i * m + k] * B[k * n + j];
        C[i * n + j] = total;
      }
    }
  });
  return timed(run, calls, batches);
}"""

# The median and the least seconds from one edit of W1's first entry to the page showing every
# new number.
EDIT = """async (edits) => {
  const input = document.querySelector("input[aria-label='W1 entry 1, 1']");
  const times = [];
  for (let i = 0; i < edits; i++) {
    input.value = String(0.5 + (i % 2) / 10);
    const start = performance.now();
    await derive.page.update();
    times.push((performance.now() - start) / 1000);
  }
  times.sort((x, y) => x - y);
  return [times[Math.floor(times.length / 2)], times[0]];
}"""
READY = """() => [...document.querySelectorAll(".arithmatex")]
  .every((el) => el.querySelector("mjx-container")) && window.derive && derive.page"""


def site(folder: Path) -> Path:
    """A project of the seed and the wide example, built."""
    new_project(folder)
    (folder / "examples" / "first.toml").unlink()
    (folder / "examples" / "seed.toml").write_text((ROOT / "examples" / "seed.toml").read_text())
    (folder / "examples" / "wide.toml").write_text(WIDE)
    return build_site(site_dir=folder / "site", config_file=folder / "mkdocs.yml")


def measure(base: str) -> dict[str, list[float]]:
    """The median and the least seconds of each measurement, in chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        found = {}
        for name in ("wide", "seed"):  # the seed's page last: its edits are timed there
            page.goto(f"{base}examples/{name}/", wait_until="load")
            page.wait_for_function(READY, timeout=60_000)
            page.evaluate("() => derive.page.settled")
            calls = 200 if name == "seed" else 5
            page.evaluate(TIME, [name, "values", calls, 5])  # warm-up: the JIT compiles
            found[name] = page.evaluate(TIME, [name, "values", calls, 41])
            found[f"{name} mark"] = page.evaluate(TIME, [name, "mark", calls, 41])
            if name == "wide":
                page.evaluate(REFERENCE, [name, calls, 5])
                found["reference"] = page.evaluate(REFERENCE, [name, calls, 41])
        page.evaluate(EDIT, 4)  # an even number: the first edit timed changes W1 again
        found["edit"] = page.evaluate(EDIT, 21)
        browser.close()
    return found


def _time(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms" if seconds < 1 else f"{seconds:.2f} s"


def markdown(found: dict[str, list[float]]) -> str:
    rows = [
        ("`values()` of the seed (2-3-1, 4 samples, 2 steps)", found["seed"], TARGETS["seed"]),
        ("`values()` of the 64-wide example (64-64-64-10, 32 samples, 10 steps)", found["wide"],
         TARGETS["wide"]),
        ("`mark()` of a wrong ∂L/∂W1 of the seed (every mistake tried)", found["seed mark"], None),
        ("`mark()` of a wrong ∂L/∂W1 of the 64-wide example", found["wide mark"], None),
        ("the seed's page after one edit: trained again, changed numbers typeset", found["edit"],
         TARGETS["edit"]),
    ]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    measured = f"Measured {date.today().isoformat()} in chromium, load average {load}:"
    lines = [measured, "", "| what | median | fastest | target |", "| --- | ---: | ---: | ---: |"]
    lines += [f"| {what} | {_time(median)} | {_time(least)} | "
              f"{'≤ ' + _time(target) if target else ''} |"
              for what, (median, least), target in rows]
    (median, least), (base, fastest) = found["wide"], found["reference"]
    lines += ["", (f"The reference, the 64-wide example's matrix products as plain loops (i, j, "
                   f"then k) over Float64Array, took {_time(base)} (median) and {_time(fastest)} "
                   f"(fastest) in the same run: `values()` of that example takes "
                   f"{median / base:.2f} times the reference's median and "
                   f"{least / fastest:.2f} times its fastest.")]
    return "\n".join(lines) + "\n"


def write_page(table: str) -> None:
    """Put the table between the page's `browser` markers, leaving the rest as it is."""
    text = PAGE.read_text(encoding="utf-8")
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    PAGE.write_text(f"{head}{BEGIN}\n\n{table}\n{END}{tail}", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write docs/performance.md")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch, serve(site(Path(scratch) / "project")) as base:
        table = markdown(measure(base))
    print(table)
    if arguments.write:
        write_page(table)


if __name__ == "__main__":
    main()
