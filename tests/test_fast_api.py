"""The generated-code cache, evaluation in blocks of samples, and SymPy-free imports."""

from __future__ import annotations

import doctest
import inspect
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from reference import backward
from threadpoolctl import threadpool_info, threadpool_limits

import derive as package
from derive import api, store
from derive.api import gradient_function
from derive.compile import cache as codegen
from derive.compile import printer, runtime
from derive.compile.compiled import compile_derivation
from derive.spec import Network
from derive.symbolic import derive

ROOT = Path(__file__).resolve().parents[1]

NETWORKS = [
    Network((2, 3, 1), ("relu", "linear"), "l2", False),
    Network((3, 4, 2), ("tanh", "sigmoid"), "mse", True),
    Network((2, 5, 3, 2), ("leaky_relu", "sigmoid", "sigmoid"), "bce", True),
    Network((4, 3, 3), ("relu", "softmax"), "cross_entropy", True),
]


pytestmark = pytest.mark.usefixtures("cache")  # a fresh code cache for every test


def problem(network: Network, N: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """X, Y and the parameters (biases as columns) of a random problem for `network`."""
    rng = np.random.default_rng(seed)
    sizes = network.sizes
    X = rng.normal(size=(sizes[0], N))
    if network.loss == "cross_entropy":
        Y = rng.dirichlet(np.ones(sizes[-1]), size=N).T
    else:
        Y = rng.uniform(0.1, 0.9, size=(sizes[-1], N))
    parameters = []
    for l in range(network.depth):
        parameters.append(rng.normal(scale=0.7, size=(sizes[l + 1], sizes[l])))
        if network.bias:
            parameters.append(rng.normal(scale=0.5, size=(sizes[l + 1], 1)))
    return X, Y, *parameters


def by_hand(network: Network, X, Y, *parameters) -> list[np.ndarray]:
    """The gradients by hand-written backpropagation, in the order W1, (b1,) W2, ..."""
    weights = list(parameters[:: 2 if network.bias else 1])
    biases = list(parameters[1::2]) if network.bias else []
    dW, db = backward(X, Y, weights, biases, network.activations, network.loss)
    return [g for pair in zip(dW, db) for g in pair] if network.bias else dW


@pytest.mark.parametrize("network", NETWORKS, ids=lambda n: "-".join(n.activations))
def test_a_cache_miss_and_a_hit_give_identical_numbers(network, cache, monkeypatch, generations):
    calls = generations
    arguments = problem(network, 37)
    missed = gradient_function(network)(*arguments)
    assert len(calls) == 1 and len(list(cache.glob("*.py"))) == 1
    api._modules.clear()
    hit = gradient_function(network)(*arguments)
    assert len(calls) == 1
    for a, b, expected in zip(missed, hit, by_hand(network, *arguments)):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a, expected, rtol=1e-12, atol=1e-15)


def test_the_cached_file_is_the_code_sympy_generates(cache):
    network = NETWORKS[1]
    gradient_function(network)
    (path,) = cache.glob("*.py")
    assert path.read_text().partition("\n")[2] == printer.gradient_module(network)
    assert "def gradients(X, Y, W1, b1, W2, b2, N):" in path.read_text()


def test_a_changed_key_never_reuses_stale_code(cache, monkeypatch, tmp_path, generations):
    network = NETWORKS[0]
    calls = generations
    gradient_function(network)
    (stale,) = cache.glob("*.py")
    stale.write_text(stale.read_text().replace("-1/N*", "-2/N*"))  # what older code might do
    arguments = problem(network, 5)
    expected = by_hand(network, *arguments)

    def fresh_gradients():
        api._modules.clear()
        return gradient_function(network)(*arguments)

    # A different SymPy (or derive) version is a different key: the stale file is not read.
    with monkeypatch.context() as upgraded:
        upgraded.setattr(store, "version", lambda package: "0.0.0")
        np.testing.assert_allclose(fresh_gradients()[0], expected[0], rtol=1e-12)
    # So is any change to the text of derive's code-generating modules.
    edited = tmp_path / "printer.py"
    edited.write_text(codegen.GENERATORS[2].read_text() + "\n# edited\n")
    monkeypatch.setattr(codegen, "GENERATORS", (*codegen.GENERATORS[:2], edited, *codegen.GENERATORS[3:]))
    np.testing.assert_allclose(fresh_gradients()[0], expected[0], rtol=1e-12)
    assert len(calls) == 3
    assert stale.exists() and len(list(cache.glob("*.py"))) == 3


