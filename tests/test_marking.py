"""Marking a reader's numbers, in chromium: `derive.example(name).mark()` and each example page's
"Check your own numbers" section. An entry is right to the digits typed, follows from the
reader's own earlier numbers of the step, or is the catalogued mistake that an independent NumPy
step (tests/test_mistakes.py's `hand_step`) makes, named by its id."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import test_javascript
from test_javascript import SHIPPED, left, settle
from test_mistakes import hand_step, quantities, shipped

from derive.mistakes import IDS, catalogue, offered

# test_javascript's fixtures: a chromium for the module and a page of the session's built site.
chromium = test_javascript.chromium
site_page = test_javascript.site_page

# Each call's marks, `{right, follows, mistake}`, or its error; the examples' scripts loaded first.
MARK = """async ([names, calls]) => {
  for (const name of names) {
    if (derive.examples && derive.examples[name]) continue;
    await new Promise((resolve, reject) => {
      const script = Object.assign(document.createElement("script"), {src: `examples/${name}.js`});
      script.onload = resolve;
      script.onerror = () => reject(new Error(`examples/${name}.js did not load`));
      document.head.append(script);
    });
  }
  return calls.map(([name, options]) => {
    try {
      return derive.example(name).mark(options);
    } catch (error) {
      return {error: error.message};
    }
  });
}"""


def marked(site_page: tuple[Any, str], calls: list[tuple[str, dict]]) -> list[dict]:
    """`mark(options)` of each (example, options) in the root page of the built site."""
    return site_page[0].evaluate(MARK, [sorted({name for name, _ in calls}), calls])


def typed(value: Any, decimals: int) -> Any:
    """A value as a reader types it at `decimals`: strings, a bias flat, a matrix as rows."""
    return np.vectorize(lambda v: f"{v:.{decimals}f}", otypes=[object])(
        np.asarray(value, dtype=float)).tolist()


def step_values(name: str, step: int = 1, mistake: str | None = None) -> dict[str, np.ndarray]:
    """Every quantity of a step by its dotted path, by hand in NumPy (with `mistake` made)."""
    return quantities(hand_step(shipped(name), step, mistake))


def everywhere(table: list[list[bool]], value: bool = True) -> bool:
    return all(entry is value for row in table for entry in row)


# Right: to the digits typed.

def test_the_true_value_typed_at_the_pages_precision_or_three_significant_digits_is_right(
        site_page):
    true = step_values("seed")
    calls = [("seed", {"step": 1, "quantity": path, "entered": entered})
             for path, value in true.items()
             for entered in (typed(value, 4),
                             np.vectorize(lambda v: f"{v:.3g}", otypes=[object])(value).tolist(),
                             np.round(value, 4).tolist())]
    for (_, call), got in zip(calls, marked(site_page, calls)):
        assert "error" not in got, call
        assert everywhere(got["right"]) and got["follows"] is None and got["mistake"] is None, call


@pytest.mark.parametrize(("entered", "right"), [
    (["-0.1029", "-0.2060", "0.0176"], [True, True, True]),      # the page's four decimals
    (["-0.103", "-0.206", "0.0176"], [True, True, True]),        # three significant digits
    (["-1.03e-1", "-2.06E-1", "1.76e-2"], [True, True, True]),   # the same in exponents
    ([-0.103, -0.206, 0.0176], [True, True, True]),              # numbers: their shortest form
    (["−0.1029", "-0.20595", "+0.017627"], [True, True, True]),  # a minus sign, more digits
    (["-0.10", "-0.21", "0.02"], [False, False, False]),         # judged at three digits
    (["-0.1030", "-0.2060", "0.0177"], [False, True, False]),    # a wrong last digit
])
def test_an_entry_is_right_when_it_agrees_to_the_digits_typed(site_page, entered, right):
    # The seed's dL/dW2 at step 1 is [-0.10294598625, -0.20595239625, 0.017626565].
    got = marked(site_page, [("seed", {"step": 1, "quantity": "gradients.W2",
                                       "entered": [entered]})])[0]
    assert got == {"right": [right], "follows": None, "mistake": None}


def test_fewer_than_three_significant_digits_count_where_the_page_shows_no_more(site_page):
    # The seed's page shows 0.0018 for 0.00180271...; the sigmoid page's six decimals show
    # 0.000439 for 0.00043857..., where 0.0004 is not enough.
    seed = typed(step_values("seed")["gradients.W1"], 4)
    sigmoid = step_values("sigmoid-bias")["gradients.W1"]
    got = marked(site_page, [
        ("seed", {"step": 1, "quantity": "gradients.W1", "entered": seed}),
        ("seed", {"step": 1, "quantity": "gradients.W1",
                  "entered": [row[:1] + ["0.002"] if i == 2 else row
                              for i, row in enumerate(seed)]}),
        ("sigmoid-bias", {"step": 1, "quantity": "gradients.W1", "entered": typed(sigmoid, 4)}),
        ("sigmoid-bias", {"step": 1, "quantity": "gradients.W1", "entered": typed(sigmoid, 6)}),
    ])
    assert seed[2][1] == "0.0018" and everywhere(got[0]["right"])
    assert got[1]["right"] == [[True, True], [True, True], [True, False]]
    # 0.0010 has two significant digits: it is judged at the fifth decimal, and agrees there.
    assert typed(sigmoid, 4) == [["0.0004", "0.0009"], ["0.0005", "0.0010"]]
    assert got[2]["right"] == [[False, False], [False, True]]
    assert everywhere(got[3]["right"])


def test_a_wrong_digit_is_marked_at_that_entry_only(site_page):
    entered = typed(step_values("tanh-regression")["gradients.W1"], 4)
    wrong = [row[:] for row in entered]
    wrong[1][0] = f"{float(wrong[1][0]) + 0.0002:.4f}"
    got = marked(site_page, [("tanh-regression", {"step": 1, "quantity": "gradients.W1",
                                                  "entered": wrong})])[0]
    assert got["right"] == [[(i, j) != (1, 0) for j in range(len(row))]
                            for i, row in enumerate(entered)]
    assert got["mistake"] is None


EDITED_W1 = [[0.5, 0.01], [0.7, 0.43], [0.0, 0.88]]
"""The seed's W1 with its first entry edited."""


