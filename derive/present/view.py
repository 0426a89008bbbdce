"""The view of a worked example: every string and number its page and document show.

`view()` is a pure function of a `WorkedExample` and one `RenderOptions`; it returns plain data
(str, int, float, bool, None, lists and dicts of them), so templates only place text.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import sympy

from ..compile import javascript
from ..spec import CLASSIFIERS, KINKED
from ..symbolic import Definition
from ..training import TrainingStep, rational_matrix
from ..verify.expansion import MAX_TERMS, expanded_terms
from ..verify.gradcheck import ABSOLUTE_TOLERANCE, STEP, TOLERANCE
from ..worked import WorkedExample
from . import notation
from .calculations import hand_calculation, index_form
from .latex import bmatrix, kept, number, scientific, setting, tex
from .options import DEFAULTS, RenderOptions


def view(worked: WorkedExample, options: RenderOptions = DEFAULTS) -> dict[str, Any]:
    """The page's content as plain data."""
    example, derivation = worked.example, worked.derivation
    precision = example.precision if options.precision is None else options.precision
    show = _Formatter(precision, options)
    floats = worked.steps[0]
    exact = worked.exact is not None
    detailed = (worked.exact or worked.steps)[:options.detailed_steps]
    data = {"X": rational_matrix(example.X), "Y": rational_matrix(example.Y)} if exact else \
        {"X": example.X, "Y": example.Y}
    first = list(detailed[0].samples)
    batch = {name: value[:, first] for name, value in data.items()}
    sizes = {w: n for w, n in zip(derivation.widths, example.network.sizes)}
    sizes[derivation.N] = len(first)
    network = example.network
    relu_like = sorted(set(network.activations) & set(KINKED))
    return {
        "name": example.name,
        "title": example.title,
        "description": example.description.strip(),
        "network": {
            "sizes": list(network.sizes),
            "layers": [{"index": l, "width": w, "activation": a} for l, (w, a) in
                       enumerate(zip(network.sizes[1:], network.activations), start=1)],
            "loss": network.loss,
            "reduction": _reduction(network),
            "bias": network.bias,
        },
        "labels": ", ".join(map(str, example.labels)) if example.labels is not None else "",
        "learning_rate": setting(example.learning_rate),
        "settings_live": {"learning_rate": show.live("learning_rate", None, example.learning_rate),
                          **{name: show.live(f"training.{name}", None, getattr(example, name))
                             for name in ("momentum", "weight_decay", "dampening")}},
        "steps": example.steps,
        "samples": example.X.shape[1],
        "training": _training(example),
        "drawn": example.drawn,
        "biases_drawn": {"": "", "zeros": "start at 0",
                         "standard_normal": "were drawn from N(0, 1), rounded alike"}[
                             example.bias_init],
        "objective": derivation.objective.name,
        "exact": exact,
        "precision": precision,
        "relu_like": relu_like,
        "leaky_slope": setting(example.network.leaky_slope),
        "elided": max(*network.sizes, example.X.shape[1]) > options.elide_beyond,
        "elide_beyond": options.elide_beyond,
        "elide": [options.elide_beyond, options.elide_head, options.elide_tail],
        "interactive": options.interactive,
        "data": [show.matrix("X", data["X"], show.live("X", None, example.X)),
                 show.matrix("Y", data["Y"], show.live("Y", None, example.Y))]
                + [show.matrix(notation.symbol(n), v,
                               show.live(f"weights.{n}", 1, floats.parameters[n], n))
                   for n, v in detailed[0].parameters.items()],
        "forward": [_quantity(d, sizes, derivation.N) for d in derivation.forward],
        "locals": [{"layer": local.layer, "function": tex(local.function),
                    "derivative": tex(local.derivative)} for local in derivation.locals],
        "proof": _proof(worked),
        "backward": [_quantity(d, sizes, derivation.N) for d in derivation.backward
                     if d.objective is not None or d.symbol.name.startswith("dJ_d")],
        "detailed": [_step(index, step, worked, show)
                     for index, step in enumerate(detailed, start=1)],
        "later_steps": example.steps > len(detailed),
        "hand": [hand_calculation(d, sizes, {**batch, **detailed[0].parameters,
                                             **detailed[0].values},
                                  precision=precision, max_terms=options.max_terms,
                                  terms_per_line=options.terms_per_line)
                 for d in derivation.backward if d.symbol.name.startswith("dL_d")],
        "loss_table": _loss_table(worked.steps, show, options),
        "final_loss": show.number(worked.final_loss),
        "final_live": show.live("final.loss", None, worked.final_loss),
        "final": [show.matrix(notation.symbol(n), v, show.live(f"final.weights.{n}", None, v, n))
                  for n, v in worked.steps[-1].updated.items()],
        "expanded": _expanded(worked, options),
        "cross_check": _cross_check(worked),
        "check": _check(worked),
        "near_kinks": [{"step": k.step, "entry": notation.entry(k.quantity, k.entry[0] + 1,
                                                                k.entry[1] + 1),
                        "value": scientific(k.value, 2), "bound": scientific(k.bound)}
                       for k in worked.near_kinks],
        "source": worked.code.rstrip(),
        "javascript": javascript.chain(derivation) if options.interactive else "",
    }


