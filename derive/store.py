"""derive's on-disk caches: private folders of files that only derive's own writes can fill.

Only the standard library is imported here, so reading a cache never imports SymPy. Every cache
(generated code, derivations, example pages) keeps to the same rules, because what it holds is
executed or unpickled, or published:

- A file is trusted only if, seen through one open descriptor, it is a regular file (not a
  symlink), owned by the current user, not writable by group or others, and its first line,
  `# derive-cache sha256=<hex>`, is the SHA-256 of the rest. Anything else is a miss, never an
  error: its content is computed again and replaces it.
- Folders are created private (0o700), files are written 0o600, synced, then renamed into place.
- After each write a folder keeps at most its number of entries (`MAX_ENTRIES` unless it says),
  the least recently used going first, and no temporary file older than `STALE_TEMPORARY`
  seconds.
- A cache that cannot be written costs only a recomputation.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
import sys
import tempfile
import time
from functools import cache
from pathlib import Path

CACHE_VARIABLE = "DERIVE_CACHE_DIR"
"""The environment variable that overrides where derive caches what it computed."""

MAX_ENTRIES = 256
"""The most entries kept in one cache folder; the least recently used are deleted."""

STALE_TEMPORARY = 3600
"""Seconds after which a temporary file, left by a writer that died, is deleted."""

HEADER = b"# derive-cache sha256="
"""How an entry's first line starts; the SHA-256 of the rest of the file follows."""

_TEMPORARY = re.compile(r"\.[0-9a-f]{32}-.*\.tmp")


def cache_dir() -> Path:
    """`$DERIVE_CACHE_DIR`, else `$XDG_CACHE_HOME/derive`, else `~/.cache/derive`."""
    if os.environ.get(CACHE_VARIABLE):
        return Path(os.environ[CACHE_VARIABLE])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "derive"


def fingerprint(*parts: str | bytes) -> str:
    """A cache key: the hash of `parts` and of derive's and SymPy's installed versions."""
    digest = hashlib.sha256()
    for package in ("derive", "sympy"):
        digest.update(f"{package} {version(package)}\n".encode())
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little") + data)
    return digest.hexdigest()[:32]


@cache
def sources_digest(paths: tuple[Path, ...]) -> str:
    """A hash of the text of derive's own modules at `paths`, read once per process: the code that
    computed an entry is part of its key (an editable install changes it without a new version)."""
    return fingerprint(*(path.read_bytes() for path in paths))


@cache
def version(package: str) -> str:
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
            stem, _, found = name.removesuffix(".dist-info").rpartition("-")
            if name.endswith(".dist-info") and stem.lower() == package:
                return found
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


class Store:
    """One cache folder under `cache_dir()`: entries named by key, with a suffix of their kind."""

    def __init__(self, folder: str, suffix: str, max_entries: int | None = None) -> None:
        self.folder = folder
        self.suffix = suffix
        self.max_entries = max_entries
        """Entries kept in the folder (None: `MAX_ENTRIES`)."""
        self._entry = re.compile(rf"[0-9a-f]{{32}}{re.escape(suffix)}")

    @property
    def directory(self) -> Path:
        """Where the entries are: read from the environment on every use, as tests change it."""
        return cache_dir() / self.folder if self.folder else cache_dir()

    def path(self, key: str) -> Path:
        return self.directory / f"{key}{self.suffix}"

    def read(self, key: str) -> bytes | None:
        """The entry's content below its hash line if the entry is trusted, else None."""
        path = self.path(key)
        try:
            data = _read_trusted(path)
        except (OSError, _Untrusted):
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # used now: pruning deletes the least recently used entries first
        return data.partition(b"\n")[2]

    def write(self, key: str, body: bytes) -> None:
        """Store `body` under `key`, then prune; an OSError means it was not stored."""
        path = self.path(key)
        _write_atomically(path, stamped(body))
        _prune(path.parent, self._entry, self.max_entries or MAX_ENTRIES)


class _Untrusted(Exception):
    """A cache entry that must not be used."""


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
    if data != stamped(data.partition(b"\n")[2]):
        raise _Untrusted(f"{path} does not match the hash on its first line")
    return data


def stamped(body: bytes) -> bytes:
    """`body` under the line recording its hash: an entry as derive writes it."""
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


def _prune(directory: Path, entry: re.Pattern[str], keep: int) -> None:
    """Delete all but the `keep` most recently used entries, and stale temporaries.

    Only names derive writes are touched, so other files in the directory are safe. Never raises:
    a cache left too big is no reason to fail.
    """
    entries: list[tuple[float, str]] = []
    stale = time.time() - STALE_TEMPORARY
    with contextlib.suppress(OSError), os.scandir(directory) as listing:
        for found in listing:
            with contextlib.suppress(OSError):
                modified = found.stat(follow_symlinks=False).st_mtime
                if entry.fullmatch(found.name):
                    entries.append((modified, found.path))
                elif _TEMPORARY.fullmatch(found.name) and modified < stale:
                    os.unlink(found.path)
    for _, unused in sorted(entries, reverse=True)[keep:]:
        with contextlib.suppress(OSError):
            os.unlink(unused)
