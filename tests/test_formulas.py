"""What a reader sees reads right: every small network builds, formulas parse one way only,
numbers are typeset as numbers, hand calculations add up and indices are unambiguous."""

import dataclasses
import itertools
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import sympy
from files import example_pages
from reference import toml_example

from derive import derive
from derive.errors import DeriveError
from derive.present import notation
from derive.present.latex import scientific, tex
from derive.spec import ACTIVATIONS, Network
from derive.verify.proofs import output_proof
from derive.worked import worked_example

ROOT = Path(__file__).resolve().parents[1]
ELEMENTWISE = [a for a in ACTIVATIONS if a != "softmax"]


def small_networks() -> list[tuple[str, str, str, bool]]:
    """Every valid activation/loss/bias combination of a 2-2-2 network."""
    return [(hidden, output, loss, bias)
            for hidden, bias in itertools.product(ELEMENTWISE, (False, True))
            for output, loss in [*itertools.product(ELEMENTWISE, ("l2", "mse")),
                                 ("sigmoid", "bce"), ("softmax", "cross_entropy")]]


def test_the_small_networks_are_every_combination_once():
    assert len(set(small_networks())) == len(small_networks()) == 120


# One test per network, so that pytest-xdist spreads the sweep over its workers.
@pytest.mark.parametrize(("hidden", "output", "loss", "bias"), small_networks(),
                         ids=lambda value: ("bias" if value else "no-bias")
                         if isinstance(value, bool) else value)
def test_every_small_network_with_several_samples_builds_its_page(tmp_path: Path, hidden: str,
                                                                   output: str, loss: str,
                                                                   bias: bool) -> None:
    X = np.array([[0.5, 0.1], [-0.2, 0.3]])
    weights = [np.array([[0.1, 0.2], [-0.3, 0.4]]), np.array([[0.5, -0.5], [0.25, 0.75]])]
    biases = [np.array([0.1, -0.1]), np.array([0.2, 0.05])]
    Y = np.eye(2) if loss in ("bce", "cross_entropy") else np.array([[0.5, 0.75], [-0.25, 0.1]])
    path = tmp_path / f"{hidden}-{output}-{loss}-{bias}.toml"
    path.write_text(toml_example([2, 2, 2], [hidden, output], loss, bias, X, Y, weights, biases))
    page = example_pages(path)[f"examples/{path.stem}.md"]
    assert "Cross-check: the loss expanded entry by entry" in page
    assert "differentiates it with respect to each weight" in page
    assert "nan" not in page.lower().replace("operatorname", "")


def test_element_wise_products_are_written_with_circ_and_parenthesised():
    tanh = {d.symbol.name: d for d in derive(Network((1, 4, 1), ("tanh", "linear"), "mse", True)).backward}
    assert tex(tanh["delta1"].expr) == (
        r"\left(1 - \tanh^{2}{\left(S^{[1]} \right)}\right) \circ G^{[1]}")
    sigmoid = {d.symbol.name: d for d in derive(Network((2, 2, 1), ("sigmoid", "linear"), "l2", False)).backward}
    assert tex(sigmoid["delta1"].expr) == (
        r"\sigma\left(S^{[1]}\right) \circ \left(1 - \sigma\left(S^{[1]}\right)\right) \circ G^{[1]}")


@pytest.mark.parametrize("name", ["tanh-regression", "sigmoid-bias"])
def test_pages_and_documents_carry_the_same_unambiguous_formulas(name):
    files = example_pages(ROOT / "examples" / f"{name}.toml")
    for text in (files[f"examples/{name}.md"], files[f"examples/{name}.tex"]):
        assert r"\right) \circ G^{[1]}" in text
        assert not re.search(r"\\right\) \\sigma\\left\(S\^\{\[\d\]\}\\right", text), "a juxtaposed product"