class _Formatter:
    """Numbers and matrices at one precision, elided as RenderOptions say."""

    def __init__(self, precision: int, options: RenderOptions) -> None:
        self.precision = precision
        self.options = options

    def number(self, value: float | sympy.Basic) -> str:
        return number(value, self.precision)

    def live(self, quantity: str, step: int | None, value: Any, name: str = "") -> dict | None:
        """What an interactive page recomputes a displayed value from: its dotted path in the
        `derive values` JSON (`gradients.W1`; X and Y for the data), the step (None for the
        whole run) and its value there as JSON (flat when parameter `name` is a bias b_l, as
        the answer key writes it); None on a static page."""
        if not self.options.interactive:
            return None
        value = np.asarray(value, dtype=float)
        if name.startswith("b"):
            value = value.ravel()
        return {"quantity": quantity, "step": "" if step is None else str(step),
                "value": json.dumps(value.tolist(), allow_nan=False)}

    def matrix(self, symbol: str, values: np.ndarray | sympy.MatrixBase,
               live: dict | None = None) -> dict[str, Any]:
        """`{"symbol", "tex", "shape", "live"}`: a matrix (or a scalar) as a bmatrix at the
        precision, and what an interactive page recomputes it from (see `live`). Only the
        entries shown are formatted, so an elided matrix costs the same at any size."""
        exact = isinstance(values, sympy.MatrixBase)
        if not exact:
            values = np.atleast_2d(np.asarray(values, dtype=float))
        height, width = values.shape
        o = self.options
        rows = kept(height, o.elide_beyond, o.elide_head, o.elide_tail)
        columns = kept(width, o.elide_beyond, o.elide_head, o.elide_tail)
        table = {i: {j: self.number(values[i, j] if exact else float(values[i, j]))
                     for j in columns if j is not None} for i in rows if i is not None}
        return {"symbol": symbol, "tex": bmatrix(table, rows, columns),
                "shape": rf"{height} \times {width}", "live": live}


def _quantity(definition: Definition, sizes: dict, N: sympy.Symbol) -> dict[str, str]:
    """One definition as the page writes it: symbol, formula, how it was derived, its shape."""
    symbol = definition.symbol
    dims, index = "", ""
    if isinstance(symbol, sympy.MatrixSymbol):
        index = index_form(definition, N)
        rows, cols = (sympy.sympify(n).xreplace(sizes) for n in symbol.shape)
        dims = rf"{rows} \times {cols}"
    derived = definition.objective is not None
    named = derived and symbol.name.startswith(("G", "delta"))
    return {
        "name": symbol.name,
        "symbol": tex(symbol),
        "formula": tex(definition.expr),
        "meaning": rf"\frac{{\partial L}}{{\partial {tex(definition.wrt)}}} = " if named else "",
        "objective": tex(definition.objective) if derived else "",
        "wrt": tex(definition.wrt) if derived else "",
        "dims": dims,
        "index": index,
    }


_ENTRY_LOSSES = {
    "l2": r"\tfrac{1}{2} \left(y_{j,n} - \hat y_{j,n}\right)^2",
    "mse": r"\left(y_{j,n} - \hat y_{j,n}\right)^2",
    "bce": r"-\left(y_{j,n} \log \hat y_{j,n} + (1 - y_{j,n}) \log (1 - \hat y_{j,n})\right)",
    "cross_entropy": r"-\sum_{j} y_{j,n} \log \hat y_{j,n}",
    "hinge": r"\sum_{j \neq c_n} \max\left(0, \hat y_{j,n} - \hat y_{c_n,n} + 1\right), "
             r"\quad Y_{c_n,n} = 1",
}
"""Each loss's entry: of output j of sample n, or of sample n for the classifiers (with c_n the
row of sample n's class in Y)."""


