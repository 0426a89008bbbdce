"""An example's generated files: the Markdown page, the LaTeX document and the JSON answer key."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sympy

from .answer_key import answer_key, to_json
from .errors import DeriveError
from .exact import exact_steps, rational_matrix
from .expansion import Expansion, expand, is_small
from .figures import diagram_alt, loss_alt, loss_curve, network_diagram
from .gradcheck import ABSOLUTE_TOLERANCE, STEP, TOLERANCE, gradient_check, require_passing
from .latex import ELIDE_BEYOND, tex
from .notation import hand_calculation, index_form
from .numeric import TrainingStep, compile_derivation, train
from .render import render
from .spec import Example, load_example
from .symbolic import Definition, Derivation, derive, shortcut_proof

DETAILED_STEPS = 3
"""Training steps shown with every number; later steps appear in the loss table only."""
LOSS_TABLE_ROWS = 100
STEP_TABLE_WEIGHTS = 6
"""Weight entries shown beside the loss in the per-step table (all are in the JSON)."""


@dataclass(frozen=True)
class Quantity:
    """One defined quantity as the page shows it: its symbol, formula and how it was derived."""

    name: str
    symbol: str
    formula: str
    meaning: str
    objective: str | None
    wrt: str | None
    dims: str
    index: str


def example_pages(path: Path) -> dict[str, str]:
    """Docs-relative paths mapped to their contents: `examples/NAME.md` (the page), `.tex`,
    `.json` (the answer key), `-network.svg` and, with several steps, `-loss.svg`.

    Raises `DeriveError` when the example is invalid or a cross-check of the gradients fails.
    """
    example = load_example(path)
    checks = gradient_check(example)
    require_passing(example, checks)
    derivation = derive(example.network)
    steps = train(example)
    context = {**_context(example, derivation, steps),
               "checks": checks, "check_step": STEP, "tolerance": TOLERANCE,
               "absolute_tolerance": ABSOLUTE_TOLERANCE}
    name = example.name
    pages = {
        f"examples/{name}.md": render("example.md.j2", **context),
        f"examples/{name}.tex": render("example.tex.j2", **context),
        f"examples/{name}.json": to_json(answer_key(example, steps)),
        f"examples/{name}-network.svg": network_diagram(example),
    }
    if len(steps) > 1:
        pages[f"examples/{name}-loss.svg"] = loss_curve(steps)
    return pages


def _context(example: Example, derivation: Derivation, steps: list[TrainingStep]) -> dict:
    sizes = {w: n for w, n in zip(derivation.widths, example.network.sizes)}
    sizes[derivation.N] = example.X.shape[1]
    expansion = expand(derivation, example) if is_small(example) else None
    if expansion and not expansion.agrees():
        raise DeriveError(f"{example.path}: cross-check: the element-wise derivative differs "
                          "from the matrix-form chain rule")
    if example.exact:
        detailed = exact_steps(example, DETAILED_STEPS)
        data = {"X": rational_matrix(example.X), "Y": rational_matrix(example.Y)}
    else:
        detailed, data = steps[:DETAILED_STEPS], {"X": example.X, "Y": example.Y}
    shown = min(len(steps), LOSS_TABLE_ROWS)
    table_rows = sorted({round(i * (len(steps) - 1) / max(shown - 1, 1)) for i in range(shown)})
    return {
        "example": example,
        "network": example.network,
        "precision": example.precision,
        "forward": [_quantity(d, sizes, derivation) for d in derivation.forward],
        "backward": [_quantity(d, sizes, derivation) for d in derivation.backward],
        "hand": _hand_calculations(derivation, sizes, {**data, **detailed[0].parameters,
                                                       **detailed[0].values}, example.precision),
        "locals": derivation.locals,
        "shortcut": _shortcut(derivation, example),
        "steps": steps,
        "detailed": detailed,
        "loss_table": [(i + 1, steps[i]) for i in table_rows],
        "expanded": _expanded_entry(expansion),
        "diagram_alt": diagram_alt(example),
        "loss_alt": loss_alt(steps),
        "elided": max(*example.network.sizes, example.X.shape[1]) > ELIDE_BEYOND,
        "elided_beyond": ELIDE_BEYOND,
        "weight_columns": _weight_columns(example),
        "relu_like": sorted({a for a in example.network.activations if "relu" in a}),
        "source": compile_derivation(derivation).source(),
    }


def _weight_columns(example: Example) -> list[tuple[str, str, tuple[int, int]]]:
    """The first few weight entries, tracked across the steps in the per-step table."""
    columns = []
    for name, value in example.parameters.items():
        for row, col in np.ndindex(value.shape):
            kind, layer = name[0].lower(), name[1:]
            index = f"{row + 1}" if kind == "b" else f"{row + 1}{col + 1}"
            columns.append((rf"{kind}^{{({layer})}}_{{{index}}}", name, (row, col)))
    return columns[:STEP_TABLE_WEIGHTS]


def _quantity(definition: Definition, sizes: dict, derivation: Derivation) -> Quantity:
    symbol = definition.symbol
    dims, index = "", ""
    if isinstance(symbol, sympy.MatrixSymbol):
        index = index_form(definition, derivation.N)
        rows, cols = (sympy.sympify(n).xreplace(sizes) for n in symbol.shape)
        dims = rf"{rows} \times {cols}"
    derived = definition.objective is not None
    named = derived and not symbol.name.startswith("dL_d")
    return Quantity(
        name=symbol.name,
        symbol=tex(symbol),
        formula=tex(definition.expr),
        meaning=rf"\frac{{\partial L}}{{\partial {tex(definition.wrt)}}} = " if named else "",
        objective=tex(definition.objective) if derived else None,
        wrt=tex(definition.wrt) if derived else None,
        dims=dims,
        index=index,
    )


def _hand_calculations(derivation: Derivation, sizes: dict, values: dict,
                       precision: int) -> list:
    """The first entry of every gradient, computed as by hand from `values`."""
    gradients = {g.name for g in derivation.gradients}
    return [hand_calculation(d, sizes, values, precision)
            for d in derivation.backward if d.symbol.name in gradients]


def _shortcut(derivation: Derivation, example: Example) -> dict | None:
    if derivation.output_shortcut is None:
        return None
    loss, residual = shortcut_proof(derivation.output_shortcut, example.network.sizes[-1])
    delta = derivation.backward[0]
    return {"loss": tex(loss), "residual": tex(residual), "symbol": tex(delta.symbol),
            "formula": tex(delta.expr), "kind": derivation.output_shortcut}


def _expanded_entry(expansion: Expansion | None) -> dict | None:
    """The first entry of dL/dW1, differentiated from the fully expanded loss."""
    if expansion is None:
        return None
    weight = expansion.weights["W1"][0, 0]
    terms = [tex(term) for term in sympy.Add.make_args(expansion.elementwise["W1"][0, 0])]
    return {"weight": tex(weight), "terms": [t if t.startswith("-") else f"+ {t}" for t in terms]}