def test_scientific_numbers_are_typeset_as_powers_of_ten():
    assert scientific(1e-5) == r"1.0 \times 10^{-5}"
    assert scientific(3.35e-12) == r"3.4 \times 10^{-12}"
    assert scientific(9.96e-3) == r"1.0 \times 10^{-2}"
    assert scientific(0.0) == "0"
    page = example_pages(ROOT / "examples" / "seed.toml")["examples/seed.md"]
    check = page[page.index("## Gradient check"):page.index("## The generated NumPy code")]
    assert r"h = 1.0 \times 10^{-5}" in check
    assert not re.search(r"\de[-+]\d", check), "Python's float text in math"


def test_a_hand_calculation_shows_the_sum_of_its_own_terms():
    page = example_pages(ROOT / "examples" / "seed.toml")["examples/seed.md"]
    block = page[page.index(r"\left(\frac{\partial L}{\partial W^{[2]}}\right)_{1,1} &="):]
    block = block[:block.index(r"\end{aligned}")]
    lines = re.findall(r"&(?:=|\\quad) (?:\{\} \+ )?(.*) \\\\", block)
    shown = [line for line in lines if r"\cdot" in line]
    total = sum(Fraction(a.strip("()")) * Fraction(b.strip("()"))
                for line in shown for term in line.split(" + ")
                for a, b in [term.split(r" \cdot ")])
    stated = re.search(r"&= (-?[\d.]+) &&\\text\{\(the terms as shown\)\}", block)
    assert Fraction(stated.group(1)) == total
    assert re.search(r"&\\approx -0\.1029 &&\\text\{\(from unrounded numbers\)\}", block)


def test_the_layer_is_a_bracketed_superscript_from_layer_ten_on_too():
    assert notation.symbol("W10") == "W^{[10]}"
    assert notation.entry("W10", 1, 2) == "W^{[10]}_{1,2}"
    assert notation.entry("b1", "i", "n") == "b^{[1]}_{i}"
    assert notation.symbol("delta11") == r"\delta^{[11]}"
    assert notation.entry("dL_dW1", 1, 1) == r"\left(\frac{\partial L}{\partial W^{[1]}}\right)_{1,1}"
    network = Network((2, *[2] * 10, 1), ("tanh",) * 10 + ("linear",), "l2", False)
    printed = " ".join(tex(d.expr) + tex(d.symbol) for d in derive(network).definitions)
    assert "W^{[10]}" in printed and "W^{[11]}" in printed
    assert not re.search(r"[A-Za-z]_\{\d+[a-z]", printed)


@pytest.mark.parametrize("path", sorted((ROOT / "examples").glob("*.toml")), ids=lambda p: p.stem)
def test_no_page_writes_an_index_that_reads_two_ways(path):
    files = example_pages(path)
    for text in (files[f"examples/{path.stem}.md"], files[f"examples/{path.stem}.tex"]):
        math = text[:text.find("```python")]
        # A layer's quantities always carry their layer as ^{[l]} before any index.
        assert not re.search(r"(?<![\\A-Za-z])(W|b|S|Z|G|\\delta)_\{", math)


def test_output_layer_proofs_hold_and_cost_the_same_for_any_number_of_classes():
    for classes in (1, 2, 3, 1000):
        proof = output_proof("softmax_ce", classes)
        assert proof.holds and proof.classes == min(classes, 3)
    assert output_proof("softmax_ce", 1000) is output_proof("softmax_ce", 4)
    assert output_proof("sigmoid_bce", 7).holds


def test_a_proof_that_does_not_reduce_to_zero_fails_the_build(monkeypatch):
    wrong = dataclasses.replace(output_proof("softmax_ce", 3), residual=sympy.Symbol("y1"))
    monkeypatch.setattr("derive.worked.output_proof", lambda kind, classes: wrong)
    with pytest.raises(DeriveError, match="output layer: SymPy does not reduce the softmax_ce step"):
        worked_example(ROOT / "examples" / "softmax-classifier.toml")
