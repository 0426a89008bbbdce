"""The warning "Within rounding of a kink" on an interactive page follows the reader's edits: it
lists the near kinks of the edited run as derive writes them for a file with those numbers, and
is hidden when the run has none."""

from __future__ import annotations

import contextlib
import html
import io
import json
import math
import re
import tomllib
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from browser import open_typeset, opened, serve

from derive.cli import main
from derive.present.latex import scientific
from derive.project import new_project
from derive.site.build import build_site

ROOT = Path(__file__).resolve().parents[1]
SEED = tomllib.loads((ROOT / "examples" / "seed.toml").read_text())

# The warning as the page shows it: whether it is visible, and each entry of its list that is
# visible, as its Markdown writes it ($TeX$ for a formula), with whether its formulas typeset.
WARNING = """() => {
  const box = document.querySelector(".derive-kinks");
  const text = (li) => [...li.childNodes].map((node) => {
    if (node.nodeType === Node.TEXT_NODE) return node.textContent;
    const item = MathJax.startup.document.getMathItemsWithin(node)[0];
    return item ? `$${item.math.trim()}$` : `untypeset ${node.textContent}`;
  }).join("");
  const items = [...box.querySelectorAll("li")].filter((li) => li.checkVisibility());
  return {shown: box.checkVisibility(), items: items.map(text),
          errors: box.querySelectorAll("mjx-merror").length};
}"""


def cancelling_row(X: list[list[float]]) -> tuple[list[float], int]:
    """A row of W1 whose pre-activation of some sample is exactly 0 in floats however its sum is
    rounded (an FMA included): [1, -r] for a sample whose first feature is exactly r times its
    second, r a power of two, so that both products are exact; and that sample's index."""
    for j, (first, second) in enumerate(X):
        if second == 0:
            continue
        ratio = first / second
        if math.frexp(ratio)[0] in (0.5, -0.5) and Fraction(first) == ratio * Fraction(second):
            return [1.0, -ratio], j
    raise AssertionError("no sample of the seed has features a power of two apart")


ROW, SAMPLE = cancelling_row(SEED["data"]["X"])
KINKED_W1 = [ROW, *SEED["weights"]["W1"][1:]]


def values_of(path: Path) -> dict[str, Any]:
    """`python -m derive values PATH`, its JSON."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["values", str(path)]) == 0
    return json.loads(out.getvalue())


def built_warning(page: str) -> list[str]:
    """The entries of the warning of a page the Python build wrote, as WARNING reads them."""
    block = re.search(r'<div class="derive-live derive-kinks"[^>]*>(.*?)</div>\n</div>', page,
                      re.DOTALL)
    assert block, "the page has no warning container"
    math_ = re.compile(r'<span class="arithmatex">\\\((.*?)\\\)</span>')
    return [html.unescape(math_.sub(lambda m: f"${m[1]}$", item))
            for item in re.findall(r"<li>(.*?)</li>", block[1], re.DOTALL)]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A project of the seed and of the seed with KINKED_W1 (a pre-activation exactly 0), built
    once; the pages the build wrote and `derive values` of the kinked file."""
    folder = tmp_path_factory.mktemp("kinks") / "project"
    new_project(folder)
    (folder / "examples" / "first.toml").unlink()
    text = (ROOT / "examples" / "seed.toml").read_text()
    (folder / "examples" / "seed.toml").write_text(text)
    kinked = folder / "examples" / "kinked.toml"
    w1 = f"W1 = {json.dumps(KINKED_W1)}"
    kinked.write_text(re.sub(r"^W1 = .*$", w1, text, flags=re.MULTILINE))
    built = build_site(site_dir=folder / "site", config_file=folder / "mkdocs.yml")
    return {"dir": built, "values": values_of(kinked),
            "pages": {name: (built / "examples" / name / "index.html").read_text()
                      for name in ("seed", "kinked")}}


@pytest.fixture(scope="module")
def served(site, browser) -> Iterator[tuple[Any, str]]:
    """The site served, and a page of it; its script errors fail the test."""
    errors: list[str] = []
    with serve(site["dir"]) as base, opened(browser, viewport={"width": 1280, "height": 900}) as page:
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page, base
    assert errors == []


def type_w1(page: Any, row: list[float]) -> dict[str, Any]:
    """Type `row` as W1's first row, recompute, and what the warning then shows."""
    for j, entry in enumerate(row, start=1):
        page.fill(f"input[aria-label='W1 entry 1, {j}']", repr(entry))
    page.evaluate("() => derive.page.update()")
    return page.evaluate(WARNING)


def reset(page: Any) -> dict[str, Any]:
    page.click("button.derive-reset")
    page.evaluate("() => derive.page.settled")
    return page.evaluate(WARNING)


def test_scientific_in_the_page_is_pythons(served):
    rng = np.random.default_rng(19)
    values = [0.0, -0.0, 1.0, -1.0, 0.125, 1.25, 125.0, -1.25e-16, 9.95, 9.995, 9.9999, 0.5e-16,
              5.551115123125783e-17, 2.220446049250313e-16, 1e-300, 1e300, -7.5e250,
              5e-324, -1e-320, 2.2250738585072014e-308, 1e-310]
    values += [float(np.nextafter(10.0 ** k, side)) for k in range(-300, 301, 23)
               for side in (0.0, np.inf)]
    values += [float(10.0 ** k) for k in range(-300, 301, 13)]
    values += list(rng.choice([-1.0, 1.0], 200) * 10.0 ** rng.uniform(-300, 300, 200))
    values += list(rng.integers(-99999, 99999, 100) / 10.0 ** rng.integers(0, 20, 100))
    cases = [(value, digits) for value in values for digits in range(5)]
    page, base = served
    open_typeset(page, base + "examples/seed/")
    got = page.evaluate("(cases) => cases.map(([x, d]) => scientific(x, d))", cases)
    assert [scientific(value, digits) for value, digits in cases] == got


def test_an_edit_onto_a_kink_shows_the_warning_derive_writes_for_the_edited_file(site, served):
    steps = site["values"]["steps"]
    flagged = [k for step in steps for k in step.get("near_kinks", [])]
    planted = {"quantity": "intermediates.S1", "entry": [0, SAMPLE], "value": 0.0}
    assert any(k.items() >= planted.items() for k in flagged)
    page, base = served
    open_typeset(page, base + "examples/seed/")
    assert page.evaluate(WARNING) == {"shown": False, "items": [], "errors": 0}
    edited = type_w1(page, ROW)
    expected = built_warning(site["pages"]["kinked"])
    assert len(expected) == len(flagged)
    assert edited == {"shown": True, "items": expected, "errors": 0}
    assert reset(page) == {"shown": False, "items": [], "errors": 0}


def test_an_edit_off_the_kinks_hides_the_files_warning_and_reset_restores_it(site, served):
    page, base = served
    open_typeset(page, base + "examples/kinked/")
    built = built_warning(site["pages"]["kinked"])
    assert built and page.evaluate(WARNING) == {"shown": True, "items": built, "errors": 0}
    assert built_warning(site["pages"]["seed"]) == []
    assert type_w1(page, SEED["weights"]["W1"][0]) == {"shown": False, "items": [], "errors": 0}
    assert reset(page) == {"shown": True, "items": built, "errors": 0}
