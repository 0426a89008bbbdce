"""What the generated code runs on: NumPy helpers it calls, and its evaluation in blocks.

Only NumPy is imported here (and threadpoolctl on the first call large enough to need it), so a
process whose code is already cached never imports SymPy.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from functools import cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike
    from threadpoolctl import ThreadpoolController

BLOCK_BYTES = 1 << 20
"""One value per layer row for every sample of a block takes about this much memory: small
enough for a block's temporaries to stay in cache, large enough that NumPy's per-call overhead
is small against the arithmetic (measured best on the machines derive was tuned on)."""

MIN_BLOCK = 256
"""Fewest samples per block; batches up to this size are evaluated whole."""

THREADED_WORK = 1 << 18
"""Multiply-adds from which OpenBLAS shares a matrix product among its threads (its
GEMM_MULTITHREAD_THRESHOLD, 4, times 65,536). A call whose block's products may reach it (a
block's samples times every parameter's size) runs with one BLAS thread: a block's products
are mid-sized, and when another process keeps a core busy, each product's second thread waits
for that core, which made a call several times slower than on one thread."""

Kernel = Callable[..., tuple[np.ndarray, ...]]
Gradients = Callable[..., tuple[np.ndarray, ...]]


def sigmoid(S: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-S) to the last bit for either sign: e^-|S| never overflows."""
    small = np.exp(-np.abs(S))
    return np.where(S >= 0, 1.0, small) / (1.0 + small)


def softmax(S: np.ndarray) -> np.ndarray:
    """Column-wise softmax, shifted by each column's maximum so exp never overflows."""
    shifted = np.exp(S - S.max(axis=0, keepdims=True))
    return shifted / shifted.sum(axis=0, keepdims=True)


def log_softmax(S: np.ndarray) -> np.ndarray:
    """Column-wise log softmax: S minus each column's log-sum-exp, finite for any logits."""
    shifted = S - S.max(axis=0, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True))


def blocked(kernel: Kernel, *, bias: bool) -> Gradients:
    """`kernel(X, Y, *parameters, N)` for user-shaped arguments, summed over blocks of samples.

    X is d x N (a column per sample), y is k x N or a length-N vector, and parameters come as
    W1, (b1,) W2, ... with biases (when `bias`) as columns or flat vectors; arguments of other
    shapes raise one `ValueError` naming the argument, the shape it needs and the likely fix
    (see `_shape_error`). Gradients are sums over samples, so the whole batch's are the sum of
    its blocks', each scaled by the whole batch's N; a block's temporaries stay in cache instead
    of streaming through memory. A call whose blocks' products are large enough for BLAS to
    share among threads runs them on one (see THREADED_WORK).
    """
    count = _parameter_count(kernel)

    def gradients(X: ArrayLike, y: ArrayLike, *parameters: ArrayLike) -> tuple[np.ndarray, ...]:
        X, y = np.asarray(X, float), np.asarray(y, float)
        # One loop rather than comprehensions: each costs about 3% of a call at the seed's size.
        arrays, size = [], 0
        for parameter in parameters:
            arrays.append(array := np.asarray(parameter, float))
            size += array.size
        if not _fits(X, y, arrays, bias, count):
            raise _shape_error(X, y, arrays, bias, count)
        N = X.shape[1]
        Y = y.reshape(-1, N)
        if bias:
            arrays[1::2] = [b.reshape(-1, 1) for b in arrays[1::2]]
        block = N if N <= MIN_BLOCK else min(N, _block_size(_rows(X, Y, arrays)))
        threaded = block * size >= THREADED_WORK
        if block == N and not threaded:
            return kernel(X, Y, *arrays, N)
        with one_blas_thread() if threaded else nullcontext():
            return _evaluate(kernel, X, Y, arrays, block)

    return gradients


def _parameter_count(kernel: Kernel) -> int | None:
    """How many parameters `kernel(X, Y, *parameters, N)` takes; None if it takes any number."""
    code = getattr(kernel, "__code__", None)
    if code is None or code.co_flags & inspect.CO_VARARGS:
        return None
    return code.co_argcount - 3


def _fits(X: np.ndarray, y: np.ndarray, arrays: list[np.ndarray], bias: bool,
          count: int | None) -> bool:
    """Whether the arguments have the shapes `blocked` documents (a few tuple comparisons)."""
    shape = X.shape
    if len(shape) != 2 or (count is not None and len(arrays) != count):
        return False
    units = shape[0]
    if bias:
        if len(arrays) % 2:
            return False
        for W, b in zip(arrays[::2], arrays[1::2]):
            rows_columns = W.shape
            if len(rows_columns) != 2 or rows_columns[1] != units or b.size != rows_columns[0]:
                return False
            units = rows_columns[0]
    else:
        for W in arrays:
            rows_columns = W.shape
            if len(rows_columns) != 2 or rows_columns[1] != units:
                return False
            units = rows_columns[0]
    return y.shape == (units, shape[1]) or (units == 1 and y.size == shape[1])