def edited_seed_gradient() -> list[list[str]]:
    """The seed's dL/dW2 at step 1 with `EDITED_W1`, by hand, typed at four decimals."""
    example = shipped("seed").example
    Z1 = np.maximum(np.array(EDITED_W1) @ example.X, 0)
    return typed((example.parameters["W2"] @ Z1 - example.Y) / 4 @ Z1.T, 4)


def test_the_values_marked_against_are_the_pages_with_the_readers_edits(site_page):
    edited, file = edited_seed_gradient(), typed(step_values("seed")["gradients.W2"], 4)
    calls = [("seed", {"step": 1, "quantity": "gradients.W2", "entered": entered,
                       "edits": {"W1": EDITED_W1}}) for entered in (edited, file)]
    got = marked(site_page, calls)
    assert everywhere(got[0]["right"]) and everywhere(got[1]["right"], False)


# Follows: from the reader's own earlier numbers of the step.

def test_a_gradient_computed_from_a_wrong_delta_follows_from_it(site_page):
    true, example = step_values("seed"), shipped("seed").example
    delta2 = np.round(true["intermediates.delta2"] + [[0.1, -0.2, 0.05, 0.03]], 4)
    own = {"intermediates.delta2": typed(delta2, 4)}
    gradient = np.round(delta2 @ true["intermediates.Z1"].T, 4)
    updated = example.parameters["W2"] - example.learning_rate * gradient
    G1 = example.parameters["W2"].T @ delta2
    ask = {"gradients.W2": gradient, "updated.W2": updated, "intermediates.G1": G1}
    calls = [("seed", {"step": 1, "quantity": path, "entered": typed(value, 4), "own": own})
             for path, value in ask.items()]
    calls += [("seed", {"step": 1, "quantity": path, "entered": typed(true[path], 4), "own": own})
              for path in ("gradients.W2", "intermediates.S1", "intermediates.delta2")]
    from_own, updated_, back, right, before, itself = marked(site_page, calls)
    for got in (from_own, updated_, back):
        assert everywhere(got["right"], False) and everywhere(got["follows"])
        assert got["mistake"] is None
    assert everywhere(right["right"]) and everywhere(right["follows"], False)
    # S1 comes before δ2, and δ2 itself is marked against the true value only.
    assert before["follows"] is None and itself["follows"] is None


