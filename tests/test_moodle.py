"""`derive variants --moodle`: a Moodle XML question bank whose every blank is the answer key's
number, whose every wrong answer is a hand-written NumPy step making the named mistake, and
whose text survives Moodle's Cloze syntax and XML whatever the example's title holds.

The Cloze parser here follows Moodle's documentation of the "Embedded answers" syntax, not
derive's writer: `{N:NUMERICAL:=right:tolerance#feedback~%P%wrong:tolerance#feedback~...}`,
where a backslash makes the next character literal."""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
from test_mistakes import differs, hand_step, quantities

from derive import worked_example
from derive.cli import main
from derive.mistakes import catalogue
from derive.moodle import blank, escape_feedback
from derive.present.pages import example_files

ROOT = Path(__file__).resolve().parents[1]
# A bank is checked by its numbers and text; the entry-by-entry cross-check changes neither.
pytestmark = pytest.mark.usefixtures("numbers_only")


# Moodle's documented Cloze syntax, parsed independently of derive.

class Answer(NamedTuple):
    grade: float
    value: float
    tolerance: float
    feedback: str


_START = re.compile(r"\{(\d*):(NUMERICAL|NM):")


def blanks(text: str) -> list[list[Answer]]:
    """Every numerical blank of a question text, in order: its answers, first to last."""
    found, position = [], 0
    while (start := _START.search(text, position)) is not None:
        tokens, i = [], start.end()
        while text[i] != "}":
            token = text[i:i + 2] if text[i] == "\\" else text[i]
            tokens.append(token)
            i += len(token)
        found.append([_answer(part) for part in _split(tokens, "~")])
        position = i + 1
    return found


def _split(tokens: list[str], separator: str) -> list[list[str]]:
    parts: list[list[str]] = [[]]
    for token in tokens:
        if token == separator:
            parts.append([])
        else:
            parts[-1].append(token)
    return parts


def _answer(tokens: list[str]) -> Answer:
    text = "".join(tokens)
    grade = 100.0 if text.startswith("=") else 0.0
    if text.startswith("%"):
        grade = float(text[1:text.index("%", 1)])
        tokens = tokens[text.index("%", 1) + 1:]
    elif text.startswith("="):
        tokens = tokens[1:]
    answer, *feedback = _split(tokens, "#")
    value, tolerance = "".join(answer).split(":")
    assert not feedback or len(feedback) == 1, "an unescaped # inside a feedback"
    words = "".join(t[-1] for t in feedback[0]) if feedback else ""  # \X is the character X
    return Answer(grade, float(value), float(tolerance), html.unescape(words))


# Running derive.

def bank(out: Path, example: str = "seed", seed: int = 5, count: int = 2,
         ask: tuple[str, ...] = ()) -> ET.Element:
    args = ["variants", str(ROOT / "examples" / f"{example}.toml"), "--count", str(count),
            "--seed", str(seed), "--out", str(out), "--moodle"]
    for quantity in ask:
        args += ["--ask", quantity]
    assert main(args) == 0
    return ET.parse(out / f"{example}-moodle.xml").getroot()


def questions(quiz: ET.Element) -> list[ET.Element]:
    return [q for q in quiz.findall("question") if q.get("type") == "cloze"]


def key(out: Path, example: str, number: int) -> dict:
    return json.loads((out / f"{example}-v{number}.json").read_text())


def flat(step: dict, quantity: str) -> list[float]:
    group, _, name = quantity.partition(".")
    return np.ravel(step[group][name] if name else step[group]).tolist()


# The file.

def test_a_quiz_of_a_category_and_one_cloze_question_per_variant(tmp_path):
    quiz = bank(tmp_path, count=3)
    assert (tmp_path / "seed-moodle.xml").read_bytes().startswith(
        b'<?xml version="1.0" encoding="UTF-8"?>\n<quiz>')
    category, *rest = quiz.findall("question")
    assert category.get("type") == "category"
    assert category.findtext("category/text") == "$course$/derive/Seed: a 2-3-1 ReLU network"
    assert [q.get("type") for q in rest] == ["cloze"] * 3
    names = [q.findtext("name/text") for q in rest]
    assert names == [f"Seed: a 2-3-1 ReLU network — variant {n}" for n in (1, 2, 3)]
    for question in rest:
        assert question.find("questiontext").get("format") == "html"
        assert question.find("generalfeedback").get("format") == "html"
    raw = (tmp_path / "seed-moodle.xml").read_text(encoding="utf-8")
    assert raw.count("<![CDATA[") == 2 * 3  # question text and general feedback, as HTML


def test_every_right_answer_is_the_variants_answer_key_number(tmp_path):
    quiz = bank(tmp_path)
    for number, question in enumerate(questions(quiz), start=1):
        step = key(tmp_path, "seed", number)["steps"][0]
        wanted = [v for q in ("gradients.W1", "gradients.W2", "updated.W1", "updated.W2")
                  for v in flat(step, q)]
        found = blanks(question.findtext("questiontext/text"))
        assert [b[0].grade for b in found] == [100.0] * len(wanted)
        assert [b[0].value for b in found] == wanted  # exactly: every digit of the float
        for answers, right in zip(found, wanted):
            assert all(a.tolerance == 0.00005 for a in answers)  # half a unit of 4 decimals
            assert abs(float(f"{right:.4f}") - right) <= 0.00005  # the rounded number is right


