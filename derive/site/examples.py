"""Every example's generated files: from the results cache, else computed, in parallel when many.

An example's files (page, LaTeX document, answer key, figures) are a pure function of the
example file, the display options, the templates and the code that makes them, so they are
cached on disk under a hash of exactly those (`derive.store`'s rules apply): an unchanged example
is neither derived, trained nor rendered again, in `derive build` as under `mkdocs serve`, and a
build whose examples are all cached never imports SymPy. The others are computed in this
process, or, from `POOL_AT` of them on a machine with several cores, in a pool of fresh
processes; the files are the same either way, and are assembled in example order.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import multiprocessing
import os
import posixpath
import signal
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, NamedTuple

from mkdocs.plugins import get_plugin_logger

from .. import store
from ..errors import DeriveError, show_path
from ..present.options import DEFAULTS, RenderOptions
from ..present.render import TEMPLATES, render

if TYPE_CHECKING:
    from ..worked import WorkedExample

log = get_plugin_logger(__name__)

RESULTS = store.Store("pages", ".json.zlib", max_entries=1024)
"""Each example's generated files as compressed JSON (a fifth of their size), by the hash of
everything they depend on; enough entries for several large courses."""

_PR_SET_PDEATHSIG = 1
"""Linux's prctl option: the signal this process gets when the thread that started it ends."""
_PARENT_POLL = 0.5
"""Seconds between a worker's checks that its parent is alive, where the kernel cannot tell it."""

POOL_AT = 4
"""Examples to compute from which a machine with several cores computes them in a pool: fewer
finish sooner here than a fresh process takes to import SymPy."""

_PACKAGE = Path(__file__).resolve().parents[1]


Known = dict[Path, tuple[bytes, "WorkedExample"]]
"""Worked examples computed in this process, by resolved path, with the bytes they came from."""


class GeneratedFile(NamedTuple):
    """One generated file's text and the example it came from."""

    source: Path
    content: str


class Outcome(NamedTuple):
    """What computing one example gave: its files, or the message of the error that stopped it."""

    files: dict[str, str] | None
    error: str | None
    seconds: float


def generate_example_files(
    paths: list[Path], options: RenderOptions = DEFAULTS, templates: tuple[Path, ...] = (),
    *, failures: list[str] | None = None, worked: Known | None = None,
) -> dict[str, GeneratedFile]:
    """Every example's generated files by docs-relative path; two examples may not share one.

    With `failures` (while `mkdocs serve` runs) an example that cannot be built gets a page
    showing its error, and the message is added to the list, instead of stopping the build.
    `worked` receives each example computed in this process, for `derive` blocks to reuse.
    """
    shared = _shared_digest(options, templates)  # read once: templates are files too
    keys = {path: _key(path, shared) for path in paths}
    cached = {path: _cached_files(key) for path, key in keys.items()}
    missing = [path for path in paths if cached[path] is None]
    if len(missing) < len(paths):
        log.info("%d of %d examples unchanged since they were last built",
                 len(paths) - len(missing), len(paths))
    generated: dict[str, GeneratedFile] = {}
    taken: dict[str, tuple[Path, str]] = {}
    with contextlib.closing(_outcomes(missing, options, templates, worked)) as outcomes:
        numbered = enumerate(outcomes, start=1)
        for path in paths:
            files = cached[path]
            if files is None:
                number, outcome = next(numbered)
                _progress(number, len(missing), path, outcome.seconds)
                files = _computed_files(path, outcome, keys[path], templates, failures)
            for uri, content in files.items():
                _claim(taken, uri, path)
                generated[uri] = GeneratedFile(path, content)
    return generated