def _reduction(network) -> dict[str, str]:
    """The loss's reduction in words and as the formula of L from its entries ℓ."""
    per_sample = network.loss in CLASSIFIERS
    entry = r"\ell_{n}" if per_sample else r"\ell_{j,n}"
    over = r"\sum_{n=1}^{N}" if per_sample else r"\sum_{n=1}^{N} \sum_{j=1}^{k}"
    k = network.sizes[-1]
    if network.reduction == "sum":
        words, divisor = "summed over " + ("the samples" if per_sample else "every entry"), ""
    elif per_sample or network.reduction == "batchmean":
        words, divisor = ("summed over the outputs and averaged over the samples"
                          if not per_sample else "averaged over the samples"), r"\frac{1}{N} "
    else:
        words, divisor = f"averaged over all $N k$ entries ($k = {k}$ outputs)", r"\frac{1}{N k} "
    return {"name": network.reduction, "words": words,
            "formula": f"L = {divisor}{over} {entry}, \\quad {entry} = {_ENTRY_LOSSES[network.loss]}"}


def _training(example) -> dict[str, Any]:
    """The SGD options in words, for the network section."""
    N = example.X.shape[1]
    return {
        "batch_size": example.batch_size,
        "batches": example.batch_size < N,
        "last_batch": example.last_batch if N % example.batch_size and example.last_batch != "wrap"
        else "",
        "shuffle_seed": example.shuffle_seed,
        "freeze": [notation.symbol(name) for name in example.freeze],
        "weight_decay": setting(example.weight_decay) if example.weight_decay else "",
        "decay_biases": example.decay_biases,
        "momentum": setting(example.momentum) if example.momentum else "",
        "dampening": setting(example.dampening) if example.dampening else "",
        "nesterov": example.nesterov,
        "rules": _momentum_rules(example),
    }


def _momentum_rules(example) -> dict[str, str]:
    """torch.optim.SGD's momentum update in TeX: the velocity's rule at the first step and
    after it, and the parameters' rule (not named `update`: Jinja would find dict.update)."""
    later = (r"v \leftarrow \mu v + (1 - d) \nabla_\theta" if example.dampening
             else r"v \leftarrow \mu v + \nabla_\theta")
    return {"first": r"v \leftarrow \nabla_\theta" if example.dampening else later,
            "later": later,
            "parameters": r"\theta \leftarrow \theta - \eta \left(\nabla_\theta + \mu v\right)"
            if example.nesterov else r"\theta \leftarrow \theta - \eta \, v"}


def _step(index: int, step: TrainingStep, worked: WorkedExample, show: _Formatter) -> dict:
    """One detailed step: its samples, every forward and backward value, the update."""
    exact = isinstance(step.loss, sympy.Basic)
    derivation, example = worked.derivation, worked.example
    columns = list(step.samples)
    batch = example.batch_size < example.X.shape[1] or example.shuffle_seed is not None
    data = [show.matrix(name, value[:, columns], show.live(name, index, value[:, columns]))
            for name, value in (("X", example.X), ("Y", example.Y))]
    scalars = [d for d in derivation.forward if not isinstance(d.symbol, sympy.MatrixSymbol)]
    floats = worked.steps[index - 1]  # the answer key's numbers (an exact step's, rounded)
    paths = {"L": "loss", **{g.name: f"gradients.{p.name}"
                             for p, g in zip(derivation.parameters, derivation.gradients)}}

    def shown(d: Definition) -> dict[str, Any]:
        name = d.symbol.name
        live = show.live(paths.get(name, f"intermediates.{name}"), index, floats.values[name])
        return show.matrix(tex(d.symbol), step.values[name], live)

    return {
        "index": index,
        "samples": ", ".join(str(i + 1) for i in step.samples),
        "data": data if batch else [],
        "forward": [shown(d) for d in derivation.forward if d not in scalars],
        "scalars": [{**shown(d), "symbol": tex(d.symbol),
                     "value": show.number(step.values[d.symbol.name]),
                     "decimal": number(float(step.values[d.symbol.name]), show.precision)
                     if exact else ""} for d in scalars],
        "loss": show.number(step.loss),
        "loss_decimal": number(float(step.loss), show.precision) if exact else "",
        "backward": [shown(d) for d in derivation.backward],
        "frozen": [notation.symbol(name) for name in example.freeze],
        "velocity": [show.matrix(notation.velocity(n), v,
                                 show.live(f"velocity.{n}", index, floats.velocity[n], n))
                     for n, v in step.velocity.items()],
        "updated": [show.matrix(notation.updated(n), v,
                                show.live(f"updated.{n}", index, floats.updated[n], n))
                    for n, v in step.updated.items()],
    }


