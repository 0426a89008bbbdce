"""derive's on-disk caches: private folders of files that only derive's own writes can fill.

Only the standard library (and derive's errors) is imported here, so reading a cache never imports
SymPy. Every cache (generated code, derivations, example pages) keeps to the same rules, because
what it holds is executed or unpickled, or published:

- The cache folder is `$DERIVE_CACHE_DIR` (a relative one taken from the working directory where
  it is first read), else `$XDG_CACHE_HOME/derive` (an absolute one), else `~/.cache/derive`.
  Without a home directory there is no cache.
- Folders are created private (0o700), missing parents of the cache folder too. Every access opens
  the cache folder, then its store's subfolder, and works through those descriptors once they are
  checked: owned by the current user and not writable by group or others. A symlinked cache folder
  is followed: the folder it leads to is the one checked and used, so swapping the link afterwards
  cannot redirect that access. Inside it nothing is followed: a symlink in place of a subfolder or
  entry is never read through. An unsafe folder means no cache (every read a miss, no writes) and
  one warning per process.
- An entry is trusted only if, seen through one open descriptor, it is a regular file (not a
  symlink), owned by the current user, not writable by group or others, and its first line,
  `# derive-cache key=<key> sha256=<hex>`, names the key it is read for and the SHA-256 of the
  rest. Anything else is a miss, never an error: its content is computed again and replaces it,
  whatever stood there (a planted folder is deleted: it lies in our own private folder).
- Files are written 0o600, synced, then renamed into place.
- After each write a folder keeps at most its number of entries (`MAX_ENTRIES` unless it says),
  the least recently used going first, and no temporary file older than `STALE_TEMPORARY`
  seconds.
- A cache that cannot be written costs only a recomputation.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import itertools
import logging
import os
import re
import shutil
import stat
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path

from .errors import DeriveError

CACHE_VARIABLE = "DERIVE_CACHE_DIR"
"""The environment variable that overrides where derive caches what it computed."""

MAX_ENTRIES = 256
"""The most entries kept in one cache folder; the least recently used are deleted."""

STALE_TEMPORARY = 3600
"""Seconds after which a temporary file, left by a writer that died, is deleted."""

HEADER = b"# derive-cache key="
"""How an entry's first line starts; its key and ` sha256=` with the hash of the rest follow."""

_TEMPORARY = re.compile(r"\.[0-9a-f]{32}-.*\.tmp")

_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC

log = logging.getLogger(__name__)

_warned = False
"""Whether this process has warned about its cache already."""


def cache_dir() -> Path | None:
    """`$DERIVE_CACHE_DIR`, else `$XDG_CACHE_HOME/derive`, else `~/.cache/derive`; None without a
    home directory, where derive runs without a cache rather than share a world-writable one."""
    configured = os.environ.get(CACHE_VARIABLE)
    if configured:
        return _absolute(configured)
    base = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(base):  # the XDG specification ignores a relative one
        return Path(base) / "derive"
    home = os.path.expanduser("~")  # unchanged when there is none, where Path.home() raises
    return Path(home) / ".cache" / "derive" if os.path.isabs(home) else None


@cache
def _absolute(configured: str) -> Path:
    """`configured` made absolute against the working directory where it is first read, so that
    a later change of directory does not move the cache."""
    return Path(configured).absolute()


def require_outside(folders: Iterable[str | Path]) -> None:
    """Raise DeriveError if the cache folder lies in one of `folders` (a site's sources or output),
    which would publish its entries."""
    directory = cache_dir()
    if directory is None:
        return
    real = Path(os.path.realpath(directory))
    for folder in folders:
        outer = Path(os.path.realpath(folder))
        if real == outer or outer in real.parents:
            raise DeriveError(
                f"the cache folder {directory} lies inside {folder}, which would "
                f"publish it: set {CACHE_VARIABLE} to a folder outside it"
            )


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
    def directory(self) -> Path | None:
        """Where the entries are (None: no cache): read from the environment on every use, as
        tests change it."""
        root = cache_dir()
        return root / self.folder if root else None

    def path(self, key: str) -> Path | None:
        """Where the entry for `key` is (None: no cache), for messages and tracebacks."""
        directory = self.directory
        return directory / f"{key}{self.suffix}" if directory else None

    def read(self, key: str) -> bytes | None:
        """The content of the entry for `key` below its header if the entry is trusted, else None."""
        try:
            with self._opened(create=False) as folder:
                return None if folder is None else _read_trusted(folder, key + self.suffix, key)
        except (OSError, _Untrusted):
            return None

    def write(self, key: str, body: bytes) -> None:
        """Store `body` under `key`, then prune; an OSError means it was not stored."""
        with self._opened(create=True) as folder:
            if folder is not None:
                entry = stamped(body, key)
                _write_atomically(folder, self.directory, key, entry, key + self.suffix)
                _prune(folder, self._entry, self.max_entries or MAX_ENTRIES)

    @contextlib.contextmanager
    def _opened(self, create: bool) -> Iterator[int | None]:
        """A descriptor of this store's folder, checked, or None (after one warning per process)
        if there is no safe one; `create` makes missing folders. OSError: it cannot be opened."""
        with contextlib.ExitStack() as stack:
            try:
                folder = self._open(stack, create)
            except _Untrusted as unsafe:
                _warn_once(
                    f"derive runs without its cache: {unsafe} (set {CACHE_VARIABLE} to a "
                    "private folder of yours)"
                )
                folder = None
            yield folder

    def _open(self, stack: contextlib.ExitStack, create: bool) -> int:
        """Open the cache folder (following a symlink), then this store's subfolder in it (never
        following one), each checked, closed when `stack` closes."""
        root = cache_dir()
        if root is None:
            raise _Untrusted("there is no home directory")
        if create:
            _make_private(root)
        folder = _open_folder(root)
        stack.callback(os.close, folder)
        if not self.folder:
            return folder
        if create:
            with contextlib.suppress(FileExistsError):
                os.mkdir(self.folder, 0o700, dir_fd=folder)
        folder = _open_folder(root / self.folder, parent=folder)
        stack.callback(os.close, folder)
        return folder


