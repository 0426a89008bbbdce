"""Every example page fits its window at 390, 768 and 1280 px under Material, `mkdocs` and
`readthedocs`: no page scrolls sideways; each formula, matrix and table fits its box or scrolls in
a box that fades out at the edge that cuts it; at phone width a derivation wraps into its parts;
the copy buttons wear the plugin's style whatever the theme; and the network diagram's text is
drawn at least 11 px high.

Each site is built once and each page loaded once per theme, then measured at every width.
"""

from __future__ import annotations

import glob
import math
from pathlib import Path

import pytest
import yaml
from browser import open_typeset, opened, serve
from files import cache_of

from derive.site.build import build_site

ROOT = Path(__file__).resolve().parents[1]
THEMES = ("material", "mkdocs", "readthedocs")
WIDTHS = (390, 768, 1280)
EXAMPLES = sorted(path.stem for path in (ROOT / "examples").glob("*.toml"))

# Runs in a page at one width: what overflows, what shows that it scrolls, how a derivation, a
# copy button and the network diagram look.
INSPECT = """async () => {
  await MathJax.startup.promise;
  await document.fonts.ready;
  // Container queries and scroll-driven fades follow a resize at the next frames.
  await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  const style = (el) => getComputedStyle(el);
  const scrolls = (el) => ["auto", "scroll"].includes(style(el).overflowX)
    && !style(el).display.includes("table");
  const overflows = (el) => el.scrollWidth > el.clientWidth;
  // A box that scrolls shows it: at its start its right edge fades out.
  const fades = (el) => style(el).maskImage !== "none"
    && parseFloat(style(el).getPropertyValue("--derive-fade-right")) > 0;
  const scroller = (el) => {
    for (let box = el; box && box !== document.body; box = box.parentElement) {
      if (scrolls(box)) return box;
    }
    return null;
  };
  const tex = (el) => (MathJax.startup.document.getMathItemsWithin(el)[0]?.math ?? el.textContent)
    .trim().replace(/\\s+/g, " ").slice(0, 50);
  const section = (el) => document.evaluate("preceding::h2[1]", el, null,
    XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue?.id ?? "";
  const column = document.querySelector("article, [role=main]").getBoundingClientRect();
  const cut = [], fadedNeedlessly = [], derivationsWide = [];
  for (const box of document.querySelectorAll("div.arithmatex")) {
    const wide = overflows(box);
    if (wide && !(scrolls(box) && fades(box))) cut.push(tex(box));
    if (!wide && fades(box)) fadedNeedlessly.push(tex(box));
    const derivation = !!box.querySelector("mjx-container[display] > mjx-math > mjx-mtable");
    if (derivation && wide && !section(box).startsWith("cross-check")) {
      derivationsWide.push(tex(box));
    }
  }
  for (const span of document.querySelectorAll("span.arithmatex")) {
    const box = scroller(span);
    if (box === span && overflows(span) && !fades(span)) cut.push(tex(span));
    if (box === span && !overflows(span) && fades(span)) fadedNeedlessly.push(tex(span));
    if (!box && span.getBoundingClientRect().right > column.right + 1) cut.push(tex(span));
  }
  for (const table of document.querySelectorAll("table")) {
    const box = scroller(table);
    const wide = box ? overflows(box) : table.getBoundingClientRect().right > column.right + 1;
    if (wide && !(box && fades(box))) cut.push(tex(table));
  }
  // The forward pass's first row: its definition, and the same entry by entry.
  const forward = document.getElementById("forward-pass");
  let block = forward.nextElementSibling;
  while (!block.matches("div.arithmatex")) block = block.nextElementSibling;
  const cells = [...block.querySelector("mjx-mtr").children];
  const [definition, entries] = [cells[1], cells.at(-1)].map((c) => c.getBoundingClientRect());
  // The page's own button beside it, at the end of the text (beside the copy button, its
  // insertion would restyle the whole page).
  const button = document.querySelector("button.derive-copy");
  const plain = document.createElement("button");
  plain.textContent = button.textContent;
  document.querySelector("article, [role=main]").append(plain);
  const look = (el) => Object.fromEntries(["backgroundColor", "borderTopStyle", "borderTopWidth",
    "fontWeight", "fontSize", "paddingLeft"].map((name) => [name, style(el)[name]]));
  const looks = {copy: look(button), plain: look(plain)};
  plain.remove();
  // The network diagram drawn inline: its smallest text as drawn, in px.
  const svg = document.querySelector(".derive-diagram svg");
  const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
  const diagramText = Math.min(...[...svg.querySelectorAll("text")]
    .map((text) => parseFloat(style(text).fontSize) * scale));
  return {
    pageWidth: document.documentElement.scrollWidth,
    cut, fadedNeedlessly, derivationsWide, looks, diagramText,
    entryByEntry: entries.top >= definition.bottom - 1 ? "below"
      : entries.left >= definition.right - 1 ? "beside" : "overlapping",
  };
}"""


