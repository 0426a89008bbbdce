"""One pipeline: each command computes one WorkedExample per example, templates get plain data,
and the package's imports flow one way."""

import ast
from pathlib import Path

import pytest

import derive.present.figures
import derive.present.pages
import derive.worked
from derive.cli import main
from derive.errors import DeriveError
from derive.present.options import RenderOptions
from derive.present.view import view
from derive.site.plugin import MISTAKES_MARKER
from derive.worked import worked_example

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "derive"
EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))
PLAIN = (str, int, float, bool, type(None))


def plain_path(value, path="view") -> str | None:
    """The path to the first value that is not plain data, or None."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{path} key {key!r}"
            if found := plain_path(item, f"{path}.{key}"):
                return found
        return None
    if isinstance(value, list):
        return next((found for i, item in enumerate(value)
                     if (found := plain_path(item, f"{path}[{i}]"))), None)
    return None if type(value) in PLAIN else f"{path}: {type(value).__name__}"


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_templates_receive_only_plain_strings_and_numbers(path, monkeypatch):
    contexts = []

    def recording(original):
        def render(template, overrides=(), **context):
            contexts.append((template, context))
            return original(template, overrides, **context)
        return render

    for module in (derive.present.pages, derive.present.figures):
        monkeypatch.setattr(module, "render", recording(module.render))
    derive.present.pages.example_files(worked_example(path))
    assert {template for template, _ in contexts} >= {"example.md.j2", "example.tex.j2",
                                                      "network.svg.j2"}
    for template, context in contexts:
        assert plain_path(context, template) is None


def test_the_view_is_a_pure_function_of_the_worked_example_and_the_options():
    worked = worked_example(ROOT / "examples" / "seed.toml")
    assert view(worked) == view(worked)
    coarse = view(worked, RenderOptions(precision=1, detailed_steps=1))
    assert len(coarse["detailed"]) == 1
    assert r"0.6 & 0.0" in coarse["data"][2]["tex"]
    with pytest.raises(TypeError):
        RenderOptions(2)  # keyword-only


@pytest.fixture
def counted(monkeypatch):
    """Which examples the pipeline derived and trained, by file name, once per call."""
    calls = {"derive": [], "train": []}

    def counting(name, original):
        def wrapper(example, *args, **kwargs):
            calls[name].append(example.path.name)
            return original(example, *args, **kwargs)
        return wrapper

    monkeypatch.setattr(derive.worked, "derivation_of",
                        counting("derive", derive.worked.derivation_of))
    monkeypatch.setattr(derive.worked, "train", counting("train", derive.worked.train))
    return calls


@pytest.mark.parametrize("command", [
    ["values", "examples/seed.toml"],
    ["check", "examples/seed.toml"],
    ["build", "examples/seed.toml", "--site-dir", "{tmp}/site"],
    ["variants", "examples/seed.toml", "--count", "2", "--out", "{tmp}/variants"],
], ids=lambda command: command[0])
def test_each_command_derives_and_trains_each_example_once(command, counted, tmp_path,
                                                           monkeypatch, capsys, cache):
    monkeypatch.chdir(ROOT)  # with an empty cache: a build computes what is not cached
    assert main([part.format(tmp=tmp_path) for part in command]) == 0
    examples = 1 + 2 * (command[0] == "variants")  # the original and each variant
    for calls in counted.values():
        assert sorted(set(calls)) == sorted(calls)  # none twice
        if command[0] == "build":
            # The seed, and those of the catalogue's examples this process has not yet computed.
            assert "seed.toml" in calls
            assert set(calls) <= {"seed.toml", *(Path(p).name for p in catalogue_examples())}
        else:
            assert len(calls) == examples


def catalogue_examples() -> list[str]:
    """The example files the docs' mistake catalogue is worked on."""
    found = MISTAKES_MARKER.search((ROOT / "docs" / "check-your-numbers.md").read_text())
    return found["examples"].split()


def test_an_unchanged_build_computes_no_example_even_for_the_catalogue(counted, tmp_path,
                                                                        monkeypatch, cache):
    monkeypatch.chdir(ROOT)
    assert main(["build", "examples/seed.toml", "--site-dir", str(tmp_path / "site")]) == 0
    first = {name: list(calls) for name, calls in counted.items()}
    assert main(["build", "examples/seed.toml", "--site-dir", str(tmp_path / "site")]) == 0
    assert counted == first


def imports(path: Path) -> set[str]:
    """The derive modules a module imports when it is imported (its top-level statements);
    an import inside a function runs on use, from a module already loaded."""
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = f"{base}.{node.module}" if node.level and node.module else (
                base if node.level else node.module)
            names = [f"{target}.{alias.name}" for alias in node.names]
            found |= {name for name in names if (ROOT / name.replace(".", "/")).with_suffix(".py").exists()
                      or (ROOT / name.replace(".", "/") / "__init__.py").exists()} or {target}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return {name for name in found if name.startswith("derive.") and name != module}


def test_the_package_has_no_import_cycles():
    graph = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"):
             imports(p) for p in PACKAGE.rglob("*.py")}
    visiting, done = set(), set()

    def visit(module, trail):
        if module in done or module not in graph:
            return
        assert module not in visiting, " -> ".join([*trail, module])
        visiting.add(module)
        for target in sorted(graph[module]):
            visit(target, [*trail, module])
        visiting.discard(module)
        done.add(module)

    for module in sorted(graph):
        visit(module, [])


def test_a_worked_example_shows_itself_in_a_notebook():
    worked = worked_example(ROOT / "examples" / "seed.toml")
    page = worked._repr_markdown_()
    assert page.startswith("# Seed") and "$$" in page
    assert "![" not in page and "!!! note" not in page and "title:" not in page
    assert page.count('<img src="data:image/svg+xml;base64,') == 2  # the diagram, the loss curve
    for name, step, value in [("dL_dW2", 1, worked.steps[0].gradients["W2"]),
                              ("W2_new", 2, worked.steps[1].updated["W2"])]:
        expected = " & ".join(f"{v:.4f}" for v in value.ravel())
        assert rf" = \begin{{bmatrix}}{expected}\end{{bmatrix}} \in" in worked.matrix(name, step)
    assert worked.matrix("L") == f"L = {worked.steps[0].loss:.4f}"
    assert worked.latex().startswith(r"\documentclass")
    with pytest.raises(DeriveError, match="not a quantity of this example; use one of X, Y"):
        worked.matrix("Q")
    with pytest.raises(DeriveError, match="step: must be between 1 and 2"):
        worked.matrix("L", 3)


def test_the_mazur_example_says_which_code_gives_which_error():
    worked = worked_example(ROOT / "examples" / "sigmoid-frozen-biases.toml")
    description = " ".join(worked.example.description.split())
    assert f"After the update the error is {worked.final_loss!r}, which the current code" \
           in description
    assert "the post's 0.291027924 comes from that code before a 2015 fix" in description
    assert "derive's updated-weights-backward mistake reproduces it" in description
    assert "accompanying code" not in description
