"""The pictures of an example: the network diagram (SVG for the page, TikZ for the LaTeX
document, both printed from one layout) and the loss curve (SVG)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..spec import Example
from .latex import number
from .options import RenderOptions
from .render import render

# The diagram's geometry in SVG user units: CSS pixels at the diagram's natural size, which it
# keeps on every screen (a diagram wider than the page scrolls sideways instead of shrinking, so
# its text never drops below 11 px), and points in the TikZ picture.
_RADIUS = 16
_GAP = 124
"""Between the circles of neighbouring layers: a three-layer diagram is 352 px wide, within the
358 px of a 390 px wide phone's content column."""
_ROWS = tuple(range(44, 113, 4))
"""Distances between the centres of a layer's units, tried in turn (see `network_layout`)."""
_MARGIN = 4
_FONT = {"weight": 12, "unit": 14, "caption": 12}
_CAPTION_LINE = 15
_CLEARANCE = 8
"""No other edge passes nearer the centre of a written weight: the line through it is its own."""
_SPACING = 2
"""Between two written weights, and between a weight and the units of its layers."""
_CROWDED = 6
"""Rows grow until another edge crosses at most one written weight in this many."""
_POSITIONS = 80
"""Places tried along an edge, evenly spaced."""
_PAD = 1.5
"""Around a weight's text, inside its box."""
_LINE, _BASELINE = 1.17, 0.35
"""A line of text's height (DejaVu Sans's ascent and descent), and how far below the middle of
that height the baseline lies, in ems."""
_EM = {**dict.fromkeys("0123456789", 0.64), ".": 0.32, "−": 0.84}
"""Character widths in ems: DejaVu Sans's, the widest common sans-serif, so a weight's box
holds its text in any font (other characters count as 0.9 em)."""


@dataclass(frozen=True)
class Node:
    """A drawn unit, bias or ellipsis (`kind`): its centre, its layer and its index in the layer
    (None for a bias or an ellipsis)."""

    x: float
    y: float
    kind: str
    layer: int
    index: int | None


@dataclass(frozen=True)
class Edge:
    """A weight's edge from `source` to `target`, its value and where the value is written:
    `centre` of a `box` (width, height), always (`written`) or on hover and focus only, and
    whether another edge crosses the box (`crossed`)."""

    source: Node
    target: Node
    parameter: str
    entry: tuple[int, ...]
    value: float
    text: str
    box: tuple[float, float]
    centre: tuple[float, float] = (0.0, 0.0)
    written: bool = True
    crossed: bool = False

    @property
    def segment(self) -> tuple[float, float, float, float]:
        """The drawn line: from the rim of the source's circle to the rim of the target's."""
        return (self.source.x + _RADIUS, self.source.y, self.target.x - _RADIUS, self.target.y)

    @property
    def rectangle(self) -> tuple[float, float, float, float]:
        """The written value's box: left, top, right, bottom."""
        (x, y), (width, height) = self.centre, self.box
        return (x - width / 2, y - height / 2, x + width / 2, y + height / 2)


@dataclass(frozen=True)
class Caption:
    """A layer's lines under its column, the first's baseline at y, anchored at x by their
    start, middle or end."""

    x: float
    y: float
    anchor: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Layout:
    """The whole diagram: size, units, edges (with their written weights) and captions."""

    width: float
    height: float
    radius: float
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    captions: tuple[Caption, ...]


def network_layout(example: Example, options: RenderOptions) -> Layout:
    """Where the diagram puts everything, computed once for both printers (SVG and TikZ: an
    example's files pass it to each).

    Each layer is a column of units. Between two columns every weight is written on its own
    edge, where no other written weight, unit or nearby edge is (see `_labelled`), if there are
    at most `options.max_labelled_edges` of them; otherwise, or when they cannot fit at any of
    the row distances tried, each is shown on hover and focus. Rows grow, in `_ROWS`' steps,
    until every weight that may be written is and other edges cross the boxes of at most one in
    `_CROWDED` of them (else the first row where all are written, else the most written).
    """
    tried = []
    for row in _ROWS:
        tried.append(_arranged(example, options, row))
        if _fits(tried[-1], options) and _crossed(tried[-1]) * _CROWDED <= _written(tried[-1]):
            return tried[-1]
    fitting = [layout for layout in tried if _fits(layout, options)]
    return fitting[0] if fitting else max(tried, key=_written)