def test_own_numbers_of_another_shape_or_step_are_left_out(site_page):
    true = step_values("seed")
    calls = [("seed", {"step": 1, "quantity": "gradients.W2", "entered": typed(true[p], 4),
                       "own": own})
             for p, own in (("gradients.W2", {"intermediates.delta2": [["1", "2"]]}),
                            ("gradients.W2", {"updated.W1": [["1", "2"]]}))]
    assert [got["follows"] for got in marked(site_page, calls)] == [None, None]


# Mistakes: every catalogued one of every shipped example, as the page would show its numbers.

def test_each_catalogued_mistake_typed_as_the_page_shows_it_is_named(site_page):
    named: set[str] = set()
    for name in SHIPPED:
        worked, calls, expected = shipped(name), [], []
        precision, mistakes = worked.example.precision, catalogue(worked)
        for step in range(1, min(3, len(worked.steps)) + 1):
            right = {p: typed(v, precision) for p, v in step_values(name, step).items()}
            made = {m.id: {p: typed(v, precision) for p, v in step_values(name, step, m.id).items()}
                    for m in mistakes}
            for mistake in mistakes:
                for path, entered in made[mistake.id].items():
                    if not offered(worked, mistake, step, path):
                        continue
                    # The first mistake in catalogue order that shows the same numbers.
                    first = next(m.id for m in mistakes if made[m.id][path] == entered
                                 and offered(worked, m, step, path))
                    calls.append((name, {"step": step, "quantity": path, "entered": entered}))
                    expected.append(None if entered == right[path] else first)
        got = [(g.get("mistake") or {}).get("id", g.get("error")) for g in marked(site_page, calls)]
        wrong = [(call, want, have) for (_, call), want, have in zip(calls, expected, got)
                 if want != have]
        assert wrong == [], (name, wrong[:3])
        named |= set(got) - {None}
    assert named == set(IDS)


def test_a_mistake_is_shown_with_its_title_explanation_and_formulas(site_page):
    entered = typed(step_values("softmax-classifier", 1, "bias-not-summed")["gradients.b2"], 4)
    got = marked(site_page, [("softmax-classifier", {"step": 1, "quantity": "gradients.b2",
                                                     "entered": entered})])[0]
    mistake = next(m for m in catalogue(shipped("softmax-classifier"))
                   if m.id == "bias-not-summed")
    assert np.shape(entered) == (3, 6) and everywhere(got["right"], False)  # δ², a column each
    assert got["mistake"] == {"id": mistake.id, "title": mistake.title,
                              "explanation": mistake.explanation, "where": mistake.where,
                              "right_tex": mistake.right_tex, "wrong_tex": mistake.wrong_tex}


def test_numbers_that_match_no_mistake_name_none(site_page):
    calls = []
    for name in SHIPPED:
        true = step_values(name)
        calls += [(name, {"step": 1, "quantity": path, "entered": typed(true[path] + 0.37, 4)})
                  for path in ("gradients.W1", "updated.W1", "loss")]
    for (_, call), got in zip(calls, marked(site_page, calls)):
        assert got["mistake"] is None and everywhere(got["right"], False), call


