"""The built site: reproducible, replaced only when a build succeeds, offline, and readable."""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from browser import opened, serve

import derive.present.pages
from derive.errors import DeriveError
from derive.site.build import build_site
from derive.site.examples import generate_example_files

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under folder by relative path, with its bytes."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_two_builds_are_byte_identical(built_site: Path, tmp_path: Path, cache: Path) -> None:
    # With an empty cache: the second build computes every example again.
    again = snapshot(build_site(site_dir=tmp_path / "site", config_file=ROOT / "mkdocs.yml"))
    first = snapshot(built_site)
    assert sorted(again) == sorted(first)
    assert [name for name in first if first[name] != again[name]] == []


def raise_for_every_example(worked, *options) -> dict[str, str]:
    """An example_files that fails, as a bad example file does."""
    raise DeriveError(f"{worked.example.path}: network.sizes: must hold at least two numbers")


def page_with_broken_link(worked, *options) -> dict[str, str]:
    """An example_files whose page MkDocs' strict mode rejects after writing the whole site."""
    return {"examples/broken.md": "---\ntitle: Broken\n---\n\n[nowhere](missing.md)\n"}


@pytest.mark.parametrize(
    ("example_files", "reason"),
    [(raise_for_every_example, "network.sizes"), (page_with_broken_link, "missing.md")],
)
def test_failed_build_leaves_previous_site_and_docs(
    built_site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, example_files, reason: str,
    cache: Path,
) -> None:
    site = tmp_path / "site"
    shutil.copytree(built_site, site)
    before, docs_before = snapshot(site), snapshot(ROOT / "docs")
    monkeypatch.setattr(derive.present.pages, "example_files", example_files)
    with pytest.raises(DeriveError, match=re.escape(reason)) as failure:
        build_site([ROOT / "examples" / "seed.toml"], site, ROOT / "mkdocs.yml")
    assert "\n" not in str(failure.value)
    assert snapshot(site) == before
    assert snapshot(ROOT / "docs") == docs_before
    assert sorted(path.name for path in tmp_path.iterdir() if path != cache) == ["site"]


class ExternalResources(HTMLParser):
    """Collects the URLs of scripts, styles, fonts, images and frames that point off the site."""

    LOADING_LINKS = frozenset(
        {"stylesheet", "preload", "modulepreload", "icon", "manifest", "prefetch"}
    )

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        urls = [values.get("src")]
        if tag == "link" and self.LOADING_LINKS & set((values.get("rel") or "").split()):
            urls.append(values.get("href"))
        self.found += [url for url in urls if url and is_external(url)]


def is_external(url: str) -> bool:
    """True for a URL that names a host (http:, https:, or protocol-relative //)."""
    return bool(urlsplit(url.strip()).netloc)


def test_no_page_or_stylesheet_loads_anything_from_outside(built_site: Path) -> None:
    found: dict[str, list[str]] = {}
    for path in built_site.rglob("*.html"):
        parser = ExternalResources()
        parser.feed(path.read_text(encoding="utf-8"))
        found[path.name] = parser.found
    for path in built_site.rglob("*.css"):
        text = path.read_text(encoding="utf-8")
        found[path.name] = [
            url
            for url in re.findall(r"""(?:url\(|@import\s+)\s*["']?([^"')\s]+)""", text)
            if is_external(url)
        ]
    assert {name: urls for name, urls in found.items() if urls} == {}
    assert (built_site / "assets" / "mathjax" / "tex-chtml.js").is_file()


def seed_page_url() -> str:
    """The site-relative URL of the page the plugin generates for examples/seed.toml."""
    pages = generate_example_files([ROOT / "examples" / "seed.toml"])
    (markdown,) = [uri for uri in pages if uri.endswith(".md")]
    return markdown.removesuffix(".md").removesuffix("/index") + "/"