def _claim(taken: dict[str, tuple[Path, str]], uri: str, source: Path) -> None:
    """Record the site paths `uri` takes (its file and the folders above it) in `taken`,
    refusing one that another example's file takes: the same file, or a file where a folder
    must be (`x.json` beside the page of `x.json.toml`, published as `x.json/index.html`)."""
    place = _site_path(uri)
    parents = [str(folder) for folder in PurePosixPath(place).parents if folder.name]
    for clash in (place, f"{place}/", *parents):  # a folder's key ends with "/"
        other, other_uri = taken.get(clash, (source, uri))
        if other != source:
            raise DeriveError(
                f"{show_path(source)}: its {uri} and the {other_uri} of {show_path(other)} "
                f"would both be published at {clash.rstrip('/')} in the site; rename one of "
                "the two files")
    taken[place] = (source, uri)
    for parent in parents:
        taken.setdefault(f"{parent}/", (source, uri))


def _site_path(uri: str) -> str:
    """Where MkDocs publishes a docs-relative file with directory URLs (its default): a page
    `a/b.md` at `a/b/index.html`, any other file at its own path."""
    stem, suffix = posixpath.splitext(uri)
    if suffix != ".md":
        return uri
    if posixpath.basename(stem) in ("index", "README"):
        return f"{posixpath.dirname(stem)}/index.html".lstrip("/")
    return f"{stem}/index.html"


def _computed_files(path: Path, outcome: Outcome, key: str, templates: tuple[Path, ...],
                    failures: list[str] | None) -> dict[str, str]:
    """A computed example's files, now cached; or, while serving, a page showing its error."""
    if outcome.files is not None:
        _store(key, outcome.files)
        return outcome.files
    if failures is None:
        raise DeriveError(outcome.error)
    failures.append(outcome.error)
    return {f"examples/{path.stem}.md": render("error.md.j2", templates, name=path.stem,
                                               message=outcome.error)}


def example_outcome(path: Path, options: RenderOptions, templates: tuple[Path, ...],
                    worked: Known | None = None) -> Outcome:
    """Load, derive, train, verify and render one example (in this process or a pool's);
    `worked`, in this process, receives the example's bytes and WorkedExample."""
    # Imported here: SymPy is needed only when an example is computed.
    from ..present.pages import example_files

    start = time.perf_counter()
    try:
        data = _read(path)
        example = checked_worked_example(path)
        files = example_files(example, options, templates)
    except DeriveError as err:
        return Outcome(None, str(err), time.perf_counter() - start)
    if worked is not None:
        worked[path.resolve()] = (data, example)
    return Outcome(files, None, time.perf_counter() - start)


def checked_worked_example(path: Path) -> WorkedExample:
    """An example's WorkedExample, refused (DeriveError) when a gradient check failed."""
    from ..worked import worked_example

    worked = worked_example(path)
    worked.require_checked()
    return worked


def results_key(path: Path, options: RenderOptions, templates: tuple[Path, ...]) -> str:
    """The hash of everything an example's files depend on: the example file's name and bytes,
    and what every example's files depend on (`_shared_digest`)."""
    return _key(path, _shared_digest(options, templates))


def cached_text(name: str, paths: list[Path], options: RenderOptions,
                templates: tuple[Path, ...], compute: Callable[[], str]) -> str:
    """Text made from the examples at `paths` (a hand-written page's generated part, such as the
    mistake catalogue): from the results cache, else `compute()`d and cached, under the same
    rules and key parts as an example's files, so an unchanged build never computes it."""
    parts = [part for path in paths for part in (path.name, _read(path))]
    key = store.fingerprint(name, *parts, _shared_digest(options, templates))
    cached = _cached_files(key)
    if cached is not None and name in cached:
        return cached[name]
    text = compute()
    _store(key, {name: text})
    return text


def _key(path: Path, shared: str) -> str:
    return store.fingerprint(path.name, _read(path), shared)