def _shape_error(X: np.ndarray, y: np.ndarray, arrays: list[np.ndarray], bias: bool,
                count: int | None) -> Exception:
    """The first argument whose shape does not fit, named with the shape it needs and the
    likely fix (a transposed matrix is the common mistake)."""
    step = 1 + bias
    expected = count if count is not None else len(arrays) + len(arrays) % step
    parameters = [f"{kind}{index // step + 1}" for index, kind in
                  zip(range(expected), ("W", "b") * expected if bias else "W" * expected)]
    if len(arrays) != expected:
        return TypeError(f"expected the arguments X, y, {', '.join(parameters)}: "
                         f"{_count(expected, 'parameter')} after X and y, not {len(arrays)}")
    if X.ndim != 2:
        return ValueError(f"X is {_shape(X)}: X must be d x N (one column per sample); for one "
                          "sample pass X.reshape(-1, 1)")
    before, units = "X", X.shape[0]
    for layer, index in enumerate(range(0, len(arrays), step), start=1):
        name, W = parameters[index], arrays[index]
        if W.ndim != 2:
            return ValueError(f"{name} is {_shape(W)}: {name} must be a matrix, one row of "
                              f"weights per unit of layer {layer}")
        if W.shape[1] != units:
            return _mismatch(name, W, before, units, X if before == "X" else None, layer)
        units, before = W.shape[0], name
        if bias and arrays[index + 1].size != units:
            b = parameters[index + 1]
            return ValueError(f"{b} has {arrays[index + 1].size} numbers but {name} has {units} "
                              f"rows: {b} must hold one bias per unit of layer {layer}")
    N = X.shape[1]
    fix = "; pass y.T" if y.shape == (N, units) else ""
    return ValueError(f"y is {_shape(y)} but the network has {_count(units, 'output')} (rows of "
                      f"{before}) and X {_count(N, 'column')} (samples): y must be k x N (one "
                      f"column per sample){', or a vector of N numbers' if units == 1 else ''}"
                      f"{fix}")


def _mismatch(name: str, W: np.ndarray, before: str, units: int, X: np.ndarray | None,
              layer: int) -> ValueError:
    """The message for a weight matrix whose columns do not match the units feeding it."""
    if X is not None and X.shape[1] == W.shape[1]:
        return ValueError(f"X is {_shape(X)} but {name} has {_count(W.shape[1], 'column')}: X "
                          "must be d x N (one column per sample); pass X.T")
    fix = f"; pass {name}.T" if W.shape[0] == units else ""
    feeding = "input" if X is not None else f"unit of layer {layer - 1}"
    return ValueError(f"{name} is {_shape(W)} but {before} has {_count(units, 'row')}: {name} "
                      f"must have {_count(units, 'column')}, one per {feeding}{fix}")


def _count(n: int, thing: str) -> str:
    """`n` things, in words: 1 row, 3 rows."""
    return f"{n} {thing}{'' if n == 1 else 's'}"


def _shape(array: np.ndarray) -> str:
    """A shape as a message says it: 4 x 2, or a vector (a number) of n numbers."""
    if array.ndim == 2:
        return f"{array.shape[0]} x {array.shape[1]}"
    if array.ndim == 1:
        return f"a vector of {array.size} numbers"
    return "a single number" if array.ndim == 0 else " x ".join(map(str, array.shape))


def _evaluate(kernel: Kernel, X: np.ndarray, Y: np.ndarray, parameters: list[np.ndarray],
              block: int) -> tuple[np.ndarray, ...]:
    """`kernel` on the whole batch, or summed over its blocks of `block` samples."""
    N = X.shape[1]
    if N == block:
        return kernel(X, Y, *parameters, N)
    _keep_freed_memory()
    return _add(kernel(np.ascontiguousarray(X[:, start:start + block]),
                       np.ascontiguousarray(Y[:, start:start + block]), *parameters, N)
                for start in range(0, N, block))


def _rows(X: np.ndarray, Y: np.ndarray, parameters: list[np.ndarray]) -> int:
    """The rows of X, Y and every parameter: a sample's values in each, together."""
    return X.shape[0] + Y.shape[0] + sum(parameter.shape[0] for parameter in parameters)


def _block_size(rows: int) -> int:
    """Samples per block: a sample's column of `rows` values (X, Y and every parameter's rows,
    one per layer's unit) for every sample of a block together fits in BLOCK_BYTES."""
    return max(MIN_BLOCK, BLOCK_BYTES // (8 * rows))


def one_blas_thread() -> AbstractContextManager:
    """A context in which BLAS runs on the calling thread alone, restored on leaving it."""
    return _blas_controller().limit(limits=1, user_api="blas")


@cache
def _blas_controller() -> ThreadpoolController:
    """threadpoolctl's view of the loaded BLAS libraries, found once per process (a millisecond);
    imported on first need, so a process that only takes small gradients never loads it."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _add(parts: Iterable[tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
    """The element-wise sum of tuples of arrays, added into the first tuple's (fresh) arrays."""
    parts = iter(parts)
    totals = next(parts)
    for part in parts:
        for total, value in zip(totals, part):
            total += value
    return totals


@cache
def _keep_freed_memory() -> None:
    """Let freed blocks' memory be reused rather than returned to the system and faulted back in.

    glibc's malloc returns free memory at the top of its heap to the system once there is more
    than its trim threshold (128 KiB at first), so each block's temporaries would be paged in
    anew: five times slower than the arithmetic here. Freeing one allocation larger than its
    mmap threshold raises both thresholds for the life of the process (glibc's dynamic mmap
    threshold, which any large NumPy array triggers too, up to 32 MiB); with other allocators
    this is just an allocation, never written to.
    """
    np.empty((16 << 20) // 8)