def test_the_question_shows_the_network_data_and_weights(tmp_path):
    question = questions(bank(tmp_path))[0]
    text = question.findtext("questiontext/text")
    example = json.loads((tmp_path / "seed-v1.json").read_text())
    assert "<td>relu</td>" in text and "<b>l2</b>" in text and r"\eta = 0.5" in text
    W1 = example["steps"][0]["weights"]["W1"]
    assert r"\[ W^{[1]} = \begin{bmatrix}" + " &amp; ".join(f"{v:.4f}" for v in W1[0]) in text
    assert r"\frac{\partial L}{\partial W^{[1]}}" in text


ASKED = {
    "seed": ("gradients", "updated"),
    "sigmoid-bias": ("gradients", "updated", "intermediates.delta1", "loss"),
    "softmax-classifier": ("gradients", "2:intermediates.delta2"),
    "tanh-momentum": ("velocity", "updated", "2:gradients.W1", "loss"),
}


@pytest.mark.parametrize("example", sorted(ASKED))
def test_every_wrong_answer_is_the_hand_written_mistake(tmp_path, example):
    quiz = bank(tmp_path, example, ask=ASKED[example], count=1)
    variant = worked_example(tmp_path / f"{example}-v1.toml")
    asked = [("2", q[2:]) if q.startswith("2:") else ("1", q) for q in ASKED[example]]
    step_key = key(tmp_path, example, 1)["steps"]
    paths = [(int(step), path) for step, group in sorted(asked, key=lambda a: a[0])
             for path in ([group] if "." in group or group == "loss" else
                          [f"{group}.{name}" for name in step_key[0][group]])]
    found = iter(blanks(questions(quiz)[0].findtext("questiontext/text")))
    titles = {m.title: m.id for m in catalogue(variant)}
    tolerance = 0.5 * 10.0 ** -variant.example.precision
    named = set()
    for step, path in paths:
        right = quantities(hand_step(variant, step, None))[path]
        made = {m: quantities(hand_step(variant, step, m))[path] for m in titles.values()}
        grid = right[:, None] if right.ndim == 1 else np.atleast_2d(right)
        for index in np.ndindex(grid.shape):
            answers = next(found)
            assert answers[0].value == pytest.approx(float(grid[index]), rel=1e-12, abs=1e-15)
            wanted, listed = [], [answers[0].value]
            for mistake, made_value in made.items():
                value = made_value[:, None] if made_value.ndim == 1 else np.atleast_2d(made_value)
                if value.shape != grid.shape or not differs(made_value, right, 1e-9):
                    continue  # a bias not summed has one column per sample; not offered
                if all(abs(value[index] - other) > tolerance for other in listed):
                    wanted.append((mistake, value[index]))
                    listed.append(value[index])
            got = [(titles[a.feedback.partition(": ")[0]], a.value) for a in answers[1:]]
            assert [m for m, _ in got] == [m for m, _ in wanted], (path, index)
            for (_, value), (_, hand) in zip(got, wanted):
                assert value == pytest.approx(hand, rel=1e-12, abs=1e-15), (path, index)
            assert all(a.grade == 0 for a in answers[1:])
            named |= {m for m, _ in got}
    assert next(found, None) is None
    assert "target-sign" in named


def test_the_feedback_of_a_wrong_answer_is_its_mistake_explained(tmp_path):
    answers = blanks(questions(bank(tmp_path))[0].findtext("questiontext/text"))[0]
    seed = worked_example(tmp_path / "seed-v1.toml")
    explained = {f"{m.title}: {m.explanation}" for m in catalogue(seed)}
    assert len(answers) > 2 and {a.feedback for a in answers[1:]} <= explained
    assert any("1/N" in a.feedback for a in answers)  # a reserved character, read back


def test_the_general_feedback_is_the_worked_solution(tmp_path):
    question = questions(bank(tmp_path, ask=("updated.W2",)))[0]
    solution = question.findtext("generalfeedback/text")
    step = key(tmp_path, "seed", 1)["steps"][0]
    for formula in (r"S^{[1]} = W^{[1]} X", r"\delta^{[2]} = G^{[2]}",
                    r"\frac{\partial L}{\partial W^{[2]}} = \delta^{[2]} \left(Z^{[1]}\right)^{T}",
                    r"W^{[2]}_{\text{new}} = W^{[2]} - \eta \, \frac{\partial L}{\partial W^{[2]}}"):
        assert rf"\[ {formula} = " in solution
    assert r"\delta^{[1]}" not in solution  # not needed for W2
    assert " &amp; ".join(f"{v:.4f}" for v in step["updated"]["W2"][0]) in solution
    assert len(blanks(question.findtext("questiontext/text"))) == 3


def test_the_same_seed_gives_the_same_file_and_another_seed_another(tmp_path):
    files = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        bank(tmp_path / name, seed=seed)
        files.append((tmp_path / name / "seed-moodle.xml").read_bytes())
    assert files[0] == files[1] != files[2]