def test_keys_differ_by_request_and_are_stable():
    assert codegen.cache_key("a") == codegen.cache_key("a") != codegen.cache_key("b")


def test_an_unreadable_cache_file_is_regenerated(cache, monkeypatch):
    network = NETWORKS[0]
    gradient_function(network)
    (path,) = cache.glob("*.py")
    path.write_text("def gradients(:\n")
    api._modules.clear()
    arguments = problem(network, 6)
    np.testing.assert_allclose(gradient_function(network)(*arguments)[1],
                               by_hand(network, *arguments)[1], rtol=1e-12)
    assert "def gradients(X, Y, W1, W2, N):" in path.read_text()


def test_an_unwritable_cache_still_gives_gradients(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(store.CACHE_VARIABLE, str(blocker / "cache"))
    arguments = problem(NETWORKS[0], 4)
    np.testing.assert_allclose(gradient_function(NETWORKS[0])(*arguments)[0],
                               by_hand(NETWORKS[0], *arguments)[0], rtol=1e-12)


def test_racing_writers_leave_one_complete_file(cache):
    sources = [f"# generated\nvalue = {'x' * 100_000!r}\n"] * 8
    results: list[dict] = []
    barrier = threading.Barrier(len(sources))

    def generate(source: str) -> str:
        barrier.wait()  # every writer has missed before any has written
        return source

    threads = [threading.Thread(target=lambda s=s: results.append(codegen.cached("race", lambda: generate(s))))
               for s in sources]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r["value"] for r in results] == ["x" * 100_000] * len(sources)
    assert [p.name for p in cache.iterdir()] == [f"{codegen.cache_key('race')}.py"]


def test_the_default_cache_is_the_users_cache_directory(monkeypatch, tmp_path):
    monkeypatch.delenv(store.CACHE_VARIABLE)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert store.cache_dir() == tmp_path / "derive"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert store.cache_dir() == Path.home() / ".cache" / "derive"


@pytest.mark.parametrize("network", NETWORKS, ids=lambda n: "-".join(n.activations))
@pytest.mark.parametrize("N", [1, 2, 7, 10, 23])
def test_blocked_evaluation_equals_unblocked(network, N, monkeypatch):
    monkeypatch.setattr(runtime, "MIN_BLOCK", 1)
    monkeypatch.setattr(runtime, "_block_size", lambda rows: 3)
    derivation = derive(network)
    compiled = compile_derivation(derivation)
    kernel = codegen.load(printer.gradient_module(network), "<test>")["gradients"]
    arguments = problem(network, N, seed=N)
    X, Y, *parameters = arguments
    whole = kernel(X, Y, *parameters, N)
    for got in (compiled.gradients(*arguments), gradient_function(network)(*arguments)):
        for g, w, expected in zip(got, whole, by_hand(network, *arguments)):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-15)
            np.testing.assert_allclose(g, expected, rtol=1e-12, atol=1e-15)


def test_blocks_cover_every_sample_once(monkeypatch):
    monkeypatch.setattr(runtime, "MIN_BLOCK", 1)
    monkeypatch.setattr(runtime, "_block_size", lambda rows: 3)
    seen: list[int] = []

    def kernel(X, Y, W1, W2, N):
        seen.append(X.shape[1])
        return (np.zeros((1, 1)),)

    X, Y = np.zeros((2, 10)), np.zeros((1, 10))
    runtime.blocked(kernel, bias=False)(X, Y, np.zeros((2, 2)), np.zeros((1, 2)))
    assert seen == [3, 3, 3, 1]


def blas_threads() -> list[int]:
    """The thread count of each BLAS library loaded in this process."""
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


@pytest.mark.parametrize(("d", "h", "N", "calls", "limited"), [
    (2, 3, 4, 1, False),  # the seed: products too small for BLAS threads
    (2, 3, 100_000, 6, False),  # the seed's blocks: still too small
    (64, 256, 200, 1, True),  # wide layers, the whole batch at once
    (64, 256, 1_000, 3, True),  # wide layers, in blocks
])
def test_calls_with_products_blas_would_share_run_it_on_one_thread(d, h, N, calls, limited,
                                                                   cache):
    with threadpool_limits(limits=2, user_api="blas"):
        outside = blas_threads()
        if set(outside) <= {1}:
            pytest.skip("no BLAS library with threads to limit")
        network = Network((d, h, 1), ("relu", "linear"), "l2", False)
        gradient_function(network)  # generates the code
        ((name, module),) = api._modules.items()
        seen: list[list[int]] = []
        kernel = module["gradients"]

        def recording(*arguments):  # the generated function, reporting BLAS's threads
            seen.append(blas_threads())
            return kernel(*arguments)

        api._modules[name] = {"gradients": recording}
        arguments = problem(network, N)
        got = gradient_function(network)(*arguments)
        assert seen == [[1] * len(outside) if limited else outside] * calls
        assert blas_threads() == outside  # restored after the call
    for g, expected in zip(got, by_hand(network, *arguments)):
        np.testing.assert_allclose(g, expected, rtol=1e-12, atol=1e-15)


