"""What the generated code runs on: NumPy helpers it calls, and its evaluation in blocks.

Only NumPy is imported here, so a process whose code is already cached never imports SymPy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

BLOCK_BYTES = 1 << 20
"""One value per layer row for every sample of a block takes about this much memory: small
enough for a block's temporaries to stay in cache, large enough that NumPy's per-call overhead
is small against the arithmetic (measured best on the machines derive was tuned on)."""

MIN_BLOCK = 256
"""Fewest samples per block; batches up to this size are evaluated whole."""

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
    batch's N; a block's temporaries stay in cache instead of streaming through memory.
    """

    def gradients(X: ArrayLike, y: ArrayLike, *parameters: ArrayLike) -> tuple[np.ndarray, ...]:
        X = np.asarray(X, float)
        N = X.shape[1]
        Y = np.asarray(y, float).reshape(-1, N)
        arrays = [np.asarray(p, float) for p in parameters]
        if bias:
            arrays[1::2] = [b.reshape(-1, 1) for b in arrays[1::2]]
        if N <= MIN_BLOCK or N <= (block := _block_size(X, Y, arrays)):
            return kernel(X, Y, *arrays, N)
        _keep_freed_memory()
        return _add(kernel(np.ascontiguousarray(X[:, start:start + block]),
                           np.ascontiguousarray(Y[:, start:start + block]), *arrays, N)
                    for start in range(0, N, block))

    return gradients


def _block_size(X: np.ndarray, Y: np.ndarray, parameters: list[np.ndarray]) -> int:
    """Samples per block: each sample's column of every layer together fits in BLOCK_BYTES."""
    rows = X.shape[0] + Y.shape[0] + sum(p.shape[0] for p in parameters)
    return max(MIN_BLOCK, BLOCK_BYTES // (8 * rows))


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