# Runs in the page once MathJax has typeset it: what a reader would see, as numbers.
INSPECT_PAGE = """async () => {
  await MathJax.startup.promise;
  await document.fonts.ready;
  const math = [...document.querySelectorAll(".arithmatex")];
  const glyphs = [...document.querySelectorAll("mjx-container mjx-c")];
  const content = document.querySelector(".md-content");
  const column = content.getBoundingClientRect();
  // How far right an element shows: its box, clipped by each scrolling box around it.
  const visibleRight = (el) => {
    let right = el.getBoundingClientRect().right;
    for (let box = el; box !== content; box = box.parentElement) {
      if (getComputedStyle(box).overflowX !== "visible") {
        right = Math.min(right, box.getBoundingClientRect().right);
      }
    }
    return right;
  };
  const faces = [...document.fonts].filter((face) => face.family.startsWith("MJXTEX"));
  return {
    math: math.length,
    untypeset: math.filter((el) => !el.querySelector("mjx-container")).length,
    errors: document.querySelectorAll("mjx-merror, [data-mjx-error]").length,
    // An undefined macro is not an error: MathJax shows its name in red instead.
    red: math
      .filter((el) => [...el.querySelectorAll("mjx-container *")]
        .some((part) => getComputedStyle(part).color === "rgb(255, 0, 0)"))
      .map((el) => MathJax.startup.document.getMathItemsWithin(el)[0].math),
    text: document.body.innerText,
    // Two formulas run together (no blank line between their $$ blocks) show the dollars.
    runTogether: MathJax.startup.document.getMathItemsWithin(document.body)
      .map((item) => item.math).filter((tex) => tex.includes("$$")),
    glyphs: glyphs.length,
    // A glyph is drawn by its ::before rule; without one it is blank (DESIGN §5's pitfall).
    blank: glyphs.filter((g) => {
      const before = getComputedStyle(g, "::before").content;
      return before === "none" || before === "normal";
    }).length,
    // A formula in a block the page keeps hidden until an edit needs it has no width.
    empty: [...document.querySelectorAll("mjx-container")]
      .filter((c) => !c.closest("[hidden]") && c.getBoundingClientRect().width === 0).length,
    fonts: faces.filter((face) => face.status === "loaded").length,
    fontErrors: faces.filter((face) => face.status === "error").length,
    overflow: math.filter((el) => visibleRight(el) > column.right + 1).length,
    pageWidth: document.documentElement.scrollWidth,
    viewWidth: window.innerWidth,
  };
}"""


# What a reader of the seed page looks for, beyond the math.
INSPECT_READER = """async () => {
  const shown = (el) => !!el && el.getBoundingClientRect().width > 0
    && getComputedStyle(el).visibility !== "hidden";
  const diagram = document.querySelector(".derive-diagram svg");  // inline, to answer hover
  const curve = [...document.images].find((img) => img.alt.startsWith("Loss before each"));
  const links = [...document.querySelectorAll("a[href$='.tex'], a[href$='.json']")];
  const statuses = await Promise.all(links.map((a) => fetch(a.href).then((r) => r.status)));
  const code = [...document.querySelectorAll("pre code")]
    .find((el) => el.textContent.includes("def _lambdifygenerated"));
  const text = document.body.innerText;
  return {
    diagram: [
      shown(diagram) && diagram.querySelector("title").textContent.startsWith("Network diagram"),
      shown(curve) && curve.complete && curve.naturalWidth > 0,
    ],
    downloads: links.map((a) => a.getAttribute("href")),
    statuses: statuses,
    source: shown(code),
    // Index notation sits inside the formulas: look in MathJax's typeset items.
    entryByEntry: MathJax.startup.document.getMathItemsWithin(document.body)
      .filter((item) => item.math.includes("entry by entry") && shown(item.typesetRoot)).length,
    byHand: text.includes("One entry of each gradient, by hand"),
    gradientCheck: text.includes("Gradient check"),
    copyButtons: document.querySelectorAll("div.arithmatex + button.derive-copy").length,
    stepButtons: [...document.querySelectorAll("h2 button.derive-copy")]
      .map((button) => button.closest("h2").id),
    formulas: MathJax.startup.document.getMathItemsWithin(document.body)
      .filter((item) => item.display).length,
  };
}"""