def test_ask_chooses_the_steps_and_quantities(tmp_path):
    quiz = bank(tmp_path, ask=("2:intermediates.delta1", "loss"))
    step = key(tmp_path, "seed", 1)["steps"]
    found = blanks(questions(quiz)[0].findtext("questiontext/text"))
    assert [b[0].value for b in found] == [step[0]["loss"], *flat(step[1], "intermediates.delta1")]
    assert "Step 2 (samples 1, 2, 3, 4, from the weights after step 1)" in \
        questions(quiz)[0].findtext("questiontext/text")


@pytest.mark.parametrize(("args", "message"), [
    (["--moodle", "--ask", "gradients.W9"], "'gradients.W9': not a quantity of seed's steps"),
    (["--moodle", "--ask", "weights.W1"], "'weights.W1': not a quantity"),
    (["--moodle", "--ask", "3:loss"], "'3:loss': the step must be a whole number from 1 to 2"),
    (["--moodle", "--ask", "x:loss"], "the step must be a whole number"),
    (["--ask", "loss"], "--ask: chooses what the Moodle questions ask; add --moodle"),
])
def test_an_unknown_quantity_is_refused_in_one_line(tmp_path, capsys, args, message):
    out = tmp_path / "out"
    code = main(["variants", str(ROOT / "examples" / "seed.toml"), "--out", str(out), *args])
    error = capsys.readouterr().err
    assert code == 2 and message in error and error.count("\n") == 1
    assert not out.exists()


# Escaping: Moodle's syntax and XML, whatever the text holds.

HOSTILE = 'a } b # c ~ d / e " f \\ g {1:NUMERICAL:=1} & <b>h</b> ]]> \\} \\~ ½ 😀'


def test_a_feedback_with_every_reserved_character_reads_back_as_written():
    text = f"<p>{blank(0.25, 0.005, [(0.5, HOSTILE), (0.75, 'plain')])}</p>"
    (answers,) = blanks(text)
    assert answers == [Answer(100, 0.25, 0.005, ""), Answer(0, 0.5, 0.005, HOSTILE),
                       Answer(0, 0.75, 0.005, "plain")]
    escaped = escape_feedback(HOSTILE)
    assert not re.search(r"(?<!\\)[~}]", escaped)  # Moodle's feedback ends at either


def test_a_blank_lists_each_wrong_value_once_and_never_the_right_one():
    (answers,) = blanks(blank(1.0, 0.05, [(1.04, "near"), (2.0, "two"), (2.01, "again"),
                                          (float("nan"), "nan"), (-2.0, "minus")]))
    assert [(a.value, a.feedback) for a in answers] == [(1.0, ""), (2.0, "two"), (-2.0, "minus")]


def test_numbers_are_written_in_full_with_a_dot():
    (answers,) = blanks(blank(1e-05, 5e-07, [(123456789.125, "big"), (-0.0, "zero")]))
    text = blank(1e-05, 5e-07, [(123456789.125, "big"), (-0.0, "zero")])
    assert "=0.00001:0.0000005" in text and "%0%123456789.125:" in text and "%0%0:" in text
    assert [a.value for a in answers] == [1e-05, 123456789.125, 0.0]


def moodle_category(path: str) -> list[str]:
    """Moodle's reading of a category path: `/` separates, `//` is a slash in a name."""
    return [part.replace("//", "/").strip() for part in re.split(r"(?<!/)/(?!/)", path)]


def test_a_title_with_reserved_characters_is_the_name_and_category_as_written(tmp_path):
    title = f"/ {HOSTILE} /"
    seed = (ROOT / "examples" / "seed.toml").read_text()
    example = tmp_path / "odd.toml"
    header = f"title = {json.dumps(title, ensure_ascii=False)}\n"
    example.write_text(header + seed[seed.index("[network]"):])
    out = tmp_path / "out"
    args = ["variants", str(example), "--count", "1", "--out", str(out), "--moodle"]
    assert main(args) == 0
    quiz = ET.parse(out / "odd-moodle.xml").getroot()
    assert moodle_category(quiz.findtext("question/category/text")) == \
        ["$course$", "derive", title]
    (question,) = questions(quiz)
    assert question.findtext("name/text") == f"{title} — variant 1"
    assert len(blanks(question.findtext("questiontext/text"))) == 18  # the title adds none


# The example page.

def test_each_example_page_offers_the_example_as_a_moodle_question():
    worked = worked_example(ROOT / "examples" / "seed.toml")
    files = example_files(worked)
    assert "[moodle]: seed-moodle.xml" in files["examples/seed.md"]
    quiz = ET.fromstring(files["examples/seed-moodle.xml"].encode())
    (question,) = questions(quiz)
    assert question.findtext("name/text") == "Seed: a 2-3-1 ReLU network"
    step = json.loads(files["examples/seed.json"])["steps"][0]
    assert [b[0].value for b in blanks(question.findtext("questiontext/text"))] == [
        v for q in ("gradients.W1", "gradients.W2", "updated.W1", "updated.W2")
        for v in flat(step, q)]
