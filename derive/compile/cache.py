"""The disk cache of the code SymPy generated, and running it without SymPy.

Only the standard library is imported here, so a process whose code is already in the cache
never imports SymPy. A cache file is named by a hash of everything that shaped its code:
the request (architecture and functions), derive's and SymPy's versions and the text of derive's
code-generating modules, so editing any of them, or upgrading SymPy, can never reuse stale code.

Cached code is executed, so a file is trusted only if, seen through one open descriptor, it is a
regular file (not a symlink), owned by the current user, not writable by group or others, and
its first line, `# derive-cache sha256=<hex>`, is the SHA-256 of the rest. A file failing any
check, or that does not decode, compile, execute or define the functions asked for, is a miss:
its code is generated again and replaces it. The directory is created private (0o700), files are
written 0o600, synced, then renamed into place. After each write the directory keeps at most
`MAX_ENTRIES` cache files, the least recently used going first, and no temporary file older than
`STALE_TEMPORARY` seconds. A cache that cannot be written costs only a generation per process.
"""

from __future__ import annotations

import contextlib
import hashlib
import linecache
import os
import re
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

CACHE_VARIABLE = "DERIVE_CACHE_DIR"
"""The environment variable that overrides where generated code is cached."""

_PACKAGE = Path(__file__).resolve().parent.parent
GENERATORS = tuple(_PACKAGE / name for name in (
    "ops.py", "symbolic.py", "compile/printer.py", "compile/cache.py", "compile/runtime.py"))
"""derive's modules whose text determines the generated code, hashed into every cache key."""

MAX_ENTRIES = 256
"""The most cache files kept in the cache directory; the least recently used are deleted."""

STALE_TEMPORARY = 3600
"""Seconds after which a temporary file, left by a writer that died, is deleted."""

HEADER = b"# derive-cache sha256="
"""How a cache file's first line starts; the SHA-256 of the rest of the file follows."""

_ENTRY = re.compile(r"[0-9a-f]{32}\.py")
_TEMPORARY = re.compile(r"\.[0-9a-f]{32}-.*\.tmp")


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


def cached(request: str, generate: Callable[[], str], names: Iterable[str] = ()) -> dict[str, Any]:
    """The namespace of the cached module for `request`; on a miss, `generate()`'s, cached.

    A miss is also a file that is untrusted, damaged or lacks any of `names`; `generate` runs
    only then. A cache that cannot be written only costs the next process a fresh generation.
    """
    path = cache_dir() / f"{cache_key(request)}.py"
    namespace = _load_trusted(path, tuple(names))
    if namespace is not None:
        return namespace
    data = _stamped(generate().encode())
    namespace = load(data.decode(), str(path))
    try:
        _write_atomically(path, data)
    except OSError:
        return namespace
    _prune(path.parent)
    return namespace


def _load_trusted(path: Path, names: tuple[str, ...]) -> dict[str, Any] | None:
    """The namespace of the cache file at `path` if it is trusted and loads with `names`, else None.

    Any failure is a miss, so a damaged file is replaced instead of breaking every import.
    """
    try:
        namespace = load(_read_trusted(path).decode(), str(path))
    except Exception:  # noqa: BLE001 - whatever the file does wrong, its code is generated again
        return None
    if not all(name in namespace for name in names):
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # used now: pruning deletes the least recently used files first
    return namespace


class _Untrusted(Exception):
    """A cache file that must not be executed."""


def _read_trusted(path: Path) -> bytes:
    """The content of `path`, checked through one descriptor so it cannot be swapped meanwhile.

    O_NONBLOCK keeps a planted FIFO from blocking the open; fstat then rejects it.
    """
    handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(handle, "rb") as file:
        status = os.fstat(file.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise _Untrusted(f"{path} is not a regular file")
        if status.st_uid != os.getuid():
            raise _Untrusted(f"{path} is owned by user {status.st_uid}, not {os.getuid()}")
        if status.st_mode & 0o022:
            raise _Untrusted(f"{path} is writable by group or others")
        data = file.read()
    if data != _stamped(data.partition(b"\n")[2]):
        raise _Untrusted(f"{path} does not match the hash on its first line")
    return data


def _stamped(body: bytes) -> bytes:
    """`body` under the line recording its hash: a cache file as derive writes it."""
    return HEADER + hashlib.sha256(body).hexdigest().encode() + b"\n" + body


def _write_atomically(path: Path, data: bytes) -> None:
    """Write a temporary file beside `path`, sync it, then rename: neither a reader nor a crash
    sees a partial file.

    Two processes that miss at once both write the same bytes; the last rename wins.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _sync_directory(path.parent)


def _sync_directory(directory: Path) -> None:
    """Make a rename in `directory` durable; best effort, as not every system can sync one."""
    with contextlib.suppress(OSError):
        handle = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


def _prune(directory: Path) -> None:
    """Delete all but the `MAX_ENTRIES` most recently used cache files, and stale temporaries.

    Only names derive writes are touched, so other files in the directory are safe. Never raises:
    a cache left too big is no reason to fail.
    """
    entries: list[tuple[float, str]] = []
    stale = time.time() - STALE_TEMPORARY
    with contextlib.suppress(OSError), os.scandir(directory) as listing:
        for entry in listing:
            with contextlib.suppress(OSError):
                modified = entry.stat(follow_symlinks=False).st_mtime
                if _ENTRY.fullmatch(entry.name):
                    entries.append((modified, entry.path))
                elif _TEMPORARY.fullmatch(entry.name) and modified < stale:
                    os.unlink(entry.path)
    for _, unused in sorted(entries, reverse=True)[MAX_ENTRIES:]:
        with contextlib.suppress(OSError):
            os.unlink(unused)


def load(source: str, filename: str) -> dict[str, Any]:
    """Execute generated module source; its namespace. Tracebacks and `inspect` show the source."""
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    namespace: dict[str, Any] = {"__name__": "derive.generated"}
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - running it is the point
    return namespace