class _Untrusted(Exception):
    """A cache entry or folder that must not be used."""


def _warn_once(message: str) -> None:
    """Log `message` unless this process warned about its cache already: one line, not one per
    entry."""
    global _warned
    if not _warned:
        _warned = True
        log.warning(message)


def _make_private(directory: Path) -> None:
    """Create `directory` and its missing parents 0o700 (Path.mkdir gives parents the umask's)."""
    missing = itertools.takewhile(
        lambda folder: not os.path.lexists(folder), (directory, *directory.parents)
    )
    for folder in reversed(list(missing)):
        with contextlib.suppress(FileExistsError):
            os.mkdir(folder, 0o700)


def _open_folder(path: Path, parent: int | None = None) -> int:
    """A descriptor of the folder `path` (opened by name in `parent`, never through a symlink
    there), if the current user owns it and no one else may write in it."""
    try:
        handle = os.open(
            path if parent is None else path.name,
            _FOLDER if parent is None else _FOLDER | os.O_NOFOLLOW,
            dir_fd=parent,
        )
    except OSError as error:
        if parent is not None and error.errno in (errno.ENOTDIR, errno.ELOOP):  # a file or link
            raise _Untrusted(f"{path} is not a folder") from error
        raise
    problem = _problem(os.fstat(handle))
    if problem:
        os.close(handle)
        raise _Untrusted(f"{path} {problem}")
    return handle


def _problem(status: os.stat_result) -> str | None:
    """Why a file or folder with `status` may hold what someone else put there, or None."""
    if status.st_uid != os.getuid():
        return f"is owned by user {status.st_uid}, not {os.getuid()}"
    if status.st_mode & 0o022:
        return "is writable by group or others"
    return None


def _read_trusted(folder: int, name: str, key: str) -> bytes:
    """The body of the entry `name` in `folder`, checked through one descriptor so it cannot be
    swapped meanwhile, and marked as used.

    O_NONBLOCK keeps a planted FIFO from blocking the open; fstat then rejects it.
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    with os.fdopen(os.open(name, flags, dir_fd=folder), "rb") as file:
        status = os.fstat(file.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise _Untrusted(f"{name} is not a regular file")
        problem = _problem(status)
        if problem:
            raise _Untrusted(f"{name} {problem}")
        data = file.read()
        body = data.partition(b"\n")[2]
        if data != stamped(body, key):
            raise _Untrusted(f"{name} does not match the key and hash on its first line")
        with contextlib.suppress(OSError):
            os.utime(file.fileno())  # used now: pruning deletes the least recently used first
    return body


def stamped(body: bytes, key: str = "") -> bytes:
    """`body` under the line recording `key` and its hash: the entry derive writes for `key` (no
    key, as some tests plant, matches none)."""
    return HEADER + f"{key} sha256={hashlib.sha256(body).hexdigest()}\n".encode() + body


def _write_atomically(folder: int, directory: Path, key: str, data: bytes, name: str) -> None:
    """Write a temporary file in `directory`, sync it, then rename it to `name` in `folder` (the
    descriptor of `directory`): neither a reader nor a crash sees a partial file.

    The rename goes through the checked descriptor, so if `directory` was swapped after the check
    the temporary is not found there and nothing is stored. Two processes that miss at once both
    write the same bytes; the last rename wins.
    """
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{key}-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        _replace(folder, os.path.basename(temporary), name)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    with contextlib.suppress(OSError):  # makes the rename durable; not every system can
        os.fsync(folder)


def _replace(folder: int, temporary: str, name: str) -> None:
    """Rename `temporary` to `name` in `folder`. A rename replaces a FIFO, socket or symlink there
    without following it; a folder there is deleted first (our folder is private)."""
    try:
        os.replace(temporary, name, src_dir_fd=folder, dst_dir_fd=folder)
    except IsADirectoryError:
        shutil.rmtree(name, dir_fd=folder)
        os.replace(temporary, name, src_dir_fd=folder, dst_dir_fd=folder)


def _prune(folder: int, entry: re.Pattern[str], keep: int) -> None:
    """Delete all but the `keep` most recently used entries, and stale temporaries.

    Only names derive writes are touched, so other files in the folder are safe. Never raises:
    a cache left too big is no reason to fail.
    """
    entries: list[tuple[float, str]] = []
    stale = time.time() - STALE_TEMPORARY
    with contextlib.suppress(OSError), os.scandir(folder) as listing:
        for found in listing:
            with contextlib.suppress(OSError):
                modified = found.stat(follow_symlinks=False).st_mtime
                if entry.fullmatch(found.name):
                    entries.append((modified, found.name))
                elif _TEMPORARY.fullmatch(found.name) and modified < stale:
                    os.unlink(found.name, dir_fd=folder)
    for _, unused in sorted(entries, reverse=True)[keep:]:
        with contextlib.suppress(OSError):
            os.unlink(unused, dir_fd=folder)
