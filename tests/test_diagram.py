"""The network diagram reads: each weight is written on its own edge, clear of the other weights
and of the units, in text of 11 px or more on a 390 px wide phone; a layer too dense for that
shows each weight when its edge is hovered or focused; the LaTeX document draws the same
picture in TikZ and still compiles."""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path

import pytest
from browser import opened
from test_latex import compile_tex

from derive.present.figures import Layout, network_diagram, network_layout, network_tikz
from derive.present.options import DEFAULTS, RenderOptions
from derive.present.render import render
from derive.present.view import view
from derive.project import new_project
from derive.site.build import build_site
from derive.spec import Example, load_example
from derive.worked import worked_example

ROOT = Path(__file__).resolve().parents[1]
MAZUR = "sigmoid-frozen-biases"  # Mazur's step-by-step example, with his post's numbers
SHIPPED = ("seed", "softmax-classifier", MAZUR)
FOUR = """title = "A 4-4-4 network with biases"
[network]
sizes = [4, 4, 4]
activations = ["tanh", "sigmoid"]
loss = "mse"
bias = true
[data]
X = [[0.5, -0.5, 1.0, 0.25]]
y = [[0.1, 0.2, 0.3, 0.4]]
[weights]
W1 = [[0.15, -0.2, 0.25, -0.3], [0.35, 0.4, -0.45, 0.5], [-0.55, 0.6, 0.65, -0.7],
      [0.75, -0.8, 0.85, 0.9]]
b1 = [0.1, -0.2, 0.3, -0.4]
W2 = [[-0.9, 0.8, -0.7, 0.6], [0.5, -0.4, 0.3, -0.2], [0.1, 0.2, -0.3, 0.4],
      [-0.5, -0.6, 0.7, 0.8]]
b2 = [0.5, -0.5, 0.25, -0.25]
[training]
learning_rate = 0.5
steps = 1
"""
CLEARANCE = 8  # px: no other edge passes nearer the centre of a written weight
PHONE, LAPTOP = 390, 1280


def network(folder: Path, sizes: tuple[int, ...], bias: bool, weights: str = "") -> Example:
    """An example of the given layer sizes, its weights drawn (xavier) unless given."""
    path = folder / f"net-{'-'.join(map(str, sizes))}{'-bias' if bias else ''}.toml"
    path.write_text(f"""[network]
sizes = {list(sizes)}
activations = {["tanh"] * (len(sizes) - 1)}
loss = "mse"
bias = {str(bias).lower()}
[data]
X = [{[0.5] * sizes[0]}]
y = [{[0.5] * sizes[-1]}]
[weights]
{weights or 'init = "xavier_uniform"'}
[training]
learning_rate = 0.1
steps = 1
""")
    return load_example(path)


