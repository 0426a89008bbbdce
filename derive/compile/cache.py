"""The disk cache of the code SymPy generated, and running it without SymPy.

Only the standard library is imported here, so a process whose code is already in the cache
never imports SymPy. A cache file is named by a hash of everything that shaped its code:
the request (architecture and functions), derive's and SymPy's versions and the text of derive's
code-generating modules, so editing any of them, or upgrading SymPy, can never reuse stale code.
"""

from __future__ import annotations

import hashlib
import linecache
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

CACHE_VARIABLE = "DERIVE_CACHE_DIR"
"""The environment variable that overrides where generated code is cached."""

_PACKAGE = Path(__file__).resolve().parent.parent
GENERATORS = tuple(_PACKAGE / name for name in (
    "ops.py", "symbolic.py", "compile/printer.py", "compile/cache.py", "compile/runtime.py"))
"""derive's modules whose text determines the generated code, hashed into every cache key."""


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