def test_generated_code_reads_like_the_derivation():
    seed = compile_derivation(derive(NETWORKS[0])).source()
    for line in ("S1 = W1.dot(X)", "G2 = -1/N*(Y - Z2)", "dL_dW1 = delta1.dot(X.T)"):
        assert line in seed
    biased = compile_derivation(derive(NETWORKS[1])).source()
    assert "numpy.ones" not in biased and ".dot(-1" not in biased
    assert "delta2 = (Z2*(1 - Z2)) * G2" in biased  # sigmoid' from the computed sigmoid
    assert "dL_db1 = delta1.sum(axis=1, keepdims=True)" in biased


def run_python(code: str, cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, store.CACHE_VARIABLE: str(cache), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)


def test_a_fresh_process_with_a_warm_cache_never_imports_sympy(cache):
    cold = run_python("import sys; from derive import dL_dW1; print('sympy' in sys.modules)", cache)
    assert cold.returncode == 0, cold.stderr
    assert cold.stdout.strip() == "True"  # the miss derived the code with SymPy
    warm = run_python(
        "import derive, sys; from derive import dL_dW1, dL_dW2, gradients; "
        "assert 'sympy' not in sys.modules; import numpy as np; "
        "print(dL_dW1(np.ones((2, 3)), np.ones(3), np.ones((4, 2)), np.ones((1, 4))).shape)",
        cache)
    assert warm.returncode == 0, warm.stderr
    assert warm.stdout.strip() == "(4, 2)"


def test_import_derive_is_light_and_every_name_still_loads(cache):
    names = "SEED Derivation DeriveError Example Network RenderOptions SpecError WorkedExample " \
            "compile_derivation dL_dW1 dL_dW2 derive gradient_function gradients load_example " \
            "train worked_example"
    result = run_python(
        "import sys, derive; assert 'sympy' not in sys.modules; "
        f"from derive import {', '.join(names.split())}; "
        "assert SEED.sizes == (2, 3, 1) and callable(derive)", cache)
    assert result.returncode == 0, result.stderr


# Functions that explain themselves: help() shows each one's arguments, their shapes, what it
# returns and an example that runs; a mis-shaped argument is one error naming it and the fix.

SEED_FUNCTIONS = ("dL_dW1", "dL_dW2", "gradients")


PUBLIC = (*SEED_FUNCTIONS, "gradient_function", "worked_example", "load_example")


@pytest.mark.parametrize("name", [*PUBLIC, "gradient_function(network)"])
def test_each_public_function_documents_its_arguments_result_and_an_example(name):
    function = (gradient_function(NETWORKS[3]) if name == "gradient_function(network)"
                else getattr(package, name))
    doc = inspect.getdoc(function)
    assert function.__name__ != "<lambda>" and "Example:" in doc
    assert re.search(r"\bX\s+is\b", doc), doc
    assert re.search(r"\breturn|\) of the", doc, re.IGNORECASE), doc


@pytest.mark.parametrize("name", SEED_FUNCTIONS)
def test_the_seed_functions_show_their_own_name_and_arguments(name):
    function = getattr(package, name)
    assert function.__name__ == name and function.__module__ == "derive"
    assert str(inspect.signature(function)) == "(X, y, W1, W2)"


def test_a_gradient_functions_help_lists_the_shapes_of_its_network():
    function = gradient_function(NETWORKS[3])  # 4-3-3, relu, softmax, biases
    assert str(inspect.signature(function)) == "(X, y, W1, b1, W2, b2)"
    doc = inspect.getdoc(function)
    assert "X is 4 x N (one column per sample) and y is 3 x N." in doc
    assert "W1 is 3 x 4 and b1 holds 3 numbers.\nW2 is 3 x 3 and b2 holds 3 numbers." in doc
    assert "dL_dW1, dL_db1, dL_dW2, dL_db2 = gradients(X, y, W1, b1, W2, b2)" in doc