def test_a_vector_is_read_in_the_quantitys_orientation(site_page):
    b2 = typed(step_values("sigmoid-bias")["gradients.b2"], 6)
    W2 = typed(step_values("seed")["gradients.W2"], 4)
    calls = [("sigmoid-bias", {"step": 1, "quantity": "gradients.b2", "entered": entered})
             for entered in (b2, [b2], [[x] for x in b2])]
    calls += [("seed", {"step": 1, "quantity": "gradients.W2", "entered": entered})
              for entered in (W2[0], W2, [[x] for x in W2[0]])]
    assert [got["right"] for got in marked(site_page, calls)] == \
        [[[True], [True]]] * 3 + [[[True, True, True]]] * 3


def test_what_cannot_be_marked_says_why(site_page):
    calls = [("seed", {"step": 1, "quantity": "gradients.W2", "entered": entered})
             for entered in ([["1", "2"]], [["1", "2", "x"]], [["1", "2", "3"], ["4"]], [])]
    calls += [("seed", {"step": 3, "quantity": "loss", "entered": 1}),
              ("seed", {"step": 1, "quantity": "weights.W1", "entered": 1})]
    assert [got.get("error") for got in marked(site_page, calls)] == [
        "gradients.W2 at step 1 is 1 × 3 (rows × columns), not 1 × 2",
        'entry (1, 3): "x" is not a number',
        "row 2 has 1 entries, row 1 has 3",
        "give a number, a flat list, or a list of rows of numbers",
        "step: must be a step from 1 to 2, not 3",
        ('"weights.W1": not a quantity of step 1; use one of loss, intermediates.S1, '
         "intermediates.Z1, intermediates.S2, intermediates.Z2, intermediates.G2, "
         "intermediates.delta2, intermediates.G1, intermediates.delta1, gradients.W1, "
         "gradients.W2, updated.W1, updated.W2")]


# The page's "Check your own numbers" section.

PARSE = "(texts) => texts.map((text) => parseMatrix(text))"


def test_a_typed_or_pasted_matrix_is_read_in_every_form(site_page):
    forms = ["1 2\n3 4", "1, 2\n3, 4", "1,2;3,4", "1 & 2 \\\\ 3 & 4", "  1\t2 \n\n 3  4 \n",
             "\\begin{bmatrix}1 & 2 \\\\ 3 & 4\\end{bmatrix}",
             "$$\n\\begin{bmatrix}\n1 & 2 \\\\\n3 & 4\n\\end{bmatrix}\n$$",
             "\\[\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}\\]", "[[1, 2], [3, 4]]"]
    assert site_page[0].evaluate(PARSE, forms) == [[["1", "2"], ["3", "4"]]] * len(forms)
    assert site_page[0].evaluate(PARSE, ["−0.5 1e-3"]) == [[["-0.5", "1e-3"]]]


# What the reader sees at each stage of checking the seed's step 1 on a phone-sized page.
SEEN = """() => {
  const result = document.querySelector(".derive-check-result");
  const section = document.querySelector(".derive-check");
  const mistake = result.querySelector(".derive-mistake");
  return {
    marks: [...result.querySelectorAll("table.derive-marks td")].map((td) => td.className),
    words: [...result.querySelectorAll(".derive-sr")].map((span) => span.textContent),
    summary: result.querySelector(".derive-summary")?.textContent ?? null,
    error: result.querySelector(".derive-error")?.textContent ?? null,
    title: mistake?.querySelector(".admonition-title").textContent ?? null,
    formulas: mistake ? mistake.querySelectorAll("mjx-container").length : 0,
    merror: !!result.querySelector("mjx-merror"),
    own: document.querySelector(".derive-own").textContent,
    live: result.getAttribute("aria-live"),
    labelled: [...section.querySelectorAll("select, textarea, input")]
      .every((input) => !!section.querySelector(`label[for="${input.id}"]`)),
    overflow: section.scrollWidth > section.clientWidth
      || section.getBoundingClientRect().right > window.innerWidth,
  };
}"""