def _written(layout: Layout) -> int:
    """How many weights the layout writes."""
    return sum(edge.written for edge in layout.edges)


def _crossed(layout: Layout) -> int:
    """How many written weights another edge crosses (inside the text's box)."""
    return sum(edge.crossed for edge in layout.edges if edge.written)


def _fits(layout: Layout, options: RenderOptions) -> bool:
    """Whether every layer with at most `max_labelled_edges` edges has its weights written."""
    layers: dict[int, list[Edge]] = {}
    for edge in layout.edges:
        layers.setdefault(edge.target.layer, []).append(edge)
    return all(all(edge.written for edge in edges) for edges in layers.values()
               if len(edges) <= options.max_labelled_edges)


def _arranged(example: Example, options: RenderOptions, row: float) -> Layout:
    """The layout with `row` between the centres of a layer's units."""
    network = example.network
    columns = [_column(layer, n, network.bias and layer < network.depth, options.max_units)
               for layer, n in enumerate(network.sizes)]
    tallest = max(len(column) for column in columns)
    nodes = [Node(_column_x(layer),
                  _MARGIN + _RADIUS + ((tallest - len(column)) / 2 + position) * row,
                  kind, layer, index)
             for layer, column in enumerate(columns)
             for position, (kind, index) in enumerate(column)]
    edges = []
    for layer in range(1, network.depth + 1):
        gap = [_edge(example, options, source, target) for target in nodes
               if target.layer == layer and target.kind == "unit"
               for source in nodes if source.layer == layer - 1 and source.kind != "ellipsis"]
        edges += _labelled(gap, options.max_labelled_edges)
    bottom = _MARGIN + 2 * _RADIUS + (tallest - 1) * row
    captions = [_caption(example, layer, bottom + 8 + _FONT["caption"])
                for layer in range(len(columns))]
    return Layout(width=2 * _MARGIN + len(columns) * 2 * _RADIUS + network.depth * _GAP,
                  height=bottom + 8 + 3 * _CAPTION_LINE + _MARGIN, radius=_RADIUS,
                  nodes=tuple(nodes), edges=tuple(edges), captions=tuple(captions))


def _column(layer: int, n: int, bias: bool, max_units: int) -> list[tuple[str, int | None]]:
    """The drawn nodes of a layer of n units, top to bottom, as (kind, index)."""
    shown = [("unit", i) if i is not None else ("ellipsis", None) for i in _shown(n, max_units)]
    return shown + [("bias", None)] * bias


def _edge(example: Example, options: RenderOptions, source: Node, target: Node) -> Edge:
    """The edge of the weight (or bias) from source into target, its value not yet placed."""
    layer = target.layer
    if source.kind == "bias":
        parameter, entry = f"b{layer}", (target.index,)
        value = float(example.biases[layer - 1][target.index, 0])
    else:
        parameter, entry = f"W{layer}", (target.index, source.index)
        value = float(example.weights[layer - 1][target.index, source.index])
    text = number(value, options.edge_precision).replace("-", "−")
    width = sum(_EM.get(char, 0.9) for char in text) * _FONT["weight"] + 2 * _PAD
    return Edge(source, target, parameter, entry, value, text,
                (round(width, 2), round(_LINE * _FONT["weight"] + 2 * _PAD, 2)))


class _Place(NamedTuple):
    """A candidate place for an edge's value: how far along the edge, its centre and box, how
    near the nearest other edge passes its centre, and how many other edges cross its box."""

    along: float
    centre: tuple[float, float]
    rectangle: tuple[float, float, float, float]
    clearance: float
    crossings: int


def _labelled(edges: list[Edge], max_labelled: int) -> list[Edge]:
    """The edges between two layers with their values placed: all written if there are at most
    max_labelled and they fit, else each at its clearest place, shown on hover and focus."""
    places = [_places(index, edges) for index in range(len(edges))]
    if len(edges) <= max_labelled:
        ranked = [sorted((p for p in options if p.clearance >= _CLEARANCE),
                         key=lambda p, edge=edge: _merit(p, edge))
                  for edge, options in zip(edges, places)]
        chosen = _write(ranked)
        if chosen is not None:
            return [replace(edge, centre=_rounded(place.centre), crossed=place.crossings > 0)
                    for edge, place in zip(edges, _improved(chosen, ranked))]
    return [replace(edge, centre=_rounded(_clearest(edge, options)), written=False)
            for edge, options in zip(edges, places)]


