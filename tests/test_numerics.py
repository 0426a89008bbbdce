"""Losses stay finite and exact where probabilities round to 0 or 1, and a run that diverges
stops with one line instead of printing NaN."""

import json
import subprocess
import sys
import warnings
from pathlib import Path

import mpmath
import numpy as np
import pytest
import torch
from reference import toml_example

from derive.compile.runtime import sigmoid
from derive.worked import worked_example

ROOT = Path(__file__).resolve().parents[1]


def one_unit(tmp_path: Path, weight: float) -> Path:
    """sizes [1, 1], sigmoid, bce, X = [[1.0]], y = [1]: the output is sigmoid(weight)."""
    path = tmp_path / "saturated.toml"
    path.write_text(toml_example([1, 1], ["sigmoid"], "bce", False, [[1.0]], [[1.0]],
                                 [[[weight]]], []))
    return path


@pytest.mark.parametrize("weight", [40.0, -40.0, 5.0, -700.0])
def test_bce_of_a_saturated_sigmoid_is_exact(tmp_path, weight):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = worked_example(one_unit(tmp_path, weight)).steps[0].loss
    logits = torch.tensor([[weight]], dtype=torch.float64)
    expected = torch.nn.BCEWithLogitsLoss()(logits, torch.ones_like(logits)).item()
    exact = float(mpmath.log1p(mpmath.exp(-mpmath.mpf(weight))))
    assert loss == pytest.approx(exact, rel=1e-14)
    assert expected == pytest.approx(exact, rel=1e-14)


@pytest.mark.parametrize("gap", [800.0, -800.0, 3.0])
def test_cross_entropy_of_far_apart_logits_is_exact(tmp_path, gap):
    path = tmp_path / "gap.toml"
    path.write_text(toml_example([1, 2], ["softmax"], "cross_entropy", False, [[1.0]],
                                 [[1.0, 0.0]], [[[0.0], [gap]]], []))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = worked_example(path).steps[0].loss
    logits = torch.tensor([[0.0, gap]], dtype=torch.float64)
    expected = torch.nn.CrossEntropyLoss()(logits, torch.tensor([[1.0, 0.0]], dtype=torch.float64))
    exact = float(mpmath.log(1 + mpmath.exp(mpmath.mpf(gap))))
    assert loss == pytest.approx(exact, rel=1e-14)
    assert expected.item() == pytest.approx(exact, rel=1e-14)


def test_the_sigmoid_is_accurate_to_machine_precision_for_either_sign():
    x = np.array([-745.0, -300.0, -37.0, -30.0, -1e-8, 0.0, 1e-8, 1.0, 30.0, 700.0])
    exact = np.array([float(1 / (1 + mpmath.exp(-mpmath.mpf(v)))) for v in x])
    np.testing.assert_allclose(sigmoid(x), exact, rtol=4e-16, atol=0)


def test_a_diverging_run_stops_every_command_with_one_line(tmp_path):
    path = tmp_path / "diverging.toml"
    path.write_text((ROOT / "examples" / "tanh-regression.toml").read_text()
                    .replace("learning_rate = 0.2", "learning_rate = 1e6")
                    .replace("steps = 20", "steps = 100"))
    for command in ("values", "check", "build"):
        arguments = [str(path), "--site-dir", str(tmp_path / "site")] if command == "build" \
            else [str(path)]
        result = subprocess.run([sys.executable, "-W", "error", "-m", "derive", command,
                                 *arguments], capture_output=True, text=True, cwd=ROOT,
                                check=False)
        assert result.returncode == 2, (command, result.stderr)
        last = result.stderr.splitlines()[-1]
        assert last.startswith(f"{path}: training: step ") and "lower training.learning_rate" in last
        assert " is inf" in last or " is nan" in last
        assert "Traceback" not in result.stderr and "RuntimeWarning" not in result.stderr
        assert result.stdout == ""
    assert not (tmp_path / "site").exists()


def test_values_is_always_strict_json():
    result = subprocess.run([sys.executable, "-m", "derive", "values", "examples/softmax-classifier.toml"],
                            capture_output=True, text=True, cwd=ROOT, check=True)

    def refuse(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    key = json.loads(result.stdout, parse_constant=refuse)
    assert key["final"]["loss"] < key["steps"][0]["loss"]
    assert set(key["final"]["weights"]) == {"W1", "b1", "W2", "b2"}
    # Indented object by object, each matrix on a line of its own, row by row.
    first = key["steps"][0]
    assert f'\n      "samples": {json.dumps(first["samples"])},\n' in result.stdout
    assert f'\n        "W1": {json.dumps(first["weights"]["W1"])},\n' in result.stdout
