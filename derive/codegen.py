"""Code SymPy generated, run without SymPy: a disk cache of it, and its evaluation in blocks.

Only the standard library and NumPy are imported here, so a process whose code is already in the
cache never imports SymPy. A cache file is named by a hash of everything that shaped its code:
the request (architecture and functions), derive's and SymPy's versions and the text of derive's
code-generating modules, so editing any of them, or upgrading SymPy, can never reuse stale code.
"""

from __future__ import annotations

import hashlib
import linecache
import os
import sys
import tempfile
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

CACHE_VARIABLE = "DERIVE_CACHE_DIR"
"""The environment variable that overrides where generated code is cached."""

GENERATORS = tuple(Path(__file__).with_name(name)
                   for name in ("activations.py", "symbolic.py", "numeric.py", "codegen.py"))
"""derive's modules whose text determines the generated code, hashed into every cache key."""

BLOCK_BYTES = 1 << 20
"""One value per layer row for every sample of a block takes about this much memory: small
enough for a block's temporaries to stay in cache, large enough that NumPy's per-call overhead
is small against the arithmetic (measured best on the machines derive was tuned on)."""

MIN_BLOCK = 256
"""Fewest samples per block; batches up to this size are evaluated whole."""

Kernel = Callable[..., tuple[np.ndarray, ...]]
Gradients = Callable[..., tuple[np.ndarray, ...]]


def softmax(S: np.ndarray) -> np.ndarray:
    """Column-wise softmax, shifted by each column's maximum so exp never overflows."""
    shifted = np.exp(S - S.max(axis=0, keepdims=True))
    return shifted / shifted.sum(axis=0, keepdims=True)


def cache_dir() -> Path:
    """`$DERIVE_CACHE_DIR`, else `$XDG_CACHE_HOME/derive`, else `~/.cache/derive`."""
    if os.environ.get(CACHE_VARIABLE):
        return Path(os.environ[CACHE_VARIABLE])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "derive"


def cache_key(request: str) -> str:
    """A hash of `request` and of everything else the code generated for it depends on."""
    digest = hashlib.sha256(request.encode())
    for package in ("derive", "sympy"):
        digest.update(f"\n{package} {_version(package)}".encode())
    for path in GENERATORS:
        digest.update(b"\n" + path.read_bytes())
    return digest.hexdigest()[:32]


def _version(package: str) -> str:
    """The installed version of `package`, from its `NAME-VERSION.dist-info` directory.

    Looked up by name on sys.path, as the import system would find it, because importing
    importlib.metadata alone costs a sixth of NumPy's import; it is the fallback.
    """
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            stem, _, version = name.removesuffix(".dist-info").rpartition("-")
            if name.endswith(".dist-info") and stem.lower() == package:
                return version
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def cached(request: str, generate: Callable[[], str]) -> dict[str, Any]:
    """The namespace of the cached module for `request`; on a miss, `generate()`'s, cached.

    `generate` runs only on a miss (or an unreadable file); a cache that cannot be written only
    costs the next process a fresh generation.
    """
    path = cache_dir() / f"{cache_key(request)}.py"
    try:
        return load(path.read_text(encoding="utf-8"), str(path))
    except (OSError, SyntaxError):
        source = generate()
    try:
        _write_atomically(path, source)
    except OSError:
        pass
    return load(source, str(path))


def _write_atomically(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, then rename: readers never see a partial file.

    Two processes that miss at once both write the same text; the last rename wins.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def load(source: str, filename: str) -> dict[str, Any]:
    """Execute generated module source; its namespace. Tracebacks and `inspect` show the source."""
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    namespace: dict[str, Any] = {"__name__": "derive.generated"}
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - running it is the point
    return namespace


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
