"""The JSON answer key of an example: every number of every training step, strict JSON."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ..worked import WorkedExample


def answer_key(worked: WorkedExample) -> dict[str, Any]:
    """Matrices as nested lists (W_l as sizes[l] x sizes[l-1], b_l flat), one entry per step,
    and the loss and weights after the last update under "final".

    Each step lists its samples (columns of X, counted from 0) and its loss; with mini-batches
    also `data_loss`, the loss of all samples at the same weights; with momentum the velocity
    after the step. "gradients" are of the objective SGD minimises (with weight decay, J).
    `near_kinks` lists the relu-like pre-activation (and hinge margin) entries (row, column from
    0) whose float sign rounding could have decided, where there are any. `labels` are the
    file's class labels (Y holds them one-hot), null when it gives target rows.
    """
    example, network = worked.example, worked.example.network
    return {
        "example": example.name,
        "title": example.title,
        "network": {"sizes": list(network.sizes), "activations": list(network.activations),
                    "loss": network.loss, "reduction": network.reduction, "bias": network.bias,
                    "leaky_slope": network.leaky_slope},
        "labels": list(example.labels) if example.labels is not None else None,
        "weights_drawn": example.drawn or None,
        "biases_drawn": example.bias_init or None,
        "learning_rate": example.learning_rate,
        "training": {"batch_size": example.batch_size, "last_batch": example.last_batch,
                     "shuffle_seed": example.shuffle_seed, "freeze": list(example.freeze),
                     "weight_decay": example.weight_decay, "decay_biases": example.decay_biases,
                     "momentum": example.momentum, "dampening": example.dampening,
                     "nesterov": example.nesterov},
        "steps": [
            {
                "step": index,
                "samples": list(step.samples),
                "weights": _parameters(step.parameters),
                "loss": step.loss,
                **({"data_loss": step.data_loss} if step.data_loss is not None else {}),
                "gradients": _parameters(step.gradients),
                **({"velocity": _parameters(step.velocity)} if step.velocity else {}),
                "updated": _parameters(step.updated),
                "intermediates": {name: value.tolist() for name, value in step.values.items()
                                  if name[:4] not in ("dL_d", "dJ_d") and name != "L"},
                **_near_kinks(worked, index),
            }
            for index, step in enumerate(worked.steps, start=1)
        ],
        "final": {"loss": worked.final_loss, "weights": _parameters(worked.steps[-1].updated)},
    }


def _near_kinks(worked: WorkedExample, step: int) -> dict[str, Any]:
    """The step's pre-activations within rounding of a kink (see `verify.kinks`), if any."""
    found = [{"quantity": f"intermediates.{k.quantity}", "entry": list(k.entry),
              "value": k.value, "bound": k.bound} for k in worked.near_kinks if k.step == step]
    return {"near_kinks": found} if found else {}


def _parameters(values: dict[str, np.ndarray]) -> dict[str, Any]:
    return {name: (value.ravel() if name.startswith("b") else value).tolist()
            for name, value in values.items()}


_JSON = json.JSONEncoder(allow_nan=False)


def to_json(key: dict[str, Any]) -> str:
    """Stable, strict text (RFC 8259: never NaN or Infinity): the same numbers, the same bytes.

    Objects, and lists of objects, are indented a member per line; anything else (a number, a
    string, a matrix as its list of rows) stays on its line, as `json.dumps` writes it: a key
    reads a matrix row by row, and its numbers are written by `json`'s C encoder, which
    indenting every number gives up for the pure-Python one (a key of 10,000 steps: half the
    size, in 1.0 s instead of 1.6 s).
    """
    return _encoded(key, "") + "\n"


def _encoded(value: Any, indent: str) -> str:
    inner = indent + "  "
    if isinstance(value, dict) and value:
        members = (f"{inner}{_JSON.encode(name)}: {_encoded(item, inner)}"
                   for name, item in value.items())
        return "{\n" + ",\n".join(members) + f"\n{indent}}}"
    if isinstance(value, list) and any(isinstance(item, dict) for item in value):
        return "[\n" + ",\n".join(inner + _encoded(item, inner) for item in value) + f"\n{indent}]"
    return _JSON.encode(value)