def check(page: Any, quantity: str, text: str, step: int = 1) -> dict[str, Any]:
    """Pick a step and a quantity, type `text`, press Check; what the section shows then."""
    page.select_option("#derive-check-step", str(step))
    page.select_option("#derive-check-quantity", quantity)
    page.fill("#derive-check-entered", text)
    page.click(".derive-check-form button[type=submit]")
    page.evaluate("() => typesetQueue")
    return page.evaluate(SEEN)


def bmatrix(rows: list[list[str]]) -> str:
    return "\\begin{bmatrix}" + " \\\\ ".join(" & ".join(row) for row in rows) + "\\end{bmatrix}"


@pytest.fixture(scope="module")
def checked(site_page, chromium) -> dict[str, Any]:
    """The seed's page at 390 px: the no-half mistake's dL/dW2 typed as a bmatrix, a wrong δ2
    then the dL/dW2 that follows from it, a matrix of the wrong shape, the right dL/dW2, an
    edit of W1 that makes it wrong, and the dL/dW2 of the edited weights; what the section
    showed each time."""
    with test_javascript.new_page(chromium, width=390, height=844) as page:
        page.goto(site_page[1] + "examples/seed/", wait_until="load")
        settle(page)
        true = step_values("seed")
        no_half = typed(step_values("seed", 1, "no-half")["gradients.W2"], 4)
        delta2 = np.round(true["intermediates.delta2"] + [[0.1, -0.2, 0.05, 0.03]], 4)
        follows = typed(delta2 @ true["intermediates.Z1"].T, 4)
        seen = {"mistake": check(page, "gradients.W2", bmatrix(no_half)),
                "delta": check(page, "intermediates.delta2", " ".join(typed(delta2, 4)[0])),
                "follows": check(page, "gradients.W2", ", ".join(follows[0])),
                "shape": check(page, "gradients.W2", "1 2"),
                "right": check(page, "gradients.W2", " ".join(typed(true["gradients.W2"], 4)[0]))}
        page.fill("input[aria-label='W1 entry 1, 1']", str(EDITED_W1[0][0]))
        page.wait_for_function("() => location.hash.startsWith('#edits=')")
        settle(page)
        seen["edited"] = page.evaluate(SEEN)
        seen["edited, typed again"] = check(page, "gradients.W2", " ".join(edited_seed_gradient()[0]))
    return seen


def test_typing_a_mistaken_matrix_marks_each_entry_and_names_the_mistake(checked):
    seen = checked["mistake"]
    assert seen["marks"] == ["derive-wrong"] * 3 and seen["words"] == ["wrong"] * 3
    assert seen["summary"] == "0 of 3 entries right, 3 wrong."
    assert seen["title"] == "A common mistake: The ½ of the squared error mishandled"
    assert seen["formulas"] == 1 and not seen["merror"]  # the right step above the mistaken


def test_a_quantity_from_the_readers_own_wrong_numbers_is_marked_as_following(checked):
    assert checked["delta"]["marks"] == ["derive-wrong"] * 4
    seen = checked["follows"]
    assert seen["own"] == "∂L/∂W[2], δ[2]"
    assert seen["marks"] == ["derive-follows"] * 3 and seen["title"] is None
    assert seen["words"] == ["follows from your numbers"] * 3
    assert seen["summary"] == "0 of 3 entries right, 3 follow from your numbers."


def test_a_matrix_of_the_wrong_shape_says_so(checked):
    assert checked["shape"]["error"] == \
        "∂L/∂W[2]: gradients.W2 at step 1 is 1 × 3 (rows × columns), not 1 × 2"
    assert checked["shape"]["marks"] == []


def test_the_marks_follow_the_readers_edits(checked):
    assert checked["right"]["marks"] == ["derive-right"] * 3
    assert checked["edited"]["marks"] == ["derive-wrong"] * 3
    assert checked["edited, typed again"]["marks"] == ["derive-right"] * 3


def test_the_section_is_accessible_and_fits_a_phone(checked):
    for seen in checked.values():
        assert seen["live"] == "polite" and seen["labelled"] and not seen["overflow"]


def test_no_request_leaves_the_page_and_no_script_fails(checked, chromium):
    assert left(chromium[1]) == []
