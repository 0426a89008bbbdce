"""The work budget: every file validation accepts does bounded work, counted rather than timed.

The worst shapes (benchmarks/worst.py) push each limit as far as validation allows. What a run
of each does is counted where it happens (passes through the network, numbers kept, bytes of
answer key, terms expanded, digits of exact fractions, entries formatted) and must stay within
the budget's own counts, which do not depend on the machine; a file beyond a limit is refused in
one line before anything is drawn or allocated.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import sympy

from derive import spec, worked
from derive.errors import SpecError
from derive.present import view as view_module
from derive.present.answer_key import answer_key, to_json
from derive.spec import load_example
from derive.training import derivation_of, exact_steps
from derive.verify import expansion
from derive.verify.gradcheck import MAX_ENTRIES
from derive.worked import worked_example

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import worst

SHAPES = {name: shape for name, (_, shape) in worst.worst_shapes().items()}
ACCEPTED = [name for name in SHAPES if name != "huge-init"]
JSON_BYTES = 40
"""Bytes of answer key per value the budget counts (`spec.answer_key_values`), at most."""


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("worst")
    return {name: worst.write(shape, folder / f"{name}.toml") for name, shape in SHAPES.items()}


def test_the_budget_assumes_what_the_pipeline_does():
    assert spec.CHECKED_ENTRIES == MAX_ENTRIES
    assert spec.EXACT_STEPS == worked.EXACT_STEPS


@pytest.mark.parametrize("name", ACCEPTED)
def test_each_worst_shape_is_accepted_and_within_every_limit(files, name):
    example = load_example(files[name])
    network, batch = example.network, example.batch_size
    assert files[name].stat().st_size <= spec.MAX_FILE_BYTES
    assert spec.kept(network, batch, example.steps) <= spec.MAX_KEPT_NUMBERS
    assert sum(spec.work(network, example.X.shape[1], batch, example.steps).values()) \
        <= spec.MAX_WORK


@pytest.fixture(scope="module")
def runs(files: dict[str, Path]) -> Callable[[str], tuple[worked.WorkedExample, dict[str, int]]]:
    """Each worst shape's run, computed once for the module, and the passes it made through the
    network (`count_passes`)."""
    done = {}

    def run(name: str) -> tuple[worked.WorkedExample, dict[str, int]]:
        if name not in done:
            with pytest.MonkeyPatch.context() as patch:
                passes = count_passes(patch)
                done[name] = worked_example(files[name]), dict(passes)
        return done[name]

    return run


@pytest.mark.parametrize("name", ACCEPTED)
def test_each_worst_shape_does_no_more_than_the_budget_counts(runs, name):
    run, passes = runs(name)
    example = run.example
    network, batch, steps = example.network, example.batch_size, example.steps
    assert passes["intermediates"] <= steps + spec.checked_passes(network)
    assert passes["loss"] <= steps + 1
    assert kept_numbers(run) <= spec.kept(network, batch, steps)
    assert len(to_json(answer_key(run)).encode()) <= JSON_BYTES * spec.answer_key_values(
        network, batch, steps)


def count_passes(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Calls of the compiled code's full passes and loss-only passes, as they happen."""
    calls = {"intermediates": 0, "loss": 0}
    original = worked.compile_derivation

    def counted(function, name):
        def call(*arguments):
            calls[name] += 1
            return function(*arguments)
        return call

    def compiling(derivation):
        compiled = original(derivation)
        return dataclasses.replace(compiled, **{name: counted(getattr(compiled, name), name)
                                                for name in calls})

    monkeypatch.setattr(worked, "compile_derivation", compiling)
    return calls


def kept_numbers(run: worked.WorkedExample) -> int:
    """Numbers held by the run's steps (an array shared between steps counted once)."""
    arrays = {id(a): a for step in run.steps
              for group in (step.values, step.parameters, step.gradients, step.velocity,
                            step.updated)
              for a in group.values() if isinstance(a, np.ndarray) and a.ndim}
    return sum(a.size for a in arrays.values())


@pytest.mark.parametrize("name", ["expansion-limit", "softmax-mse-5-5-1-2-3"])
def test_the_cross_check_expands_no_more_terms_than_it_counts(files, name, monkeypatch):
    example = load_example(files[name])
    counted = expansion.expanded_terms(example)
    if counted > expansion.MAX_TERMS:
        assert worked_example(example).expansion is None
        return
    derivation = derivation_of(example)
    differentiated = []
    diff = sympy.diff
    monkeypatch.setattr(sympy, "diff", lambda f, x: differentiated.append(x) or diff(f, x))
    found = expansion.expand(derivation, example)
    assert found.agrees()
    terms = sum(len(sympy.Add.make_args(sympy.expand(entry)))
                for matrix in found.elementwise.values() for entry in matrix)
    assert terms <= counted <= expansion.MAX_TERMS
    outputs = example.network.sizes[-1] * example.X.shape[1]
    assert len(differentiated) <= sum(p.size for p in example.parameters.values()) + outputs


