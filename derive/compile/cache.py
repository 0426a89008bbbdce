"""The disk cache of the code SymPy generated, and running it without SymPy.

Only the standard library is imported here, so a process whose code is already in the cache
never imports SymPy. A cache file is named by a hash of everything that shaped its code:
the request (architecture and functions), derive's and SymPy's versions and the text of derive's
code-generating modules, so editing any of them, or upgrading SymPy, can never reuse stale code.
Cached code is executed, so it is read only under `derive.store`'s rules: a file derive did not
provably write, or that does not decode, compile, execute or define the functions asked for, is a
miss: its code is generated again and replaces it.
"""

from __future__ import annotations

import contextlib
import linecache
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .. import store

_PACKAGE = Path(__file__).resolve().parent.parent
GENERATORS = tuple(_PACKAGE / name for name in (
    "ops.py", "symbolic.py", "compile/printer.py", "compile/ones.py", "compile/cache.py",
    "compile/runtime.py"))
"""derive's modules whose text determines the generated code, hashed into every cache key."""

CODE = store.Store("", ".py")
"""Generated modules, at the top of the cache folder."""


def cache_key(request: str) -> str:
    """A hash of `request` and of everything else the code generated for it depends on."""
    return store.fingerprint(request, store.sources_digest(GENERATORS))


def cached(request: str, generate: Callable[[], str], names: Iterable[str] = ()) -> dict[str, Any]:
    """The namespace of the cached module for `request`; on a miss, `generate()`'s, cached.

    A miss is also a file that is untrusted, damaged or lacks any of `names`; `generate` runs
    only then. A cache that cannot be written only costs the next process a fresh generation.
    """
    key = cache_key(request)
    namespace = _load_cached(key, tuple(names))
    if namespace is not None:
        return namespace
    source = generate()
    namespace = load(source, _filename(key))
    with contextlib.suppress(OSError):
        CODE.write(key, source.encode())
    return namespace


def _load_cached(key: str, names: tuple[str, ...]) -> dict[str, Any] | None:
    """The namespace of the trusted entry `key` if it loads and defines `names`, else None.

    Any failure is a miss, so a damaged file is replaced instead of breaking every import.
    """
    body = CODE.read(key)
    if body is None:
        return None
    try:
        namespace = load(body.decode(), _filename(key))
    except Exception:  # noqa: BLE001 - whatever the file does wrong, its code is generated again
        return None
    return namespace if all(name in namespace for name in names) else None


def _filename(key: str) -> str:
    """The name tracebacks and `inspect` show for the module of `key`: its cache file's path."""
    return str(CODE.path(key) or f"<derive generated {key}>")


def load(source: str, filename: str) -> dict[str, Any]:
    """Execute generated module source; its namespace. Tracebacks and `inspect` show the source."""
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    namespace: dict[str, Any] = {"__name__": "derive.generated"}
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - running it is the point
    return namespace