def _loss_table(steps: tuple[TrainingStep, ...], show: _Formatter,
                options: RenderOptions) -> dict:
    """The loss of (up to `loss_table_rows` evenly spread) steps, beside the first weights."""
    count = min(len(steps), options.loss_table_rows)
    rows = sorted({round(i * (len(steps) - 1) / max(count - 1, 1)) for i in range(count)})
    columns = [(name, position) for name, value in steps[0].parameters.items()
               for position in np.ndindex(value.shape)][:options.step_table_weights]
    return {
        "columns": [notation.entry(name, row + 1, column + 1) for name, (row, column) in columns],
        "data_loss": steps[0].data_loss is not None,
        "rows": [{"step": i + 1, "loss": show.number(steps[i].loss),
                  "data_loss": show.number(steps[i].data_loss)
                  if steps[i].data_loss is not None else "",
                  "weights": [show.number(float(steps[i].parameters[name][position]))
                              for name, position in columns],
                  "live": {"loss": show.live("loss", i + 1, steps[i].loss),
                           "data_loss": show.live("data_loss", i + 1, steps[i].data_loss or 0.0),
                           "weights": [show.live(_entry_path(name, position), i + 1,
                                                 steps[i].parameters[name][position])
                                       for name, position in columns]}}
                 for i in rows],
        "losses": [step.loss for step in steps],
    }


def _entry_path(name: str, position: tuple[int, ...]) -> str:
    """The dotted path of one parameter entry in a step of the answer key (b_l is flat)."""
    indices = position[:1] if name.startswith("b") else position
    return ".".join([f"weights.{name}", *map(str, indices)])


def _proof(worked: WorkedExample) -> dict | None:
    proof = worked.proof
    if proof is None:
        return None
    output = f"delta{len(worked.derivation.activations)}"
    delta = next(d for d in worked.derivation.backward if d.symbol.name == output)
    return {"kind": proof.kind, "classes": proof.classes, "loss": tex(proof.loss),
            "residual": tex(proof.residual), "symbol": tex(delta.symbol),
            "formula": tex(delta.expr)}


def _cross_check(worked: WorkedExample) -> dict:
    """Which element-wise check ran: the whole network expanded, the layers below a softmax
    (whose step is proven instead), or none (too many terms to expand)."""
    network = worked.example.network
    return {"expanded": worked.expansion is not None,
            "softmax": network.activations[-1] == "softmax",
            "output_gradient": network.loss in ("l2", "mse"),
            "output": network.depth,
            "terms": f"{expanded_terms(worked.example):,}",
            "limit": f"{MAX_TERMS:,}"}


def _expanded(worked: WorkedExample, options: RenderOptions) -> dict | None:
    """The first entry of dL/dW1, differentiated from the expanded loss: its first
    `max_terms` terms and how many it has."""
    expansion = worked.expansion
    if expansion is None:
        return None
    symbols = dict(expansion.weights)
    if expansion.upstream is not None:
        symbols[f"delta{worked.example.network.depth}"] = expansion.upstream
    names = {w: notation.entry(name, i + 1, j + 1) for name, matrix in symbols.items()
             for (i, j), w in np.ndenumerate(np.array(matrix.tolist(), dtype=object))}
    terms = sympy.Add.make_args(expansion.elementwise["W1"][0, 0])
    shown = [tex(term, names) for term in terms[:options.max_terms]]
    return {"weight": names[expansion.weights["W1"][0, 0]],
            "terms": [t if t.startswith("-") else f"+ {t}" for t in shown],
            "total": len(terms)}


def _check(worked: WorkedExample) -> dict:
    """The gradient check table, every number in TeX's scientific notation."""
    return {
        "step": scientific(STEP),
        "tolerance": scientific(TOLERANCE),
        "absolute_tolerance": scientific(ABSOLUTE_TOLERANCE),
        "rows": [{
            "parameter": notation.symbol(c.parameter),
            "checked": c.checked,
            "total": c.total,
            "max_abs_error": scientific(c.max_abs_error),
            "relative_error": scientific(c.relative_error),
            "passed": c.passed,
            "kinks": [notation.entry(c.parameter, i + 1, j + 1) for i, j in c.kinks],
        } for c in worked.checks],
    }
