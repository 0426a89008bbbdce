"""`python -m derive variants`: valid, different, reproducible examples with answer keys."""

import contextlib
import dataclasses
import io
import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from derive import load_example
from derive.cli import main
from derive.variants import write_variants
from derive.worked import worked_example

ROOT = Path(__file__).resolve().parents[1]
# Variants are checked by their numbers and files; the entry-by-entry cross-check changes neither.
pytestmark = pytest.mark.usefixtures("numbers_only")


def variants(out: Path, seed: int = 5, example: str = "seed") -> list[Path]:
    args = ["variants", str(ROOT / "examples" / f"{example}.toml"), "--count", "3",
            "--seed", str(seed), "--out", str(out)]
    assert main(args) == 0
    return sorted(out.glob("*.toml"))


def values(path: Path) -> dict:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["values", str(path)]) == 0
    return json.loads(out.getvalue())


def test_three_valid_different_variants_whose_keys_values_reproduces(tmp_path):
    paths = variants(tmp_path)
    assert [p.name for p in paths] == ["seed-v1.toml", "seed-v2.toml", "seed-v3.toml"]
    seed = load_example(ROOT / "examples" / "seed.toml")
    examples = [load_example(p) for p in paths]
    for example in examples:
        assert example.network == seed.network
        assert example.X.shape == seed.X.shape and example.steps == seed.steps
        np.testing.assert_array_equal(np.round(example.X, 2), example.X)
        key = json.loads(example.path.with_suffix(".json").read_text())
        assert values(example.path) == key
        assert (example.path.with_suffix(".tex")).read_text().startswith("\\documentclass")
    assert len({example.X.tobytes() + example.weights[0].tobytes() for example in examples}) == 3
    assert not any(np.array_equal(e.X, seed.X) for e in examples)


def test_the_same_seed_gives_the_same_files_and_another_seed_others(tmp_path):
    first, again, other = (variants(tmp_path / name, seed) for name, seed in
                           (("a", 11), ("b", 11), ("c", 12)))
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in again]
    assert [p.read_bytes() for p in first] != [p.read_bytes() for p in other]


def test_classifier_variants_keep_one_hot_targets(tmp_path):
    for path in variants(tmp_path, example="softmax-classifier"):
        example = load_example(path)
        assert set(np.unique(example.Y)) <= {0.0, 1.0}
        np.testing.assert_array_equal(example.Y.sum(axis=0), 1.0)


def test_targets_keep_their_form(tmp_path):
    for path in variants(tmp_path / "seed"):
        assert set(np.unique(load_example(path).Y)) <= {-1.0, 1.0}  # the seed's targets are ±1
    for path in variants(tmp_path / "regression", example="tanh-regression"):
        Y = load_example(path).Y
        assert len(np.unique(Y)) > 2 and np.all(np.abs(Y) <= 1)


def test_each_variant_has_a_question_sheet_without_answers(tmp_path):
    for path in variants(tmp_path):
        sheet = path.with_name(f"{path.stem}-questions.tex").read_text()
        key = json.loads(path.with_suffix(".json").read_text())
        assert r"\section*{Questions}" in sheet and "SGD step" in sheet
        first_x = f"{key['steps'][0]['intermediates']['S1'][0][0]:.4f}"
        assert first_x not in sheet  # no forward values, let alone gradients
        assert f"{load_example(path).X[0, 0]:.4f}" in sheet


def toml_basic_string(text: str) -> str:
    """`text` as a TOML basic string, escaped by hand (the oracle for derive's writer)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def test_titles_with_quotes_backslashes_and_any_unicode_read_back_the_same(tmp_path):
    title = 'A "quoted" \\back\\slash\\, \'\'\' # not a comment, ünïcødé 😀 中文'
    seed = (ROOT / "examples" / "seed.toml").read_text()
    example = tmp_path / "odd.toml"
    example.write_text(f"title = {toml_basic_string(title)}\n" + seed[seed.index("[network]"):])
    assert main(["variants", str(example), "--count", "2", "--out", str(tmp_path / "out")]) == 0
    written = sorted((tmp_path / "out").glob("*.toml"))
    assert [load_example(path).title for path in written] == [
        f"{title} (variant {number})" for number in (1, 2)]


def test_every_control_character_is_escaped_as_toml_requires(tmp_path):
    controls = "".join(map(chr, [*range(0x20), 0x7F]))
    original = worked_example(ROOT / "examples" / "seed.toml")
    odd = dataclasses.replace(original, example=dataclasses.replace(
        original.example, title=controls + 'end "of" \\ title'))
    (path,) = write_variants(odd, 1, 0, tmp_path / "out")
    text = path.read_text(encoding="utf-8")
    assert not any(character in text.split("\n", 1)[0] for character in controls)
    assert tomllib.loads(text)["title"] == controls + 'end "of" \\ title (variant 1)'


def test_a_moodle_question_bank_only_when_asked(tmp_path):
    variants(tmp_path / "plain")
    assert not list((tmp_path / "plain").glob("*.xml"))
    args = ["variants", str(ROOT / "examples" / "seed.toml"), "--count", "2", "--out",
            str(tmp_path / "moodle"), "--moodle"]
    assert main(args) == 0
    assert [p.name for p in (tmp_path / "moodle").glob("*.xml")] == ["seed-moodle.xml"]
    assert sorted(p.name for p in (tmp_path / "moodle").glob("*.toml")) == [
        "seed-v1.toml", "seed-v2.toml"]
