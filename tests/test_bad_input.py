"""Bad example files: exit code 2 and one line `file: field: what is wrong`, nothing else.

Each case edits the seed example in one place; the table doubles as the list of messages in
docs/example-files.md.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from derive.cli import main

SEED = (Path(__file__).resolve().parents[1] / "examples" / "seed.toml").read_text()

CASES = [
    # (case, text replaced, replacement, field, words in the message)
    ("invalid TOML", "loss = \"l2\"", "loss = l2", "toml", "invalid TOML"),
    ("misspelt top-level key", "[training]", "[trainng]", "trainng", "did you mean 'training'"),
    ("unknown network key", "bias = false", "bias = false\nbiass = true", "network.biass",
     "did you mean 'bias'"),
    ("missing table", "[weights]\nW1", "[weight]\nW1", "weight", "did you mean 'weights'"),
    ("title not text", 'title = "Seed: a 2-3-1 ReLU network"', "title = 3", "title",
     "must be a string"),
    ("sizes not a list", "sizes = [2, 3, 1]", "sizes = 3", "network.sizes", "list of 2 to"),
    ("zero width", "sizes = [2, 3, 1]", "sizes = [2, 0, 1]", "network.sizes[1]",
     "between 1 and 4096"),
    ("fractional width", "sizes = [2, 3, 1]", "sizes = [2, 3.5, 1]", "network.sizes[1]",
     "whole number"),
    ("one activation too few", 'activations = ["relu", "linear"]', 'activations = ["relu"]',
     "network.activations", "2 names, one per layer"),
    ("unknown activation", 'activations = ["relu", "linear"]', 'activations = ["relux", "linear"]',
     "network.activations[0]", "unknown activation 'relux'"),
    ("softmax in a hidden layer", 'activations = ["relu", "linear"]',
     'activations = ["softmax", "linear"]', "network.activations[0]", "last layer only"),
    ("unknown loss", 'loss = "l2"', 'loss = "l3"', "network.loss", "unknown loss 'l3'"),
    ("cross-entropy without softmax", 'loss = "l2"', 'loss = "cross_entropy"',
     "network.activations", "needs a softmax output layer"),
    ("bce without sigmoid", 'loss = "l2"', 'loss = "bce"', "network.activations",
     "sigmoid output layer"),
    ("bias not a boolean", "bias = false", 'bias = "no"', "network.bias", "true or false"),
    ("ragged rows", "[0.20, -0.05]]", "[0.20]]", "data.X[3]", "must have 2 entries, not 1"),
    ("X not a list", "X = [[0.75, 0.80], [0.20, 0.05], [-0.75, 0.80], [0.20, -0.05]]", "X = 1",
     "data.X", "non-empty list of rows"),
    ("text in the data", "[0.20, 0.05]", '[0.20, "0.05"]', "data.X[1][1]",
     "must be a number, not '0.05'"),
    ("NaN in the data", "[0.20, 0.05]", "[0.20, nan]", "data.X[1][1]", "must be finite"),
    ("infinity in a weight", "[0.0, 0.88]", "[0.0, inf]", "weights.W1[2][1]", "must be finite"),
    ("a boolean as a number", "[0.20, 0.05]", "[0.20, true]", "data.X[1][1]",
     "must be a number, not True"),
    ("too few targets", "y = [1, 1, -1, -1]", "y = [1, 1, -1]", "data.y", "must have 4 entries"),
    ("weights of the wrong shape", "W2 = [[0.02, 0.03, 0.09]]", "W2 = [[0.02, 0.03]]",
     "weights.W2[0]", "must have 3 entries, not 2"),
    ("too many weight rows", "W2 = [[0.02, 0.03, 0.09]]", "W2 = [[0.02, 0.03, 0.09], [1, 2, 3]]",
     "weights.W2", "must have 1 rows"),
    ("missing weights", "W2 = [[0.02, 0.03, 0.09]]", "", "weights.W2", "missing (1 x 3 matrix)"),
    ("weights of a layer that does not exist", "W2 = [[0.02, 0.03, 0.09]]",
     "W2 = [[0.02, 0.03, 0.09]]\nW3 = [[1.0]]", "weights.W3", "unknown key"),
    ("biases without bias = true", "W2 = [[0.02, 0.03, 0.09]]",
     "W2 = [[0.02, 0.03, 0.09]]\nb2 = [0.1]", "weights.b2", "network.bias is false"),
    ("missing biases", "bias = false", "bias = true", "weights.b1", "missing (list of 3 numbers)"),
    ("learning rate as text", "learning_rate = 0.5", 'learning_rate = "0.5"',
     "training.learning_rate", "must be a number"),
    ("negative learning rate", "learning_rate = 0.5", "learning_rate = -0.5",
     "training.learning_rate", "must be positive"),
    ("zero steps", "steps = 2", "steps = 0", "training.steps", "between 1 and 10000"),
    ("absurdly many steps", "steps = 2", "steps = 1000000", "training.steps", "between 1 and 10000"),
    ("precision out of range", "precision = 4", "precision = 40", "render.precision",
     "between 0 and 12"),
    ("negative precision", "precision = 4", "precision = -1", "render.precision",
     "between 0 and 12"),
]


def run(path: Path, capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    code = main(["values", str(path)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("case, old, new, field, words", CASES, ids=[c[0] for c in CASES])
def test_bad_field_gives_one_clear_line(tmp_path, capsys, case, old, new, field, words):
    assert old in SEED, case
    path = tmp_path / "bad.toml"
    path.write_text(SEED.replace(old, new, 1))
    code, out, err = run(path, capsys)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith(f"{path}: {field}: "), err
    assert words in err


def test_bce_targets_outside_zero_one(tmp_path, capsys):
    text = SEED.replace('"linear"]', '"sigmoid"]').replace('loss = "l2"', 'loss = "bce"')
    path = tmp_path / "bce.toml"
    path.write_text(text)
    assert run(path, capsys)[2] == f"{path}: data.y: bce targets must lie in [0, 1]\n"


def test_cross_entropy_targets_must_be_distributions(tmp_path, capsys):
    text = (SEED.replace("[2, 3, 1]", "[2, 3, 2]").replace('"linear"]', '"softmax"]')
            .replace('loss = "l2"', 'loss = "cross_entropy"')
            .replace("y = [1, 1, -1, -1]", "y = [[1, 0], [0.5, 0.6], [0, 1], [1, 0]]")
            .replace("W2 = [[0.02, 0.03, 0.09]]", "W2 = [[0.02, 0.03, 0.09], [0.1, 0.2, 0.3]]"))
    path = tmp_path / "ce.toml"
    path.write_text(text)
    code, _, err = run(path, capsys)
    assert code == 2 and err.startswith(f"{path}: data.y: cross_entropy targets must be distributions")


def test_missing_file_and_directory(tmp_path, capsys):
    assert run(tmp_path / "nope.toml", capsys)[2] == f"{tmp_path / 'nope.toml'}: file: no such file\n"
    assert run(tmp_path, capsys)[2] == f"{tmp_path}: file: is a directory, not an example file\n"


def test_strings_are_never_evaluated(tmp_path, capsys):
    marker = tmp_path / "evaluated"
    payload = f"__import__('pathlib').Path('{marker}').touch()"
    path = tmp_path / "evil.toml"
    path.write_text(SEED.replace('title = "Seed: a 2-3-1 ReLU network"', f'title = "{payload}"')
                    .replace("[0.20, 0.05]", f'[0.20, "{payload}"]'))
    code, _, err = run(path, capsys)
    assert code == 2 and "must be a number" in err
    assert not marker.exists()


def test_the_command_line_prints_no_traceback(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(SEED.replace("steps = 2", "steps = 0"))
    result = subprocess.run([sys.executable, "-m", "derive", "values", str(path)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == f"{path}: training.steps: must be between 1 and 10000, not 0\n"
