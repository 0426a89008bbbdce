"""`derive` blocks in hand-written pages: replaced by the example page's own numbers and
formulas; a wrong block is an error naming the page and the block's line."""

import functools
from pathlib import Path

import pytest

from derive.errors import DeriveError
from derive.site.blocks import embed
from derive.worked import worked_example

ROOT = Path(__file__).resolve().parents[1]


@functools.cache
def seed():
    """The seed worked out once, when a test first needs it (not while every worker collects)."""
    return worked_example(ROOT / "examples" / "seed.toml")


def examples(written: str):
    if written != "examples/seed.toml":
        raise DeriveError("examples/none.toml: file: no such file")
    return seed()


def block(*lines: str) -> str:
    return "Before.\n\n```derive\n" + "\n".join(lines) + "\n```\n\nAfter.\n"


def test_a_block_becomes_the_quantity_the_example_page_shows():
    page = embed(block('example = "examples/seed.toml"', 'show = "dL_dW2"'), "notes.md", examples)
    values = " & ".join(f"{v:.4f}" for v in seed().steps[0].gradients["W2"].ravel())
    assert page == ("Before.\n\n$$\n\\frac{\\partial L}{\\partial W^{[2]}} = "
                    f"\\begin{{bmatrix}}{values}\\end{{bmatrix}} \\in \\mathbb{{R}}^{{1 \\times 3}}\n$$"
                    "\n\n\nAfter.\n")


def test_forms_steps_precision_and_the_updated_weights():
    both = embed(block('example = "examples/seed.toml"', 'show = "delta1"', "step = 2",
                       'form = "both"', "precision = 2"), "notes.md", examples)
    assert r"\delta^{[1]} = \operatorname{step}\left(S^{[1]}\right) \circ G^{[1]} \\ " in both
    assert f"{seed().steps[1].values['delta1'][0, 0]:.2f}" in both
    formula = embed(block('example = "examples/seed.toml"', 'show = "L"', 'form = "formula"'),
                    "notes.md", examples)
    assert "L = " in formula and "bmatrix" not in formula
    updated = embed(block('example = "examples/seed.toml"', 'show = "W2_new"'), "n.md", examples)
    assert r"W^{[2]}_{\text{new}} = \begin{bmatrix}0.0715" in updated


def test_other_fenced_blocks_are_left_alone_even_when_they_show_a_derive_block():
    text = '````markdown\n```derive\nshow = "Q"\n```\n````\n\n```python\nx = 1\n```\n'
    assert embed(text, "notes.md", examples) == text


@pytest.mark.parametrize(("lines", "message"), [
    (['example = "examples/seed.toml"', 'show = "Q"'], "'Q': not a quantity of this example"),
    (['example = "examples/none.toml"', 'show = "L"'], "examples/none.toml: file: no such file"),
    (['show = "L"'], "example: a string is required"),
    (['example = "examples/seed.toml"', 'show = "L"', "step = 3"], "step: must be between 1 and 2"),
    (['example = "examples/seed.toml"', 'show = "W1"', 'form = "formula"'], "has no formula"),
    (['example = "examples/seed.toml"', 'show = "L"', 'form = "table"'], "form: must be one of"),
    (['example = "examples/seed.toml"', 'show = "L"', "colour = 1"], "unknown key 'colour'"),
    (['example = "examples/seed.toml"', 'show = "L"', "precision = 40"], "precision: must be"),
    (["example = __import__('os')"], "invalid TOML"),
])
def test_a_wrong_block_names_the_page_and_its_line(lines, message):
    with pytest.raises(DeriveError) as failure:
        embed(block(*lines), "notes.md", examples)
    assert str(failure.value).startswith("notes.md:3: derive block: ")
    assert message in str(failure.value)


def test_an_unclosed_block_is_an_error():
    with pytest.raises(DeriveError, match="notes.md:1: derive block: no closing ```"):
        embed('```derive\nshow = "L"\n', "notes.md", examples)


def test_the_sites_precision_applies_unless_the_block_sets_its_own():
    site = embed(block('example = "examples/seed.toml"', 'show = "L"'), "n.md", examples,
                 precision=6)
    assert f"L = {seed().steps[0].loss:.6f}" in site
    own = embed(block('example = "examples/seed.toml"', 'show = "L"', "precision = 2"), "n.md",
                examples, precision=6)
    assert f"L = {seed().steps[0].loss:.2f}\n" in own


def test_an_updated_weight_has_its_update_as_formula():
    both = embed(block('example = "examples/seed.toml"', 'show = "W2_new"', 'form = "both"'),
                 "n.md", examples)
    assert (r"W^{[2]}_{\text{new}} = W^{[2]} - \eta \, \frac{\partial L}{\partial W^{[2]}}"
            in both)