@pytest.mark.parametrize("name", PUBLIC)
def test_the_examples_in_the_docstrings_run_as_written(name, monkeypatch):
    monkeypatch.chdir(ROOT)  # they read examples/seed.toml
    function = getattr(package, name)
    runner = doctest.DocTestRunner()
    for test in doctest.DocTestFinder().find(function, name, globs={}):
        runner.run(test)
    assert runner.summarize(verbose=False).attempted > 0
    assert runner.summarize(verbose=False).failed == 0


X4, Y4 = np.ones((2, 4)), np.ones(4)
W1_, W2_ = np.ones((3, 2)), np.ones((1, 3))


@pytest.mark.parametrize(("arguments", "message"), [
    ((X4.T, Y4, W1_, W2_), ("X is 4 x 2 but W1 has 2 columns: X must be d x N (one column per "
                           "sample); pass X.T")),
    ((np.ones(2), Y4, W1_, W2_), ("X is a vector of 2 numbers: X must be d x N (one column per "
                                 "sample); for one sample pass X.reshape(-1, 1)")),
    ((X4, Y4, W1_.T, W2_), ("W1 is 2 x 3 but X has 2 rows: W1 must have 2 columns, one per "
                           "input; pass W1.T")),
    ((X4, Y4, W1_, W2_.T), ("W2 is 3 x 1 but W1 has 3 rows: W2 must have 3 columns, one per unit "
                           "of layer 1; pass W2.T")),
    ((X4, Y4, W1_, np.ones((1, 4))), ("W2 is 1 x 4 but W1 has 3 rows: W2 must have 3 columns, "
                                     "one per unit of layer 1")),
    ((X4, Y4, np.ones(3), W2_), ("W1 is a vector of 3 numbers: W1 must be a matrix, one row of "
                                "weights per unit of layer 1")),
    ((X4, np.ones(5), W1_, W2_), ("y is a vector of 5 numbers but the network has 1 output (rows "
                                 "of W2) and X 4 columns (samples): y must be k x N (one column "
                                 "per sample), or a vector of N numbers")),
])
def test_a_mis_shaped_argument_of_the_seed_is_one_error_naming_it_and_the_fix(arguments, message):
    from derive import dL_dW1, dL_dW2, gradients

    for function in (dL_dW1, dL_dW2, gradients):
        with pytest.raises(ValueError) as raised:
            function(*arguments)
        assert str(raised.value) == message


@pytest.mark.parametrize(("change", "message"), [
    ({"y": np.ones((37, 3))}, ("y is 37 x 3 but the network has 3 outputs (rows of W2) and X 37 "
                              "columns (samples): y must be k x N (one column per sample); "
                              "pass y.T")),
    ({"b1": np.ones(4)}, ("b1 has 4 numbers but W1 has 3 rows: b1 must hold one bias per unit of "
                         "layer 1")),
])
def test_a_mis_shaped_argument_of_any_network_is_one_error_naming_it(change, message):
    X, Y, W1, b1, W2, b2 = problem(NETWORKS[3], 37)
    arguments = {"X": X, "y": Y, "W1": W1, "b1": b1, "W2": W2, "b2": b2} | change
    with pytest.raises(ValueError) as raised:
        gradient_function(NETWORKS[3])(*arguments.values())
    assert str(raised.value) == message


def test_a_missing_parameter_names_every_argument():
    X, Y, W1, b1, W2, _ = problem(NETWORKS[3], 5)
    with pytest.raises(TypeError, match=r"expected the arguments X, y, W1, b1, W2, b2: 4 "
                                        r"parameters after X and y, not 3"):
        gradient_function(NETWORKS[3])(X, Y, W1, b1, W2)


def test_every_shape_the_documentation_allows_is_accepted():
    X, Y, W1, W2 = problem(NETWORKS[0], 6)
    expected = gradient_function(NETWORKS[0])(X, Y, W1, W2)
    for y in (Y.ravel(), Y.reshape(1, -1), Y.reshape(-1, 1), Y.ravel().tolist()):
        for got, want in zip(gradient_function(NETWORKS[0])(X.tolist(), y, W1, W2), expected):
            np.testing.assert_array_equal(got, want)
    biased = problem(NETWORKS[1], 6)
    flat = [p.ravel() if p.shape[1] == 1 else p for p in biased[2:]]
    for got, want in zip(gradient_function(NETWORKS[1])(*biased[:2], *flat),
                         gradient_function(NETWORKS[1])(*biased)):
        np.testing.assert_array_equal(got, want)