def _shared_digest(options: RenderOptions, templates: tuple[Path, ...]) -> str:
    """A hash of the display options, the templates (derive's and the overrides), derive's own
    code and the versions of the libraries that compute and render the files."""
    versions = [f"{package} {store.version(package)}" for package in ("numpy", "jinja2")]
    return store.fingerprint(json.dumps(asdict(options), sort_keys=True), *versions,
                             store.sources_digest(tuple(sorted(_PACKAGE.rglob("*.py")))),
                             *_folder_parts(templates),
                             *_folder_parts([TEMPLATES]))


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise DeriveError(f"{show_path(path)}: cannot be read ({err.strerror})") from None


def _folder_parts(folders: Iterable[Path]) -> list[str | bytes]:
    """Every file under `folders` as its relative path and its bytes, in a stable order."""
    parts: list[str | bytes] = []
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                parts += [path.relative_to(folder).as_posix(), path.read_bytes()]
    return parts


def _cached_files(key: str) -> dict[str, str] | None:
    """The files stored under `key`, or None; an entry that does not parse is a miss."""
    body = RESULTS.read(key)
    if body is None:
        return None
    try:
        files = json.loads(zlib.decompress(body))
    except (zlib.error, ValueError):
        return None
    valid = isinstance(files, dict) and all(isinstance(text, str) for text in files.values())
    return files if valid else None


def _store(key: str, files: dict[str, str]) -> None:
    """Cache an example's files; a cache that cannot be written costs only the next build."""
    try:
        RESULTS.write(key, zlib.compress(json.dumps(files, ensure_ascii=False).encode(), 1))
    except OSError as err:
        log.debug("results not cached: %s", err)


def _outcomes(paths: list[Path], options: RenderOptions, templates: tuple[Path, ...],
              worked: Known | None) -> Iterator[Outcome]:
    """Each example's outcome, in order, as it is ready: from a pool of processes when there
    are many and several cores, else from this process (keeping each WorkedExample in
    `worked`)."""
    workers = min(_cores(), len(paths))
    pool = None
    if workers > 1 and len(paths) >= POOL_AT:
        # Fresh interpreters ("spawn"), not forks: `mkdocs serve` rebuilds while its server's
        # threads run, and a fork copies their locks.
        # A system that cannot run a pool computes the examples in this process.
        with contextlib.suppress(OSError, ImportError, NotImplementedError):
            pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                       initializer=_end_with_parent, initargs=(os.getpid(),))
    if pool is None:
        for path in paths:
            yield example_outcome(path, options, templates, worked)
        return
    try:
        futures = [pool.submit(example_outcome, path, options, templates) for path in paths]
        for future in futures:
            yield future.result()
    except BrokenProcessPool as err:
        raise DeriveError(f"a process computing the examples stopped unexpectedly ({err}); "
                          "build again") from None
    finally:
        pool.shutdown(cancel_futures=True)


def _end_with_parent(parent: int) -> None:
    """A pool worker's start: end this process when `parent` (the build) ends, even by kill -9,
    so a killed build leaves no worker computing for nobody."""
    prctl = getattr(ctypes.CDLL(None), "prctl", None)
    if prctl is not None:
        # Linux: the kernel kills this process when the thread that started it ends; that
        # thread owns the pool until it is shut down.
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    else:
        threading.Thread(target=_watch_parent, args=(parent,), name="derive: parent",
                         daemon=True).start()
    if os.getppid() != parent:  # the build ended before the line above took effect
        os._exit(1)


def _watch_parent(parent: int) -> None:
    """End this process once `parent` is no longer its parent."""
    while os.getppid() == parent:
        time.sleep(_PARENT_POLL)
    os._exit(1)


def _cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _progress(number: int, count: int, path: Path, seconds: float) -> None:
    """One line per computed example; on a terminal, one line that counts up instead."""
    if sys.stderr.isatty() and count > 1:
        end = "\n" if number == count else ""
        print(f"\rderive: example {number} of {count}: {path.name} ({seconds:.2f} s)\033[K",
              end=end, file=sys.stderr, flush=True)
    else:
        log.info("%s: %.2f s", path, seconds)