# After a resize: the theme's transitions (a drawer sliding away, a header reflowing) ended, so
# the page is measured as a reader sees it. Reading the animations brings the resized page's
# style up to date, which starts any transition; INSPECT then waits for the next frames.
SETTLED = """() => Promise.all(document.getAnimations()
  .filter((animation) => animation instanceof CSSTransition)
  .map((animation) => animation.finished.catch(() => null)))"""


def themed_site(theme: str, folder: Path) -> Path:
    """The site of every shipped example under `theme`, from a mkdocs.yml of its own."""
    (folder / "docs").mkdir(parents=True)
    (folder / "docs" / "index.md").write_text("# Examples\n\n<!-- derive:examples -->\n")
    examples = f"{glob.escape(str(ROOT / 'examples'))}/*.toml"
    config = {"site_name": "derive", "theme": {"name": theme}, "docs_dir": "docs",
              "plugins": [{"derive": {"examples": examples}}]}
    (folder / "mkdocs.yml").write_text(yaml.safe_dump(config))
    return build_site(site_dir=folder / "site", config_file=folder / "mkdocs.yml")


@pytest.fixture(scope="module")
def seen(built_site: Path, browser, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """What INSPECT finds on each example page, by (theme, example, width)."""
    sites = {"material": built_site}
    with cache_of(built_site):  # the examples as the built site computed them
        sites |= {theme: themed_site(theme, tmp_path_factory.mktemp(theme))
                  for theme in THEMES[1:]}
    found = {}
    # With reduced motion a theme's drawers and headers settle without sliding.
    with opened(browser, viewport={"width": WIDTHS[-1], "height": 900},
                reduced_motion="reduce") as page:
        for theme, site in sites.items():
            assert sorted(p.parent.name for p in site.glob("examples/*/index.html")) == EXAMPLES
            with serve(site) as base:
                for example in EXAMPLES:
                    open_typeset(page, f"{base}examples/{example}/")
                    # From the width it loaded at outwards: one resize fewer per page.
                    loaded = page.viewport_size["width"]
                    for width in sorted(WIDTHS, key=lambda width: abs(width - loaded)):
                        page.set_viewport_size({"width": width, "height": 900})
                        page.evaluate(SETTLED)
                        found[theme, example, width] = page.evaluate(INSPECT)
    return found


def test_no_page_is_wider_than_its_window(seen: dict) -> None:
    assert {key: s["pageWidth"] for key, s in seen.items() if s["pageWidth"] > key[2]} == {}


def test_a_formula_matrix_or_table_too_wide_for_its_box_scrolls_with_a_fade(seen: dict) -> None:
    assert {key: s["cut"] for key, s in seen.items() if s["cut"]} == {}


def test_a_box_that_does_not_scroll_shows_no_fade(seen: dict) -> None:
    faded = {key: s["fadedNeedlessly"] for key, s in seen.items() if s["fadedNeedlessly"]}
    assert faded == {}


def test_from_tablet_width_on_every_derivation_fits_its_box(seen: dict) -> None:
    # The forward pass, the chain rule and the hand calculations; the cross-check's expansion,
    # terms too long for any column, scrolls. At phone width a part wider than the column, a
    # fraction say, scrolls too.
    wide = {key: s["derivationsWide"] for key, s in seen.items()
            if key[2] >= 768 and s["derivationsWide"]}
    assert wide == {}


@pytest.mark.parametrize("theme", THEMES)
def test_at_phone_width_a_derivation_wraps_into_its_parts(seen: dict, theme: str) -> None:
    # The forward pass's first row: its definition, then the same entry by entry, beside it in
    # an aligned column on a desktop; on a phone below it, where the row is too wide for one line.
    placed = {width: {example: seen[theme, example, width]["entryByEntry"] for example in EXAMPLES}
              for width in WIDTHS}
    assert set(placed[1280].values()) == {"beside"}
    assert set(placed[390].values()) == {"beside", "below"}
    assert placed[390]["softmax-classifier"] == "below"


@pytest.mark.parametrize("theme", THEMES)
def test_copy_buttons_wear_the_plugins_style(seen: dict, theme: str) -> None:
    looks = [seen[theme, example, width]["looks"] for example in EXAMPLES for width in WIDTHS]
    assert all(look["copy"] != look["plain"] for look in looks)  # unlike the page's own button
    worn = {(look["copy"]["borderTopStyle"], look["copy"]["fontWeight"],
             look["copy"]["backgroundColor"]) for look in looks}
    assert worn == {("solid", "700", "rgba(0, 0, 0, 0)")}  # outlined, bold, on the page


def test_the_network_diagrams_text_is_drawn_at_least_11_px_high(seen: dict) -> None:
    small = {key: s["diagramText"] for key, s in seen.items()
             if not 11 <= s["diagramText"] < math.inf}  # a diagram without text fails too
    assert small == {}
