"""The JSON answer key of an example: every number of every training step."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from .numeric import TrainingStep
from .spec import Example


def answer_key(example: Example, steps: list[TrainingStep]) -> dict[str, Any]:
    """Matrices as nested lists (W_l as sizes[l] x sizes[l-1], b_l flat), one entry per step."""
    network = example.network
    return {
        "example": example.name,
        "title": example.title,
        "network": {"sizes": list(network.sizes), "activations": list(network.activations),
                    "loss": network.loss, "bias": network.bias},
        "learning_rate": example.learning_rate,
        "steps": [
            {
                "step": index,
                "weights": _parameters(step.parameters),
                "loss": step.loss,
                "gradients": _parameters(step.gradients),
                "updated": _parameters(step.updated),
                "intermediates": {name: value.tolist() for name, value in step.values.items()
                                  if not name.startswith("dL_d") and name != "L"},
            }
            for index, step in enumerate(steps, start=1)
        ],
    }


def _parameters(values: dict[str, np.ndarray]) -> dict[str, Any]:
    return {name: (value.ravel() if name.startswith("b") else value).tolist()
            for name, value in values.items()}


def to_json(key: dict[str, Any]) -> str:
    """Stable text: the same numbers always give the same bytes."""
    return json.dumps(key, indent=2) + "\n"
