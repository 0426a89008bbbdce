"""The pictures of an example page: the network diagram (SVG) and the loss curve (SVG)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

from ..spec import Example
from .latex import number
from .options import RenderOptions
from .render import render

_COLUMN, _ROW, _RADIUS, _MARGIN = 190, 58, 17, 40


@dataclass(frozen=True)
class _Unit:
    x: float
    y: float
    label: str
    kind: str
    layer: int
    index: int | None


def network_diagram(example: Example, options: RenderOptions,
                    templates: tuple[Path, ...] = ()) -> str:
    """The network as layers of units joined by weighted edges, an accessible SVG.

    A layer wider than `options.max_units` shows its first and last units around an ellipsis; a
    network with at most `options.max_labelled_edges` weights shows each weight on its edge.
    """
    max_units = options.max_units
    sizes = example.network.sizes
    tallest = max(min(n, max_units) + example.network.bias for n in sizes)
    height = _MARGIN * 2 + tallest * _ROW + 30
    units: list[_Unit] = []
    for layer, n in enumerate(sizes):
        shown = _shown(n, max_units)
        count = len(shown) + (example.network.bias and layer < len(sizes) - 1)
        top = (height - 30 - (count - 1) * _ROW) / 2
        x = _MARGIN + _RADIUS + layer * _COLUMN
        for row, index in enumerate(shown):
            label = "⋮" if index is None else (f"x{_sub(index + 1)}" if layer == 0 else str(index + 1))
            units.append(_Unit(x, top + row * _ROW, label, "unit", layer, index))
        if example.network.bias and layer < len(sizes) - 1:
            units.append(_Unit(x, top + len(shown) * _ROW, "1", "bias", layer, None))
    weights = sum(W.size for W in example.weights)
    edges = []
    for source in units:
        for target in units:
            # Edges run into the next layer's units, from its inputs' units and bias; an
            # ellipsis (a unit with no index) has none.
            if target.layer != source.layer + 1 or target.kind != "unit" or target.index is None:
                continue
            if source.kind == "unit" and source.index is None:
                continue
            value = (example.biases[source.layer][target.index, 0] if source.kind == "bias"
                     else example.weights[source.layer][target.index, source.index])
            label = (number(value, options.edge_precision)
                     if weights <= options.max_labelled_edges else "")
            edges.append({"x1": source.x + _RADIUS, "y1": source.y, "x2": target.x - _RADIUS,
                          "y2": target.y, "label": label,
                          **_label_position(source, target, min(sizes[target.layer], max_units))})
    activations = ("input", *example.network.activations)
    layers = [{"x": _MARGIN + _RADIUS + l * _COLUMN, "name": "input" if l == 0 else f"layer {l}",
               "detail": f"{n} unit{'s' if n != 1 else ''}" + ("" if l == 0 else f", {activations[l]}")}
              for l, n in enumerate(sizes)]
    return render("network.svg.j2", templates, width=2 * _MARGIN + 2 * _RADIUS + (len(sizes) - 1) * _COLUMN,
                  height=height, radius=_RADIUS, units=[asdict(u) for u in units], edges=edges,
                  layers=layers,
                  alt=diagram_alt(example))


def _label_position(source: _Unit, target: _Unit, drawn: int) -> dict[str, float]:
    """Where an edge's weight is written: staggered by target, so labels of a fan never meet."""
    t = 0.22 + 0.5 * (min(target.index, drawn) + 0.5) / drawn
    return {"lx": round(source.x + t * (target.x - source.x), 1),
            "ly": round(source.y + t * (target.y - source.y) - 4, 1)}


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
