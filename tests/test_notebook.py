"""A worked example in Jupyter: a quantity shows as typeset math, under any of its names; the page
shows its figures, and example text reads as written, never as markup, in the Markdown renderers
notebooks use (CommonMark with GitHub's tables and strikethrough) and in Python-Markdown."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

import markdown
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from derive import DeriveError, worked_example
from derive.present.figures import loss_curve, network_diagram
from derive.present.notebook import escape_notebook
from derive.present.options import DEFAULTS
from derive.site.blocks import embed

ROOT = Path(__file__).resolve().parents[1]
COMMONMARK = MarkdownIt("commonmark").enable(["table", "strikethrough"])


@pytest.fixture(scope="module")
def seed():
    return worked_example(ROOT / "examples" / "seed.toml")


@pytest.fixture(scope="module")
def decayed():
    return worked_example(ROOT / "examples" / "tanh-momentum.toml")  # weight decay: J, dJ_dW1


def block(worked, show: str, **options) -> str:
    """What a `derive` block of a hand-written page shows for `show`, without its `$$` lines."""
    lines = ['example = "seed"', f'show = "{show}"',
             *(f"{key} = {value!r}".replace("'", '"') for key, value in options.items())]
    page = embed("```derive\n" + "\n".join(lines) + "\n```", "notes.md", lambda _: worked)
    return page.strip().removeprefix("$$").removesuffix("$$").strip()


@pytest.mark.parametrize("form", ["numbers", "formula", "both"])
def test_a_quantity_is_what_a_derive_block_shows_and_jupyter_typesets_it(seed, form):
    shown = seed.matrix("dL_dW1", step=2, precision=3, form=form)
    assert str(shown) == block(seed, "dL_dW1", step=2, precision=3, form=form)
    assert shown._repr_latex_() == f"$$\n{shown}\n$$"


def test_numbers_are_the_symbol_the_matrix_and_its_shape(seed):
    entries = " & ".join(f"{v:.4f}" for v in seed.steps[0].gradients["W2"].ravel())
    assert seed.matrix("dL_dW2") == (r"\frac{\partial L}{\partial W^{[2]}} = "
                                     rf"\begin{{bmatrix}}{entries}\end{{bmatrix}} "
                                     r"\in \mathbb{R}^{1 \times 3}")
    assert seed.matrix("L") == f"L = {seed.steps[0].loss:.4f}"


@pytest.mark.parametrize(("alias", "name"), [
    ("y", "Y"), ("loss", "L"), ("weights.W1", "W1"), ("gradients.W1", "dL_dW1"),
    ("updated.W2", "W2_new"), ("intermediates.delta2", "delta2"), ("intermediates.S1", "S1"),
])
def test_the_example_files_and_derive_values_names_are_accepted(seed, alias, name):
    assert seed.matrix(alias, step=2) == seed.matrix(name, step=2)


def test_gradients_in_derive_values_are_of_the_objective_sgd_minimises(decayed):
    assert decayed.matrix("gradients.W1") == decayed.matrix("dJ_dW1")
    assert decayed.matrix("gradients.W1") != decayed.matrix("dL_dW1")


def test_an_unknown_name_lists_every_accepted_name(seed):
    with pytest.raises(DeriveError) as raised:
        seed.matrix("dW1")
    assert str(raised.value) == (
        "'dW1': not a quantity of this example; use one of X, Y, W1, W2, S1, Z1, S2, Z2, L, G2, "
        "delta2, dL_dW2, G1, delta1, dL_dW1, W1_new, W2_new; or as the example file and derive "
        "values name them: y, loss, weights.P, gradients.P, updated.P (P one of W1, W2) and "
        "intermediates.NAME")


@pytest.mark.parametrize(("arguments", "message"), [
    ({"form": "matrix"}, "form: must be one of numbers, formula, both, not 'matrix'"),
    ({"precision": 13}, "precision: must be a whole number from 0 to 12"),
    ({"precision": True}, "precision: must be a whole number from 0 to 12"),
    ({"step": 3}, "step: must be between 1 and 2, not 3"),
    ({"form": "formula"}, "'W1' is data or a starting weight, not computed: it has no formula"),
])
def test_a_bad_argument_is_one_clear_error(seed, arguments, message):
    with pytest.raises(DeriveError, match=re.escape(message)):
        seed.matrix("W1", **arguments)


def images(page: str) -> list[tuple[str, str]]:
    """Each inline image of a page: its SVG and its alt text."""
    return [(base64.b64decode(data).decode(), html.unescape(alt)) for data, alt in
            re.findall(r'<img src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)" alt="([^"]*)">',
                       page)]


def test_the_page_shows_the_network_diagram_and_the_loss_curve_inline(seed):
    page = seed._repr_markdown_()
    losses = [step.loss for step in seed.steps]
    (diagram, diagram_alt), (curve, curve_alt) = images(page)
    assert diagram == network_diagram(seed.example, DEFAULTS)
    assert diagram_alt.startswith("Network diagram: 2 inputs")
    assert curve == loss_curve(losses) and curve_alt.startswith("Loss before each of the 2")
    assert "## The network\n\n<img" in page and "## Loss over the steps\n\n<img" in page
    rendered = COMMONMARK.render(page)
    assert rendered.count('<img src="data:image/svg+xml;base64,') == 2


def test_one_step_has_no_loss_curve(tmp_path):
    path = tmp_path / "one.toml"
    path.write_text((ROOT / "examples" / "seed.toml").read_text().replace("steps = 2",
                                                                          "steps = 1"))
    assert len(images(worked_example(path)._repr_markdown_())) == 1


def test_the_title_is_the_text_itself_without_entities(seed):
    page = seed._repr_markdown_()
    assert page.startswith("# Seed: a 2-3-1 ReLU network\n")
    assert "<h1>Seed: a 2-3-1 ReLU network</h1>" in COMMONMARK.render(page)


def shown_text(rendered: str) -> list[str]:
    """The words a reader sees in rendered HTML made only of paragraphs and line breaks."""
    plain = re.sub(r"</?p>|<br ?/?>", " ", rendered)
    assert "<" not in plain, f"markup in {rendered!r}"
    return html.unescape(plain).split()


BLOCK_STARTS = ("1986. a numbered line", "2) another", "    indented like code", "===", "---",
                "> a quote", "- item", "+ item", "* item", "# heading", "| a | b |",
                "| --- | :-: |", "\tafter a tab", "***", "___", "```", "~~~")
TEXTS = [
    r"\input{x} $\href{javascript:alert(7)}{x}$ \(a\) \[b\] $$c$$ 50% #1 ~^_ ~~gone~~",
    "</title><script>alert(1)</script> <img src=x onerror=alert(2)> &amp; &lt; &#60;",
    "[x](javascript:alert(5)) ![x](x.png) <http://example.invalid/a> `code` *em* _em_",
    "\n".join(BLOCK_STARTS),
    "a 2-3-1 network, x_1 and y_2 - the end #",
]


@pytest.mark.parametrize("text", TEXTS)
def test_example_text_shows_as_written_in_commonmark_and_python_markdown(text):
    escaped = escape_notebook(text)
    assert shown_text(COMMONMARK.render(escaped)) == text.split()
    assert shown_text(markdown.markdown(escaped, extensions=["tables"])) == text.split()


@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from(" \t\n" + "".join(map(chr, range(0x21, 0x7F))) + "é−中😀")))
def test_any_text_shows_as_written(text):
    escaped = escape_notebook(text)
    assert shown_text(COMMONMARK.render(escaped)) == text.split()
    assert shown_text(markdown.markdown(escaped, extensions=["tables"])) == text.split()


def test_ordinary_characters_stay_themselves():
    text = "Mazur's step-by-step example: 0.5, (a+b)/2 = 1; 100% done! leaky_relu, W__1"
    assert escape_notebook(text) == text