@pytest.fixture(scope="module")
def seed_page_in_browser(built_site: Path, browser) -> dict:
    """Load the seed page once in headless chromium; what it shows, toggles and requests."""
    requests: list[str] = []
    failed: list[str] = []
    with serve(built_site) as base, opened(browser, viewport={"width": 1280, "height": 800}) as page:
        page.on("request", lambda request: requests.append(request.url))
        page.on("requestfailed", lambda request: failed.append(request.url))
        page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url}"))
        page.on("pageerror", lambda error: failed.append(f"script error: {error}"))
        page.goto(base + seed_page_url(), wait_until="load")
        page.wait_for_function(
            "() => [...document.querySelectorAll('.arithmatex')]"
            ".every((el) => el.querySelector('mjx-container'))",
            timeout=15_000,
        )
        seen = page.evaluate(INSPECT_PAGE)
        page.wait_for_selector("button.derive-copy", timeout=5_000)
        reader = page.evaluate(INSPECT_READER)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "seed.png"), full_page=True)
        scheme = page.get_attribute("body", "data-md-color-scheme")
        page.click("form[data-md-component=palette] label:visible")
        toggled = page.get_attribute("body", "data-md-color-scheme")
        page.screenshot(path=str(ARTIFACTS / "seed-dark.png"))
        page.click("input[data-md-component=search-query]")
        page.keyboard.type("gradient")
        page.wait_for_selector(".md-search-result__item", timeout=10_000)
        results = page.locator(".md-search-result__item").count()
        page.goto(base, wait_until="load")
        page.wait_for_function(
            "() => [...document.querySelectorAll('.arithmatex')]"
            ".every((el) => el.querySelector('mjx-container'))",
            timeout=15_000,
        )
        home = page.evaluate(INSPECT_PAGE)
    return {"seen": seen, "reader": reader, "requests": requests, "failed": failed,
            "schemes": (scheme, toggled), "search_results": results, "home": home}


def test_seed_page_renders_its_math_in_a_real_browser(seed_page_in_browser: dict) -> None:
    seen = seed_page_in_browser["seen"]
    assert seen["math"] > 0 and seen["untypeset"] == 0
    assert seen["errors"] == 0 and seen["red"] == []
    assert "\\begin{" not in seen["text"] and "$$" not in seen["text"]
    assert seen["runTogether"] == []
    assert seen["glyphs"] > 0 and seen["blank"] == 0 and seen["empty"] == 0
    assert seen["fonts"] > 0 and seen["fontErrors"] == 0
    assert seen["overflow"] == 0 and seen["pageWidth"] <= seen["viewWidth"]
    assert seed_page_in_browser["failed"] == []
    assert {urlsplit(url).hostname for url in seed_page_in_browser["requests"]} == {"127.0.0.1"}


def test_a_derive_block_on_the_home_page_renders_its_math(seed_page_in_browser: dict) -> None:
    home = seed_page_in_browser["home"]
    assert home["math"] > 0 and home["untypeset"] == 0
    assert home["errors"] == 0 and home["red"] == []
    assert home["glyphs"] > 0 and home["blank"] == 0


def test_seed_page_shows_the_readers_aids(seed_page_in_browser: dict) -> None:
    reader = seed_page_in_browser["reader"]
    assert reader["diagram"] == [True, True]  # network diagram and loss curve, described
    assert sorted(reader["downloads"]) == ["../seed.json", "../seed.tex"]
    assert reader["statuses"] == [200, 200]
    assert reader["source"]
    assert reader["entryByEntry"] >= 4  # one per chain-rule step
    assert reader["byHand"]
    assert reader["gradientCheck"]
    assert reader["copyButtons"] == reader["formulas"] > 0  # every formula, L and matrix
    assert reader["stepButtons"] == ["step-1-the-numbers", "step-2-the-numbers"]


def test_dark_mode_and_search_work(seed_page_in_browser: dict) -> None:
    assert seed_page_in_browser["schemes"] == ("default", "slate")
    assert seed_page_in_browser["search_results"] > 0


def test_seed_page_shows_the_notebooks_numbers_at_four_decimals(built_site: Path) -> None:
    page = (built_site / seed_page_url() / "index.html").read_text()
    for shown in ("L = 0.4916", "-0.1029", "0.6017", "L = 0.4657"):
        assert shown in page
