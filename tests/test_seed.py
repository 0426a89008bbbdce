"""The seed example reproduces every number the notebook printed.

The expected numbers below are copied from the notebook's printed output (its 8 printed digits),
which is the oracle this project started from.
"""

import json
import subprocess
import sys

import numpy as np
import pytest

from derive import load_example, train

NOTEBOOK = {
    "loss": 0.49161195,  # not printed by the notebook's final run: see test_first_loss_by_hand
    "dL_dW2": [[-0.10294599, -0.2059524, 0.01762657]],
    "dL_dW1": [[-0.00336313, -0.00410432], [-0.00504469, -0.00615648], [-0.03760503, 0.00180272]],
    "delta_out": [[-0.2253525, -0.24719625, 0.26584, 0.25148625]],
    "delta_1": [[-0.00450705, -0.00494393, 0.0, 0.00502973],
                [-0.00676058, -0.00741589, 0.0, 0.00754459],
                [-0.02028173, -0.02224766, 0.0239256, 0.0]],
    "W2_updated": [[0.07147299, 0.1329762, 0.08118672]],
    "W1_updated": [[0.60168156, 0.01205216], [0.70252235, 0.43307824], [0.01880251, 0.87909864]],
    # Cell In [54], which ran after the update (In [51]): the forward pass of step 2.
    "s": [[0.4609029, 0.12093892, -0.44161944, 0.1197337],
          [0.87335435, 0.16215838, -0.18042917, 0.11885056],
          [0.7173808, 0.04771543, 0.68917703, -0.04019443]],
    "s_out": [[0.20731924, 0.03408093, 0.05595202, 0.02436202]],
    "loss_after_update": 0.46571183,
}
PRINTED = 5.001e-9  # the notebook prints 8 decimals: half a unit there, ties included


@pytest.fixture(scope="module")
def answer_key():
    result = subprocess.run([sys.executable, "-m", "derive", "values", "examples/seed.toml"],
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def test_values_prints_one_entry_per_training_step(answer_key):
    assert [step["step"] for step in answer_key["steps"]] == [1, 2]


def test_first_loss_by_hand(answer_key):
    X = np.array([[0.75, 0.80], [0.20, 0.05], [-0.75, 0.80], [0.20, -0.05]]).T
    W1 = np.array([[0.6, 0.01], [0.7, 0.43], [0.0, 0.88]])
    W2 = np.array([[0.02, 0.03, 0.09]])
    y = np.array([1, 1, -1, -1])
    by_hand = np.sum((y - W2 @ np.maximum(W1 @ X, 0)) ** 2) / 8
    assert answer_key["steps"][0]["loss"] == pytest.approx(by_hand, abs=1e-15)
    assert answer_key["steps"][0]["loss"] == pytest.approx(NOTEBOOK["loss"], abs=PRINTED)


@pytest.mark.parametrize("ours, printed", [
    (("gradients", "W1"), "dL_dW1"),
    (("gradients", "W2"), "dL_dW2"),
    (("updated", "W1"), "W1_updated"),
    (("updated", "W2"), "W2_updated"),
    (("intermediates", "delta2"), "delta_out"),
    (("intermediates", "G2"), "delta_out"),
    (("intermediates", "delta1"), "delta_1"),
])
def test_first_step_matches_the_notebook(answer_key, ours, printed):
    table, name = ours
    value = answer_key["steps"][0][table][name]
    np.testing.assert_allclose(value, NOTEBOOK[printed], rtol=0, atol=PRINTED)


def test_second_step_is_the_notebooks_out_of_order_forward_pass(answer_key):
    second = answer_key["steps"][1]
    np.testing.assert_allclose(second["intermediates"]["S1"], NOTEBOOK["s"], atol=PRINTED)
    np.testing.assert_allclose(second["intermediates"]["S2"], NOTEBOOK["s_out"], atol=PRINTED)
    assert second["loss"] == pytest.approx(NOTEBOOK["loss_after_update"], abs=PRINTED)
    np.testing.assert_allclose(second["weights"]["W1"], NOTEBOOK["W1_updated"], atol=PRINTED)


def test_second_step_starts_from_the_first_steps_update(answer_key):
    first, second = answer_key["steps"]
    assert second["weights"] == first["updated"]


def test_training_in_python_equals_the_command_line(answer_key):
    steps = train(load_example("examples/seed.toml"))
    assert [s.loss for s in steps] == [s["loss"] for s in answer_key["steps"]]
