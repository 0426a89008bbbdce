"""What the generated code runs on: NumPy helpers it calls, and its evaluation in blocks.

Only NumPy is imported here (and threadpoolctl on the first call large enough to need it), so a
process whose code is already cached never imports SymPy.
"""

from __future__ import annotations

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
    W1, (b1,) W2, ... with biases (when `bias`) as columns or flat vectors. Gradients are sums
    over samples, so the whole batch's are the sum of its blocks', each scaled by the whole
    batch's N; a block's temporaries stay in cache instead of streaming through memory. A call
    whose blocks' products are large enough for BLAS to share among threads runs them on one
    (see THREADED_WORK).
    """

    def gradients(X: ArrayLike, y: ArrayLike, *parameters: ArrayLike) -> tuple[np.ndarray, ...]:
        X = np.asarray(X, float)
        N = X.shape[1]
        Y = np.asarray(y, float).reshape(-1, N)
        # One loop rather than comprehensions: each costs about 3% of a call at the seed's size.
        arrays, rows, size = [], X.shape[0] + Y.shape[0], 0
        for parameter in parameters:
            arrays.append(array := np.asarray(parameter, float))
            rows += array.shape[0]
            size += array.size
        if bias:
            arrays[1::2] = [b.reshape(-1, 1) for b in arrays[1::2]]
        block = N if N <= MIN_BLOCK else min(N, _block_size(rows))
        threaded = block * size >= THREADED_WORK
        if block == N and not threaded:
            return kernel(X, Y, *arrays, N)
        with one_blas_thread() if threaded else nullcontext():
            return _evaluate(kernel, X, Y, arrays, block)

    return gradients


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