def _merit(place: _Place, edge: Edge) -> tuple[float, ...]:
    """How good a place is for writing an edge's value, best first: no other edge crossing its
    box, the others far from its centre (up to twice the clearance), near its stagger."""
    return (place.crossings, -min(place.clearance, 2 * _CLEARANCE),
            abs(place.along - _stagger(edge)))


def _stagger(edge: Edge) -> float:
    """Where along its edge a value is best written: the edges of a fan (out of one unit or into
    one) at different fractions by their slope, so that their values sit apart."""
    slope = (edge.target.y - edge.source.y) / (2 * _RADIUS + _GAP)
    return 0.5 + 0.25 * math.tanh(slope)


def _clearest(edge: Edge, places: list[_Place]) -> tuple[float, float]:
    """The place of a value shown on hover: as far from other edges as the clearance asks (or
    as can be), then crossed by the fewest, then nearest the middle."""
    if not places:
        x1, y1, x2, y2 = edge.segment
        return (x1 + x2) / 2, (y1 + y2) / 2
    return min(places, key=lambda p: (-min(p.clearance, _CLEARANCE), p.crossings,
                                      abs(p.along - 0.5))).centre


def _places(index: int, edges: list[Edge]) -> list[_Place]:
    """The candidate places of edge `index`'s value along it: inside the gap between the two
    layers' columns (clear of their units) and within the height of their units."""
    edge = edges[index]
    x1, y1, x2, y2 = edge.segment
    width, height = edge.box
    ys = [y for e in edges for y in (e.source.y, e.target.y)]
    along = np.arange(1, _POSITIONS) / _POSITIONS
    x, y = x1 + along * (x2 - x1), y1 + along * (y2 - y1)
    left, top, right, bottom = x - width / 2, y - height / 2, x + width / 2, y + height / 2
    inside = ((left >= x1 + _SPACING) & (right <= x2 - _SPACING)
              & (top >= min(ys) - _RADIUS) & (bottom <= max(ys) + _RADIUS))
    others = np.array([e.segment for e in edges[:index] + edges[index + 1:]]).reshape(-1, 4)
    start, slope = others[None, :, :2], ((others[:, 3] - others[:, 1])
                                         / (others[:, 2] - others[:, 0]))[None, :]
    # Every edge spans the whole gap: another meets the box where its heights at the box's
    # sides overlap the box's (the text's, without the padding).
    at_left = start[..., 1] + slope * (left[:, None] - start[..., 0])
    at_right = start[..., 1] + slope * (right[:, None] - start[..., 0])
    crossings = ((np.maximum(at_left, at_right) >= top[:, None] + _PAD)
                 & (np.minimum(at_left, at_right) <= bottom[:, None] - _PAD)).sum(axis=1)
    distance = np.abs(start[..., 1] + slope * (x[:, None] - start[..., 0]) - y[:, None])
    clearance = (distance / np.hypot(1, slope)).min(axis=1, initial=np.inf)
    columns = (a[inside].tolist() for a in (along, x, y, left, top, right, bottom, clearance,
                                            crossings))
    return [_Place(a, (cx, cy), (l, t, r, b), c, n)
            for a, cx, cy, l, t, r, b, c, n in zip(*columns)]


def _write(ranked: list[list[_Place]]) -> list[_Place] | None:
    """One place per edge from its ranked places, no two boxes nearer than _SPACING (None if
    that fails): the edge with the fewest places left takes its best, until each has one."""
    left = dict(enumerate(ranked))
    chosen: dict[int, _Place] = {}
    while left:
        index = min(left, key=lambda i: (len(left[i]), i))
        if not left[index]:
            return None
        chosen[index] = left.pop(index)[0]
        taken = chosen[index].rectangle
        left = {i: [p for p in options if not _overlap(p.rectangle, taken)]
                for i, options in left.items()}
    return [chosen[index] for index in range(len(ranked))]


