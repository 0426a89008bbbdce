"""Derivations kept on disk, one per architecture, so that another process need not redo SymPy's
work: a build's worker processes, the next build, the next `mkdocs serve`.

An entry is a pickle, and loading a pickle runs code, so entries are read only under
`derive.store`'s rules; its key hashes the architecture and the text of the modules that
derive it. A damaged entry, or one that does not load, is derived again and replaced.
"""

from __future__ import annotations

import contextlib
import io
import pickle
from functools import cache
from pathlib import Path

from . import ops, store, symbolic
from .spec import Network
from .symbolic import Derivation

DERIVATIONS = store.Store("derivations", ".pickle")
"""Pickled derivations, by the hash of their architecture and of derive's symbolic modules."""

_SOURCES = (Path(ops.__file__), Path(symbolic.__file__))


@cache
def derivation(network: Network, weight_decay: bool, decay_biases: bool = False) -> Derivation:
    """`symbolic.derive(network, weight_decay=..., decay_biases=...)`, from this process, the
    disk or SymPy."""
    architecture = (network.activations, network.loss, network.reduction, network.bias,
                    network.leaky_slope, weight_decay, decay_biases)
    key = store.fingerprint(repr(architecture), store.sources_digest(_SOURCES))
    body = DERIVATIONS.read(key)
    if body is not None:
        with contextlib.suppress(Exception):  # whatever a damaged entry does, derive again
            found = pickle.loads(body)
            if isinstance(found, Derivation):
                return found
    derived = symbolic.derive(network, weight_decay=weight_decay, decay_biases=decay_biases)
    with contextlib.suppress(OSError):
        DERIVATIONS.write(key, _pickled(derived))
    return derived


class _Pickler(pickle.Pickler):
    """Pickles the element-wise function classes derive makes per leaky slope, too."""

    def reducer_override(self, obj: object) -> object:
        return ops.leaky_reduction(obj) or NotImplemented


def _pickled(derived: Derivation) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(derived)
    return buffer.getvalue()
