"""Derivations are kept on disk per architecture and read back as they were derived."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from derive import derivations, store, symbolic
from derive.compile.compiled import compile_derivation
from derive.spec import Network

NETWORKS = [
    Network((3, 4, 2), ("relu", "linear"), "mse", True),
    Network((2, 3, 3), ("leaky_relu", "softmax"), "cross_entropy", True, 0.2),
    Network((2, 3, 1), ("tanh", "sigmoid"), "bce", False),
]

pytestmark = pytest.mark.usefixtures("cache")  # a fresh cache for every test


@pytest.fixture
def derived(monkeypatch: pytest.MonkeyPatch) -> list[Network]:
    """The networks SymPy derived (not read from disk), in a process that remembers none."""
    calls: list[Network] = []
    original = symbolic.derive

    def recording(network: Network, *, weight_decay: bool = False,
                  decay_biases: bool = False) -> symbolic.Derivation:
        calls.append(network)
        return original(network, weight_decay=weight_decay, decay_biases=decay_biases)

    monkeypatch.setattr(symbolic, "derive", recording)
    derivations.derivation.cache_clear()
    yield calls
    derivations.derivation.cache_clear()


def arguments(network: Network, derivation: symbolic.Derivation) -> list[np.ndarray]:
    """Random data and parameters of the network's sizes, in the derivation's argument order."""
    rng = np.random.default_rng(3)
    sizes = {**dict(zip(derivation.widths, network.sizes)), derivation.N: 5}
    return [rng.uniform(0.1, 0.9, size=[int(n.xreplace(sizes)) for n in argument.shape])
            for argument in derivation.arguments[:2 + len(derivation.parameters)]]


@pytest.mark.parametrize("network", NETWORKS, ids=lambda n: "-".join(n.activations))
@pytest.mark.parametrize("weight_decay", [False, True])
def test_another_process_reads_the_derivation_and_gets_the_same_gradients(network, weight_decay,
                                                                          derived):
    fresh = derivations.derivation(network, weight_decay)
    assert derived == [network]
    derivations.derivation.cache_clear()  # as a new process starts
    read = derivations.derivation(network, weight_decay)
    assert derived == [network]
    assert read is not fresh and str(read.definitions) == str(fresh.definitions)
    assert read.locals == fresh.locals  # leaky_relu's class for its slope, too
    values = arguments(network, fresh) + ([0.1] if weight_decay else [])
    for got, want in zip(compile_derivation(read).gradients(*values),
                         compile_derivation(fresh).gradients(*values), strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("damage", ["content", "not a derivation"])
def test_a_damaged_derivation_is_derived_again(damage, derived):
    network = NETWORKS[0]
    derivations.derivation(network, False)
    (entry,) = derivations.DERIVATIONS.directory.iterdir()
    data = entry.read_bytes()
    if damage == "content":
        entry.write_bytes(data[:-8] + b"damaged!")
    else:
        entry.write_bytes(store.stamped(pickle.dumps(["not", "a", "derivation"]), entry.stem))
    derivations.derivation.cache_clear()
    derivations.derivation(network, False)
    assert derived == [network, network]
    assert entry.read_bytes() == data