def _improved(chosen: list[_Place], ranked: list[list[_Place]]) -> list[_Place]:
    """The places moved, one edge at a time, to a better ranked place that is free, until none
    can move: each move improves a place, so this ends, with the same result each time."""
    chosen = list(chosen)
    moved = True
    while moved:
        moved = False
        for index, options in enumerate(ranked):
            others = [p.rectangle for i, p in enumerate(chosen) if i != index]
            best = next(p for p in options
                        if p is chosen[index] or not any(_overlap(p.rectangle, o) for o in others))
            moved, chosen[index] = moved or best != chosen[index], best
    return chosen


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    """Whether two boxes (left, top, right, bottom) come nearer than _SPACING."""
    return not (a[2] + _SPACING <= b[0] or b[2] + _SPACING <= a[0]
                or a[3] + _SPACING <= b[1] or b[3] + _SPACING <= a[1])


def _rounded(point: tuple[float, float]) -> tuple[float, float]:
    """A point to a tenth of a unit: short, stable numbers in the SVG and the TikZ."""
    return round(point[0], 1), round(point[1], 1)


def _caption(example: Example, layer: int, y: float) -> Caption:
    """A layer's caption under its column: its name, width and activation, one a line; the
    outer columns' captions align with their outer rims, so they never leave the picture."""
    network = example.network
    n, x = network.sizes[layer], _column_x(layer)
    anchor, x = (("start", x - _RADIUS) if layer == 0 else
                 ("end", x + _RADIUS) if layer == network.depth else ("middle", x))
    units = f"{n} unit{'s' if n != 1 else ''}"
    if layer == 0:
        return Caption(x, y, anchor, ("input", units))
    return Caption(x, y, anchor, (f"layer {layer}", units, network.activations[layer - 1]))


def _column_x(layer: int) -> float:
    """The centre of a layer's column."""
    return _MARGIN + _RADIUS + layer * (2 * _RADIUS + _GAP)


def network_diagram(example: Example, options: RenderOptions, templates: tuple[Path, ...] = (),
                    layout: Layout | None = None) -> str:
    """The network as an accessible SVG: `layout` (by default `network_layout`) printed by
    network.svg.j2. On an interactive page each edge names its weight's dotted path in the
    answer key's first step (`weights.W1.0.1`), so the page's script writes the reader's weights
    on the edges."""
    layout = layout or network_layout(example, options)
    nodes = [{"x": _short(n.x), "y": _short(n.y), "kind": n.kind, "text": _unit_text(n, False),
              "baseline": _short(n.y + _BASELINE * _FONT["unit"])} for n in layout.nodes]
    edges = [{"x1": x1, "y1": y1, "x2": x2, "y2": y2, "x": _short(e.centre[0]),
              "baseline": _short(e.centre[1] + _BASELINE * _FONT["weight"]), "text": e.text,
              "title": _edge_title(e), "written": e.written,
              "weight": ".".join(["weights", e.parameter, *map(str, e.entry)])
              if options.interactive else ""}
             for e in layout.edges for x1, y1, x2, y2 in [map(_short, e.segment)]]
    return render("network.svg.j2", templates, width=_short(layout.width),
                  height=_short(layout.height), radius=layout.radius, font=dict(_FONT),
                  nodes=nodes, edges=edges, captions=_caption_lines(layout),
                  hover=not all(e.written for e in layout.edges), alt=diagram_alt(example),
                  precision=options.edge_precision if options.interactive else None)


def network_tikz(example: Example, options: RenderOptions, templates: tuple[Path, ...] = (),
                 layout: Layout | None = None) -> str:
    """The same diagram as a TikZ picture for the LaTeX document: `layout` (by default
    `network_layout`) printed by network.tikz.j2. Paper has no hover: the weights a page shows
    only on hover are left to the document's matrices."""
    layout = layout or network_layout(example, options)
    return render(
        "network.tikz.j2", templates, width=_short(layout.width),
        height=_short(layout.height), radius=layout.radius,
        nodes=[{"x": _short(n.x), "y": _short(n.y), "kind": n.kind, "tex": _unit_text(n, True)}
               for n in layout.nodes],
        edges=[{"segment": [_short(v) for v in e.segment], "x": _short(e.centre[0]),
                "y": _short(e.centre[1]),
                "tex": number(e.value, options.edge_precision), "written": e.written}
               for e in layout.edges],
        captions=_caption_lines(layout),
        unwritten=sorted({e.target.layer for e in layout.edges if not e.written}))


