"""An example's files: the Markdown page, the LaTeX document, the answer key and the figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..compile import javascript
from ..mistakes import Mistake, catalogue
from ..moodle import example_bank
from ..spec import KINKED
from ..worked import WorkedExample
from .answer_key import answer_key, to_json
from .figures import Layout, loss_alt, loss_curve, network_diagram, network_layout, network_tikz
from .options import DEFAULTS, RenderOptions
from .render import render
from .view import view


def example_files(worked: WorkedExample, options: RenderOptions = DEFAULTS,
                  templates: tuple[Path, ...] = ()) -> dict[str, str]:
    """Docs-relative paths mapped to contents: `examples/NAME.md` (the page), `.tex`, `.json`
    (the answer key), `-network.svg`, `-moodle.xml` (the example as a Moodle question, see
    `moodle.example_bank`), with several steps `-loss.svg`, and on interactive pages `.js` (the
    script that recomputes the page, see `script`).

    `templates` are folders whose files override derive's own templates of the same name.
    """
    page = view(worked, options)
    losses = page["loss_table"]["losses"]
    layout = network_layout(worked.example, options)
    diagram = network_diagram(worked.example, options, templates, layout)
    figures = {"diagram_svg": diagram, "loss_alt": loss_alt(losses) if len(losses) > 1 else ""}
    name = worked.example.name
    key = answer_key(worked)
    files = {
        f"examples/{name}.md": render("example.md.j2", templates, page=page, site=True,
                                      **figures),
        f"examples/{name}.tex": document(worked, page, options, templates, layout),
        f"examples/{name}.json": to_json(key),
        f"examples/{name}-network.svg": diagram,
        f"examples/{name}-moodle.xml": example_bank(worked, options.precision),
    }
    if len(losses) > 1:
        files[f"examples/{name}-loss.svg"] = loss_curve(losses, templates)
    if options.interactive:
        files[f"examples/{name}.js"] = script(worked, key, page["precision"])
    return files


def script(worked: WorkedExample, key: dict[str, Any], precision: int) -> str:
    """The page's script: registers `derive.examples[NAME]`, which derive-runtime.js trains
    again on the reader's edits and marks the reader's numbers with. It holds the chain rule
    and the loss printed as JavaScript from the example's derivation, which definitions each
    one uses, each catalogued mistake with the definitions it changes printed the same way
    (`javascript.mistaken_chain`), the example file's numbers, each step's samples (they do not
    depend on the numbers) and the page's `precision`; `key` is the example's answer key, whose
    other top-level keys the recomputed one repeats."""
    example, derivation = worked.example, worked.derivation
    network = example.network
    values = {"X": example.X.T.tolist(),
              "y": example.Y[0].tolist() if network.sizes[-1] == 1 else example.Y.T.tolist(),
              **{name: (value.ravel() if name.startswith("b") else value).tolist()
                 for name, value in example.parameters.items()},
              "learning_rate": example.learning_rate, "momentum": example.momentum,
              "dampening": example.dampening, "nesterov": example.nesterov,
              "weight_decay": example.weight_decay}
    data = {
        "file": example.path.name,
        "network": {"sizes": list(network.sizes), "loss": network.loss},
        "values": values,
        "parameters": [p.name for p in derivation.parameters],
        "gradients": {p.name: g.name for p, g in zip(derivation.parameters, derivation.gradients)},
        "depends": javascript.depends(derivation),
        "weight_decay": derivation.penalty is not None,
        "freeze": list(example.freeze),
        "batch_size": example.batch_size,
        "steps": example.steps,
        "batches": [list(step.samples) for step in worked.steps],
        "kinked": [l for l, a in enumerate(network.activations, start=1) if a in KINKED],
        "kinks_from": len(worked.exact or ()) + 1,
        "precision": precision,
        "answer": {name: value for name, value in key.items() if name not in ("steps", "final")},
    }
    chain = javascript.chain(derivation).replace("\n", "\n    ")
    loss = javascript.chain(derivation, [derivation.loss]).replace("\n", "\n    ")
    return (f"/* derive: the worked example {json.dumps(example.name)}, registered for "
            "derive-runtime.js: its chain rule, loss and\n"
            " * mistakes as SymPy's JavaScript printer prints them from the example's derivation,"
            " and its numbers.\n * Generated; do not edit. */\n"
            "(function (derive) {\n"
            "  const examples = derive.examples = derive.examples || {};\n"
            f"  examples[{json.dumps(example.name)}] = Object.assign({json.dumps(data)}, {{\n"
            f"    chain: {chain},\n"
            f"    loss: {loss},\n"
            f"    mistakes: [{''.join(_mistake(worked, m) for m in catalogue(worked))}\n    ],\n"
            "  });\n"
            "})(window.derive = window.derive || {});\n")


def _mistake(worked: WorkedExample, mistake: Mistake) -> str:
    """A catalogued mistake as the page's script holds it: what the page says of it, whether it
    is the update's sign, and the chain of the definitions it changes (null for the update)."""
    said = {"id": mistake.id, "title": mistake.title, "explanation": mistake.explanation,
            "where": mistake.where, "right_tex": mistake.right_tex,
            "wrong_tex": mistake.wrong_tex, "ascent": mistake.ascent}
    chain = "null" if mistake.derivation is None else \
        javascript.mistaken_chain(worked.derivation, mistake.derivation).replace("\n", "\n      ")
    return f"\n      Object.assign({json.dumps(said)}, {{chain: {chain}}}),"


def document(worked: WorkedExample, page: dict, options: RenderOptions = DEFAULTS,
             templates: tuple[Path, ...] = (), layout: Layout | None = None) -> str:
    """The worked example as a standalone LaTeX document, from its view, with the page's
    network diagram drawn in TikZ (from `layout`, by default `figures.network_layout`)."""
    return render("example.tex.j2", templates, page=page,
                  diagram=network_tikz(worked.example, options, templates, layout))


def questions(page: dict, templates: tuple[Path, ...] = ()) -> str:
    """An exam sheet of the example as a LaTeX document: data, weights and what to compute."""
    return render("questions.tex.j2", templates, page=page)
