"""The LaTeX the pages and documents are made of: golden strings and well-formed documents."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import sympy
from files import example_pages

from derive import derive
from derive.api import SEED
from derive.present.escape import escape_latex
from derive.present.latex import number, tex
from derive.present.options import RenderOptions
from derive.present.view import _Formatter

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))


def matrix(values, precision: int) -> str:
    """A matrix as the pages show it, with the default display limits."""
    return _Formatter(precision, RenderOptions()).matrix("A", values)["tex"]


def test_bmatrix_rows_at_the_examples_precision():
    assert matrix(np.array([[0.75, -0.00001], [2, 3]]), 4) == (
        r"\begin{bmatrix}0.7500 & 0.0000 \\ 2.0000 & 3.0000\end{bmatrix}")
    assert matrix(sympy.Matrix([[sympy.Rational(3, 4), -1]]), 4) == (
        r"\begin{bmatrix}\frac{3}{4} & -1\end{bmatrix}")


def test_numbers_never_show_negative_zero():
    assert number(-0.00001, 4) == "0.0000"
    assert number(-0.5, 2) == "-0.50"


def test_chain_rule_steps_print_in_textbook_notation():
    steps = {d.symbol.name: d for d in derive(SEED).backward}
    assert tex(steps["delta1"].expr) == r"\operatorname{step}\left(S^{[1]}\right) \circ G^{[1]}"
    assert tex(steps["dL_dW1"].symbol) == r"\frac{\partial L}{\partial W^{[1]}}"
    assert tex(steps["dL_dW1"].expr) == r"\delta^{[1]} X^{T}"
    assert tex(steps["G1"].expr) == r"\left(W^{[2]}\right)^{T} \delta^{[2]}"


def test_text_is_escaped_for_latex():
    assert escape_latex(r"50% of {x}_1 & $5 #\ ~^") == (
        r"50\% of \{x\}\_1 \& \$5 \#\textbackslash{} \~{}\^{}")


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_each_tex_document_is_well_formed(path):
    document = example_pages(path)[f"examples/{path.stem}.tex"]
    assert document.startswith(r"\documentclass")
    assert r"\usepackage{amsmath,amssymb,graphicx,longtable}" in document
    assert document.rstrip().endswith(r"\end{document}")
    stack = []
    for kind, name in re.findall(r"\\(begin|end)\{(\w+\*?)\}", document):
        if kind == "begin":
            stack.append(name)
        else:
            assert stack and stack.pop() == name, name
    assert stack == []
    depth = 0
    for char in re.sub(r"\\[{}]", "", document):
        depth += {"{": 1, "}": -1}.get(char, 0)
        assert depth >= 0
    assert depth == 0
    assert document.count(r"\[") == document.count(r"\]")


def test_large_matrices_are_elided_like_numpy_prints_them():
    wide = matrix(np.arange(2 * 20).reshape(2, 20), 0)
    assert wide == (r"\begin{bmatrix}0 & 1 & 2 & 3 & \cdots & 18 & 19 \\ "
                    r"20 & 21 & 22 & 23 & \cdots & 38 & 39\end{bmatrix}")
    square = matrix(np.zeros((30, 30)), 0)
    assert square.count(r"\\") == 6 and r"\ddots" in square and square.count(r"\vdots") == 6


PDFLATEX = shutil.which("pdflatex")
UNICODE_TITLE = "Ŷ − Y, δ ∘ σ: naïve Œuvre 😀 中文 <script> 50% #1 | {x}_1 \\ € ~^"


def compile_tex(document: str, folder: Path) -> str:
    """Run pdflatex on a document; its log (fails the test if TeX stops or drops a character)."""
    if PDFLATEX is None:
        if os.environ.get("CI"):
            pytest.fail("pdflatex is missing; .ci/run installs texlive-latex-base")
        pytest.skip("pdflatex is not installed (apt-get install -y texlive-latex-base)")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "document.tex").write_text(document, encoding="utf-8")
    result = subprocess.run([PDFLATEX, "-interaction=nonstopmode", "-halt-on-error",
                             "-no-shell-escape", "document.tex"], cwd=folder, capture_output=True,
                            text=True, errors="replace", timeout=120, check=False)
    log = (folder / "document.log").read_text(errors="replace")
    assert result.returncode == 0, log[-2000:]
    assert (folder / "document.pdf").stat().st_size > 0
    assert "Missing character" not in log
    return log


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_shipped_document_compiles_with_pdflatex(built_site, path, tmp_path):
    compile_tex((built_site / "examples" / f"{path.stem}.tex").read_text(), tmp_path)


def test_hostile_and_non_ascii_text_compiles_and_nothing_is_dropped(tmp_path):
    path = tmp_path / "unicode.toml"
    seed = (ROOT / "examples" / "seed.toml").read_text()
    text = UNICODE_TITLE.replace("\\", "\\\\")
    path.write_text(f'title = "{text}"\ndescription = "{text}"\n' + seed[seed.index("[network]"):])
    document = example_pages(path)["examples/unicode.tex"]
    for spelled in ("grinning face", "cjk unified ideograph-4e2d", "euro sign"):
        assert spelled in document
    assert r"\^{Y}" in document and r"$\delta$" in document and r"\OE{}" in document
    compile_tex(document, tmp_path / "tex")


def test_a_variants_documents_compile(tmp_path):
    from derive.cli import main

    assert main(["variants", str(ROOT / "examples" / "sigmoid-bias.toml"), "--count", "1",
                 "--out", str(tmp_path / "variants")]) == 0
    documents = sorted((tmp_path / "variants").glob("*.tex"))
    assert [d.name for d in documents] == ["sigmoid-bias-v1-questions.tex", "sigmoid-bias-v1.tex"]
    for document in documents:
        compile_tex(document.read_text(), tmp_path / document.stem)


CONVENTIONS = {
    "nesterov-decayed-biases": ('loss = "l2"\nreduction = "sum"\nbias = true',
                                'y = [[1, 0], [0, 1], [1, 1]]',
                                ("weight_decay = 0.1\ndecay_biases = true\nmomentum = 0.5\n"
                                 "nesterov = true\nfreeze = [\"b1\"]\nbatch_size = 2\n"
                                 'last_batch = "partial"')),
    "dampened-hinge-labels": ('loss = "hinge"\nbias = true', "y = [0, 1, 1]",
                              'momentum = 0.9\ndampening = 0.3\nbatch_size = 2\nlast_batch = "drop"'),
}


@pytest.mark.parametrize("name", sorted(CONVENTIONS))
def test_documents_with_every_convention_key_compile(name, tmp_path):
    network, targets, training = CONVENTIONS[name]
    path = tmp_path / f"{name}.toml"
    path.write_text(f"""[network]
sizes = [2, 2, 2]
activations = ["relu", "linear"]
{network}
[data]
X = [[0.5, -0.25], [1.0, 0.75], [-0.5, 0.5]]
{targets}
[weights]
init = "lecun_normal"
bias_init = "standard_normal"
[training]
steps = 3
{training}
""")
    document = example_pages(path)[f"examples/{name}.tex"]
    compile_tex(document, tmp_path / "tex")