def _caption_lines(layout: Layout) -> list[dict]:
    """Each caption's anchor, and each of its lines with its baseline."""
    return [{"x": _short(c.x), "anchor": c.anchor,
             "lines": [{"y": _short(c.y + i * _CAPTION_LINE), "text": line}
                       for i, line in enumerate(c.lines)]} for c in layout.captions]


def _short(value: float) -> float | int:
    """A coordinate to a tenth, whole numbers without a decimal point."""
    value = round(float(value), 1)
    return int(value) if value.is_integer() else value


def _unit_text(node: Node, tex: bool) -> str:
    """What a node shows: x₁ for an input, the unit's number, 1 for a bias, ⋮ for elided units."""
    if node.kind == "ellipsis":
        return r"$\vdots$" if tex else "⋮"
    if node.kind == "bias":
        return "1"
    if node.layer == 0:
        return f"$x_{{{node.index + 1}}}$" if tex else f"x{_sub(node.index + 1)}"
    return str(node.index + 1)


def _edge_title(edge: Edge) -> str:
    """An edge in words, for its tooltip and screen readers: which weight, its value, where."""
    layer, row = edge.target.layer, edge.entry[0] + 1
    into = f"unit {row} of layer {layer}"
    if edge.source.kind == "bias":
        return f"{edge.parameter}[{row}] = {edge.text}: the bias of {into}"
    source = edge.source
    origin = (f"x{_sub(source.index + 1)}" if source.layer == 0
              else f"unit {source.index + 1} of layer {source.layer}")
    return f"{edge.parameter}[{row},{source.index + 1}] = {edge.text}: from {origin} to {into}"


def diagram_alt(example: Example) -> str:
    """The diagram in words, for its alt text."""
    network = example.network
    layers = ", ".join(f"{n} {a}" for n, a in zip(network.sizes[1:], network.activations))
    return (f"Network diagram: {network.sizes[0]} inputs, then layers of {layers} units"
            f"{', each with a bias' if network.bias else ''}.")


def _shown(n: int, max_units: int) -> list[int | None]:
    """Which units of a layer of n are drawn (None marks the ellipsis)."""
    if n <= max_units:
        return list(range(n))
    return [*range(max_units - 2), None, n - 1]


def _sub(index: int) -> str:
    return str(index).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


def loss_curve(losses: list[float], templates: tuple[Path, ...] = ()) -> str:
    """The loss before each SGD step as a line chart: an accessible SVG, the same bytes each time."""
    width, height, left, right, top, bottom = 640, 300, 70, 620, 16, 252
    low, high = min(0.0, min(losses)), max(losses)
    y_ticks, y_step = _nice_ticks(low, high)
    low, high = y_ticks[0], y_ticks[-1]
    x_ticks, _ = _nice_ticks(1, len(losses), whole=True)

    def x(step: float) -> float:
        return round(left + (step - 1) / max(len(losses) - 1, 1) * (right - left), 1)

    def y(loss: float) -> float:
        return round(bottom - (loss - low) / ((high - low) or 1) * (bottom - top), 1)

    decimals = max(0, -math.floor(math.log10(y_step))) if y_step < 1 else 0
    return render(
        "loss.svg.j2", templates, width=width, height=height, left=left, right=right, top=top,
        bottom=bottom, alt=loss_alt(losses),
        points=[[x(i), y(loss)] for i, loss in enumerate(losses, start=1)],
        y_ticks=[{"at": y(t), "label": f"{t:.{decimals}f}"} for t in y_ticks],
        x_ticks=[{"at": x(t), "label": f"{t:g}"} for t in x_ticks if 1 <= t <= len(losses)],
    )


def loss_alt(losses: list[float]) -> str:
    """The loss curve in words, for its alt text."""
    return (f"Loss before each of the {len(losses)} SGD steps, from {losses[0]:.4g} "
            f"to {losses[-1]:.4g}")


def _nice_ticks(low: float, high: float, whole: bool = False) -> tuple[list[float], float]:
    """About five round tick values covering [low, high] (steps of 1, 2 or 5 times 10^k)."""
    span = (high - low) or abs(high) or 1.0
    raw = span / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    if whole:
        step = max(1.0, round(step))
    first = math.floor(low / step) * step
    count = math.ceil((high - first) / step - 1e-9)
    return [round(first + i * step, 12) for i in range(count + 1)], step
