"""`worked_example()`: the one pipeline from an example file to every number a page shows.

Each stage runs once per example, in order: load the spec, derive the chain rule, compile it
to NumPy, train, verify. Every front end (build, `mkdocs serve`, values, check, variants,
Jupyter) reads the resulting `WorkedExample` and recomputes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .compile.compiled import compile_derivation
from .errors import DeriveError
from .spec import Example, load_example
from .symbolic import Derivation
from .training import TrainingStep, derivation_of, exact_steps, final_loss, train
from .verify.expansion import MAX_TERMS, Expansion, expand, expanded_terms
from .verify.gradcheck import Check, gradient_check
from .verify.kinks import NearKink, near_kinks
from .verify.proofs import OutputProof, output_proof

EXACT_STEPS = 3
"""Steps also computed in exact fractions when the example asks for them (the pages show this
many steps in full; later ones only as floats, in the loss table and the answer key)."""


@dataclass(frozen=True)
class WorkedExample:
    """An example with its derivation, every training step and the evidence that they are right.

    `code` is the NumPy source lambdify generated for the gradients; `final_loss` is the loss
    over the data after the last update; `exact` holds the first steps in fractions when the
    example asks for exact arithmetic; `expansion` is the element-wise cross-check (small
    networks only); `proof` the output layer's entry-by-entry proof (sigmoid + bce, softmax);
    `near_kinks` the float pre-activations whose side of a relu kink rounding could have decided.
    In a notebook it shows itself (`_repr_markdown_`); `matrix()` and `latex()` give LaTeX.
    """

    example: Example
    derivation: Derivation
    code: str
    steps: tuple[TrainingStep, ...]
    final_loss: float
    exact: tuple[TrainingStep, ...] | None
    checks: tuple[Check, ...]
    expansion: Expansion | None
    proof: OutputProof | None
    near_kinks: tuple[NearKink, ...] = ()

    def _repr_markdown_(self) -> str:
        """The derivation and every step, as Jupyter shows an object (math rendered)."""
        from .present.notebook import markdown

        return markdown(self)

    def matrix(self, name: str, step: int = 1, precision: int | None = None,
               form: str = "numbers") -> str:
        """One quantity of one step as the page's LaTeX, a `str` that Jupyter shows typeset.

        `form` is "numbers" (a bmatrix; a number for L), "formula" or "both", as in a `derive`
        block; `name` as the page (Y, dL_dW1), the example file (y) or `derive values`
        (gradients.W1) name it; `precision` is the example's unless given.
        """
        from .present.notebook import matrix

        return matrix(self, name, step, precision, form)

    def latex(self) -> str:
        """The whole worked example as a standalone LaTeX document."""
        from .present.notebook import latex

        return latex(self)

    def require_checked(self) -> None:
        """Raise naming the example and the parameter when a gradient check failed."""
        for check in self.checks:
            if not check.passed:
                raise DeriveError(
                    f"{self.example.path}: gradient check: dL/d{check.parameter} differs from "
                    f"finite differences by {check.relative_error:.2e} relative, "
                    f"{check.max_abs_error:.2e} absolute")


def worked_example(source: Example | Path | str) -> WorkedExample:
    """Load (unless given an `Example`), derive, compile, train and verify one example.

    `source` is an example file (TOML, see `load_example`) or a loaded `Example`. Returns a
    frozen `WorkedExample`: the derivation, every SGD step's numbers (X is d x N and Y k x N,
    columns are samples; W_l is n_l x n_(l-1)), the final loss and the checks. Raises
    `DeriveError` for an invalid file, a run that stops being finite, or a derivation that
    contradicts its own cross-checks (the expanded loss or the output-layer proof).

    Example:
        >>> from derive import worked_example
        >>> worked = worked_example("examples/seed.toml")
        >>> worked.steps[0].gradients["W2"].shape, round(worked.steps[0].loss, 4)
        ((1, 3), 0.4916)
        >>> worked.matrix("L")  # any quantity as LaTeX, typeset in Jupyter
        'L = 0.4916'
    """
    # Load and validate the example file.
    example = source if isinstance(source, Example) else load_example(source)
    # Derive the chain rule symbolically, for any sizes, and compile it to NumPy.
    derivation = derivation_of(example)
    compiled = compile_derivation(derivation)
    # Train: every number of every SGD step (and the first steps again in fractions).
    exact = exact_steps(example, derivation, EXACT_STEPS) if example.exact else None
    steps = train(example, compiled, exact or ())
    final = final_loss(example, compiled, steps[-1])
    # Verify: finite differences, the expanded loss, the output-layer proof.
    checks = gradient_check(example, compiled, steps[0])
    kinks = near_kinks(example, steps, first=len(exact or ()) + 1)
    expansion = expand(derivation, example) if expanded_terms(example) <= MAX_TERMS else None
    if expansion is not None and not expansion.agrees():
        raise DeriveError(f"{example.path}: cross-check: the element-wise derivative differs "
                          "from the matrix-form chain rule")
    proof = None
    kind = derivation.output_shortcut or (
        "softmax_vjp" if example.network.activations[-1] == "softmax" else None)
    if kind:
        proof = output_proof(kind, example.network.sizes[-1])
        if not proof.holds:
            raise DeriveError(f"{example.path}: output layer: SymPy does not reduce the {kind} "
                              f"step to its matrix form ({proof.residual})")
    return WorkedExample(example, derivation, compiled.source(), steps, final, exact, checks,
                         expansion, proof, kinks)