def test_softmax_with_mse_is_cross_checked_below_its_proven_step(files, runs):
    run, _ = runs("softmax-mse-5-5-1-2-3")
    assert run.proof.kind == "softmax_vjp" and run.proof.holds
    shape = worst.Shape((4, 6), ("softmax",), "mse")  # the report's 4 -> 6 network
    path = worst.write(shape, files["expansion-limit"].with_name("softmax-4-6.toml"))
    found = worked_example(path).expansion
    assert found is not None and found.agrees() and found.upstream is not None
    assert not found.loss.has(sympy.exp)
    assert {"W1", "G1"} <= set(found.difference)


@pytest.mark.parametrize("name", ["exact-deep", "exact-entries"])
def test_exact_fractions_grow_no_larger_than_the_budget_counts(files, name):
    example = load_example(files[name])
    largest = 0
    for step in exact_steps(example, derivation_of(example), spec.EXACT_STEPS):
        for value in [*step.values.values(), *step.updated.values()]:
            for entry in (value if isinstance(value, sympy.MatrixBase) else [value]):
                fraction = sympy.Rational(entry)
                largest = max(largest, len(str(abs(fraction.p))) + len(str(fraction.q)))
    assert largest <= spec.exact_digits(example) <= spec.MAX_EXACT_DIGITS


@pytest.mark.parametrize("name", ["wide-input", "samples", "tanh-deep-wide"])
def test_a_page_formats_only_the_entries_it_shows(runs, name, monkeypatch):
    run, _ = runs(name)
    formatted, matrices = [], []
    number, bmatrix = view_module.number, view_module.bmatrix
    monkeypatch.setattr(view_module, "number", lambda *a: formatted.append(1) or number(*a))
    monkeypatch.setattr(view_module, "bmatrix", lambda *a: matrices.append(1) or bmatrix(*a))
    options = view_module.DEFAULTS
    view_module.view(run, options)
    shown = options.elide_head + options.elide_tail
    assert len(formatted) <= shown**2 * len(matrices) + 2 * options.loss_table_rows * (
        1 + options.step_table_weights)


# Refused up front, in one line, before anything is drawn or allocated.

def test_weights_too_many_to_draw_are_refused_before_drawing(files, monkeypatch):
    monkeypatch.setattr(spec, "_draw", lambda *a: pytest.fail("drew weights"))
    with pytest.raises(SpecError, match="training.steps: the run would keep 2,684,"):
        load_example(files["huge-init"])


def test_weights_too_many_to_draw_are_refused_in_one_line_within_1_gib(files):
    path = files["huge-init"]
    program = textwrap.dedent(f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))
        from derive.cli import main
        sys.exit(main(["values", {str(path)!r}]))
    """)
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"{path}: training.steps: the run would keep ")


@pytest.mark.parametrize("shape, field, message", [
    (worst.deep(176, "tanh", "tanh", "l2", init=True), "training.steps",
     "the run would keep 4,978,688 numbers"),  # the reported 32 tanh layers of 176 units
    (worst.deep(16, "tanh", "softmax", "mse", init=True), "training.steps",
     "the run would take "),
    (worst.Shape((1,) * 33, ("linear",) * 32, "l2", samples=31, steps=3, exact=True),
     "render.exact", "the exact steps' fractions would grow to about "),
    (worst.Shape((1, 1), ("linear",), "l2", samples=40_000), "training.steps",
     "the run would take "),
])
def test_a_run_beyond_the_budget_is_refused_naming_the_limit(tmp_path, shape, field, message):
    path = worst.write(shape, tmp_path / "beyond.toml")
    with pytest.raises(SpecError) as refused:
        load_example(path)
    assert str(refused.value).startswith(f"{path}: {field}: {message}")
    assert "\n" not in str(refused.value)


def test_the_work_refusal_names_each_part_and_the_limit(tmp_path):
    path = worst.write(worst.deep(16, "tanh", "softmax", "mse", init=True), tmp_path / "w.toml")
    with pytest.raises(SpecError, match=r"\(steps .*, gradient check .*, final loss .*, page .*, "
                                        r"answer key .*, data .*\); at most 3,500,000,000: lower "):
        load_example(path)


def test_a_file_larger_than_1_mib_is_refused_before_it_is_parsed(tmp_path):
    path = tmp_path / "large.toml"
    path.write_text("#" * (spec.MAX_FILE_BYTES + 1))
    with pytest.raises(SpecError, match="file: larger than 1 MiB"):
        load_example(path)