def distance(point: tuple[float, float], segment: tuple[float, ...]) -> float:
    """The distance from a point to a line segment."""
    (px, py), (x1, y1, x2, y2) = point, segment
    dx, dy = x2 - x1, y2 - y1
    along = max(0.0, min(1.0, ((px - x1) * dx + (py - y1) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - x1 - along * dx, py - y1 - along * dy)


def meet(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    """Whether two boxes (left, top, right, bottom) intersect."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def centre(box: tuple[float, ...]) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def misplaced(labels: list[dict], nodes: list[tuple[float, ...]],
              clearance: float = CLEARANCE) -> list[str]:
    """What is wrong with labels shown together (`box`, own `segment`, `others`' segments)
    among node boxes: overlapping labels, a label on a node, a label's centre off its own edge
    or within `clearance` of another edge (give or take the browser's 1.5 px)."""
    faults = [f"{a['text']} meets {b['text']}"
              for a, b in itertools.combinations(labels, 2) if meet(a["box"], b["box"])]
    for label in labels:
        faults += [f"{label['text']} on a node" for node in nodes if meet(label["box"], node)]
        own = distance(centre(label["box"]), label["segment"])
        nearest = min((distance(centre(label["box"]), s) for s in label["others"]), default=99)
        if not own <= 1.5 < clearance - 1.5 <= nearest:
            faults.append(f"{label['text']}: {own:.1f} px from its edge, "
                          f"{nearest:.1f} from another")
    return faults


def layout_labels(layout: Layout, written: bool) -> list[dict]:
    """The layout's written (or hover-only) weights as `misplaced` takes them."""
    return [{"text": e.text, "box": e.rectangle, "segment": e.segment,
             "others": [o.segment for o in layout.edges
                        if o is not e and o.target.layer == e.target.layer]}
            for e in layout.edges if e.written == written]


def node_boxes(layout: Layout) -> list[tuple[float, ...]]:
    r = layout.radius
    return [(n.x - r, n.y - r, n.x + r, n.y + r) for n in layout.nodes if n.kind != "ellipsis"]


def layers(layout: Layout) -> dict[int, list]:
    """The edges into each layer."""
    into: dict[int, list] = {}
    for edge in layout.edges:
        into.setdefault(edge.target.layer, []).append(edge)
    return into


# The geometry, in Python.

@pytest.mark.parametrize("width", range(1, DEFAULTS.max_units + 1))
def test_weights_are_written_apart_on_their_own_edges_at_every_size(width, tmp_path):
    for other, bias in itertools.product(range(1, DEFAULTS.max_units + 1), (False, True)):
        layout = network_layout(network(tmp_path, (width, other, width), bias), DEFAULTS)
        assert misplaced(layout_labels(layout, written=True), node_boxes(layout)) == []
        for edges in layers(layout).values():  # every layer that may write its weights does
            assert all(e.written for e in edges) == (len(edges) <= DEFAULTS.max_labelled_edges)
        for label in layout_labels(layout, written=False):  # shown alone, on hover or focus
            assert misplaced([label], node_boxes(layout), clearance=4) == []
        assert all(0 <= v <= layout.width for e in layout.edges for v in e.rectangle[::2])


def test_the_layout_is_the_same_every_time(tmp_path):
    example = network(tmp_path, (3, 8, 2), True)
    assert network_layout(example, DEFAULTS) == network_layout(example, DEFAULTS)
    assert network_diagram(example, DEFAULTS) == network_diagram(example, DEFAULTS)
    assert network_tikz(example, DEFAULTS) == network_tikz(example, DEFAULTS)


def test_long_numbers_get_boxes_as_wide_as_their_text(tmp_path):
    weights = "W1 = [[-123.45, 67.5], [0.5, -9.25]]\nW2 = [[1000.5, -2.0]]"
    layout = network_layout(network(tmp_path, (2, 2, 1), False, weights), DEFAULTS)
    assert misplaced(layout_labels(layout, written=True), node_boxes(layout)) == []
    widest = max(layout.edges, key=lambda e: e.rectangle[2] - e.rectangle[0])
    assert widest.text == "−123.45" and widest.written


def test_a_dense_layer_shows_its_weights_on_hover_and_a_sparse_one_writes_them(tmp_path):
    layout = network_layout(network(tmp_path, (3, 8, 2), True), DEFAULTS)
    assert [all(e.written for e in edges) for edges in layers(layout).values()] == [False, True]
    silent = network_layout(network(tmp_path, (2, 2), False), RenderOptions(max_labelled_edges=3))
    assert not any(e.written for e in silent.edges)


def test_three_layers_fit_a_phone_and_text_is_at_least_11_px_at_natural_size(tmp_path):
    example = network(tmp_path, (8, 8, 8), True)
    width = network_layout(example, DEFAULTS).width
    assert width <= 358  # a 390 px phone's content column
    svg = network_diagram(example, DEFAULTS)
    assert f'viewBox="0 0 {width} ' in svg and f'width="{width}"' in svg  # drawn 1:1
    sizes = [float(size) for size in re.findall(r"font-size: ([\d.]+)px", svg)]
    assert sizes and min(sizes) >= 11


# The pages, in chromium.

# In the SVG itself: each text's and circle's box (getBBox), each edge, and which weights show;
# then each hover-only edge focused in turn, and which weights show then.
MEASURE = """() => {
  const box = (el) => { const b = el.getBBox(); return [b.x, b.y, b.x + b.width, b.y + b.height]; };
  const shown = (g) => getComputedStyle(g.querySelector(".weight")).visibility === "visible";
  const edges = [...document.querySelectorAll(".edge")];
  const read = (g) => {
    const line = g.querySelector(".hit");
    return {
      text: g.querySelector(".weight").textContent, box: box(g.querySelector(".weight")),
      segment: ["x1", "y1", "x2", "y2"].map((a) => line[a].baseVal.value),
      hover: g.classList.contains("hover"), focusable: g.tabIndex === 0,
      title: g.querySelector("title").textContent, shown: shown(g),
    };
  };
  const measured = edges.map(read);
  const focused = edges.filter((g) => g.classList.contains("hover")).map((g) => {
    g.focus();
    return {own: shown(g), others: edges.filter((o) => o !== g && o.classList.contains("hover")
      && shown(o)).length};
  });
  return {
    edges: measured, focused,
    nodes: [...document.querySelectorAll("circle")].map(box),
    fonts: [...document.querySelectorAll("text")]
      .map((t) => parseFloat(getComputedStyle(t).fontSize)),
    viewBox: document.documentElement.viewBox.baseVal.width,
  };
}"""

# In the Material page, where the diagram sits inline: how wide it is drawn, and whether the
# page scrolls sideways.
ON_PAGE = """async () => {
  // A resize is laid out by the next frames.
  await new Promise((drawn) => requestAnimationFrame(() => requestAnimationFrame(drawn)));
  const svg = document.querySelector(".derive-diagram svg");
  return {drawn: svg.getBoundingClientRect().width,
          pageWidth: document.documentElement.scrollWidth, viewWidth: window.innerWidth};
}"""


@pytest.fixture(scope="module")
def diagrams(built_site: Path, browser, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """The diagrams of the seed, the softmax classifier, Mazur's example (from the built site)
    and a 4-4-4 network (built into a Material site of its own), each opened in chromium at 390
    and 1280 px: its measurements, and for the 4-4-4 network its page's too (test_layout
    measures every shipped example's page, under every theme and at every width)."""
    folder = tmp_path_factory.mktemp("diagrams")
    project = folder / "course"
    new_project(project)
    (project / "examples" / "first.toml").unlink()
    (project / "examples" / "four-four-four.toml").write_text(FOUR)
    site = build_site(site_dir=folder / "site", config_file=project / "mkdocs.yml")
    svgs = {**{name: built_site / "examples" / f"{name}-network.svg" for name in SHIPPED},
            "four-four-four": site / "examples" / "four-four-four-network.svg"}
    found: dict[str, dict] = {name: {} for name in svgs}
    # One page throughout: each load is a fresh document, and a fresh page would cost more.
    with opened(browser, viewport={"width": PHONE, "height": 900}) as page:
        page.goto((site / "examples" / "four-four-four" / "index.html").as_uri())
        for width in (PHONE, LAPTOP):
            page.set_viewport_size({"width": width, "height": 900})
            found["four-four-four"][width] = page.evaluate(ON_PAGE)
        for name, svg in svgs.items():
            for width in (PHONE, LAPTOP):
                page.set_viewport_size({"width": width, "height": 900})
                page.goto(svg.as_uri())
                found[name].setdefault(width, {}).update(page.evaluate(MEASURE))
    return found


def browser_labels(measured: dict) -> list[dict]:
    """The weights a reader sees at once, as `misplaced` takes them."""
    return [{**edge, "others": [o["segment"] for o in measured["edges"] if o is not edge]}
            for edge in measured["edges"] if edge["shown"]]


@pytest.mark.parametrize("name", [*SHIPPED, "four-four-four"])
@pytest.mark.parametrize("width", [PHONE, LAPTOP])
def test_in_chromium_each_weight_sits_apart_on_its_own_edge(diagrams, name, width):
    measured = diagrams[name][width]
    labels = browser_labels(measured)
    assert len(labels) == len(measured["edges"]) > 0  # these networks write every weight
    assert misplaced(labels, measured["nodes"]) == []


@pytest.mark.parametrize("width", [PHONE, LAPTOP])
def test_in_chromium_text_is_at_least_11_px_and_the_page_never_scrolls_sideways(diagrams, width):
    measured = diagrams["four-four-four"][width]
    scale = measured["drawn"] / measured["viewBox"]
    assert min(measured["fonts"]) * scale >= 11
    assert measured["pageWidth"] <= measured["viewWidth"]


def test_softmax_page_names_every_edges_weight_for_tooltips(diagrams):
    edges = diagrams["softmax-classifier"][PHONE]["edges"]
    assert "W2[1,2] = −0.10: from unit 2 of layer 1 to unit 1 of layer 2" in [
        e["title"] for e in edges]
    assert "b1[3] = 0.10: the bias of unit 3 of layer 1" in [e["title"] for e in edges]


def test_in_chromium_a_dense_layers_weight_shows_on_focus_and_hover(browser, tmp_path):
    svg = tmp_path / "dense.svg"
    svg.write_text(network_diagram(network(tmp_path, (3, 8, 2), True), DEFAULTS))
    with opened(browser, viewport={"width": PHONE, "height": 900}) as page:
        page.goto(svg.as_uri())
        page.keyboard.press("Tab")
        tabbed = page.evaluate("() => document.activeElement.getAttribute('class')")
        edge = page.locator(".edge.hover").nth(5)
        before = edge.locator(".weight").evaluate("t => getComputedStyle(t).visibility")
        x1, y1, x2, y2 = (float(edge.locator(".hit").get_attribute(a))
                          for a in ("x1", "y1", "x2", "y2"))
        page.mouse.move(x1 + 0.5 * (x2 - x1), y1 + 0.5 * (y2 - y1))
        under = page.evaluate(f"() => document.elementFromPoint({x1 + 0.5 * (x2 - x1)}, "
                              f"{y1 + 0.5 * (y2 - y1)}).closest('.edge').querySelector("
                              "'.weight').textContent")
        hovered = page.evaluate("() => [...document.querySelectorAll('.weight')].filter("
                                "(t) => t.closest('.hover') && getComputedStyle(t)"
                                ".visibility === 'visible').map((t) => t.textContent)")
        page.mouse.move(0, 0)
        page.evaluate("() => document.activeElement.blur()")
        measured = page.evaluate(MEASURE)
    assert tabbed == "edge hover"  # the first dense edge takes the keyboard's focus
    assert before == "hidden" and hovered == [under]
    hover_only = [e for e in measured["edges"] if e["hover"]]
    assert hover_only and all(e["focusable"] and not e["shown"] for e in hover_only)
    assert all(e["focusable"] is False for e in measured["edges"] if not e["hover"])
    # Focused, each shows its own weight and no other hidden one.
    assert measured["focused"] == [{"own": True, "others": 0}] * len(hover_only)
    for edge in hover_only:
        alone = {**edge, "others": [o["segment"] for o in measured["edges"] if o is not edge]}
        assert misplaced([alone], measured["nodes"], clearance=4) == []


# The LaTeX document.

def document_with_diagram(path: Path) -> tuple[str, Layout]:
    """The example's LaTeX document with its diagram (example.tex.j2 given network_tikz as
    `diagram`), and the layout both printers draw."""
    worked = worked_example(path)
    document = render("example.tex.j2", page=view(worked),
                      diagram=network_tikz(worked.example, DEFAULTS))
    return document, network_layout(worked.example, DEFAULTS)


@pytest.mark.parametrize("name", [*SHIPPED, "four-four-four"])
def test_the_latex_document_draws_the_same_layout_in_tikz_and_compiles(name, tmp_path):
    path = ROOT / "examples" / f"{name}.toml"
    if name == "four-four-four":
        path = tmp_path / "four-four-four.toml"
        path.write_text(FOUR)
    document, layout = document_with_diagram(path)
    assert document.count(r"\begin{tikzpicture}") == 1
    svg = network_diagram(worked_example(path).example, DEFAULTS)
    for edge in layout.edges:
        x, y = (int(v) if float(v).is_integer() else v for v in edge.centre)
        assert (rf"\node[weight] at ( {x},{y})" in document) == edge.written
        assert f'<text class="weight" x="{x}"' in svg
    for node in layout.nodes:
        x, y = (int(v) if float(v).is_integer() else v for v in (node.x, node.y))
        assert f"\\node[{node.kind}] at ( {x},{y})" in document
    compile_tex(document, tmp_path / "tex")
