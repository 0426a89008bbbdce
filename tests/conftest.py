"""Shared fixtures."""

from __future__ import annotations

import atexit
import fcntl
import gc
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Generated code is cached on disk; the tests use their own cache, never the user's, and each
# pytest-xdist worker its own folder of it: tests that count what a build computes, or damage an
# entry, assume no other process writes there. Set before any test module imports derive.
if "DERIVE_CACHE_DIR" not in os.environ:  # the process that makes it removes it at its exit
    os.environ["DERIVE_CACHE_DIR"] = tempfile.mkdtemp(prefix="derive-test-cache-")
    atexit.register(shutil.rmtree, os.environ["DERIVE_CACHE_DIR"], ignore_errors=True)
if "PYTEST_XDIST_WORKER" in os.environ:
    os.environ["DERIVE_CACHE_DIR"] = os.path.join(os.environ["DERIVE_CACHE_DIR"],
                                                  os.environ["PYTEST_XDIST_WORKER"])
    # A worker per core: BLAS and OpenMP threads of their own (the processes a worker starts
    # too) would only wait on each other's cores, spinning. Tests of derive's own thread limits
    # raise them where they need to.
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = "1"

from browser import launched
from files import cache_of, numbers_only
from hypothesis import settings

from derive.site import examples
from derive.site.build import build_site

ROOT = Path(__file__).resolve().parents[1]

# CI draws hypothesis' examples from a fixed seed, so a run on a clean checkout repeats the last
# one; a developer's run draws fresh examples each time (and keeps any that fail).
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Spare the garbage collector what the collection imported (SymPy, torch, hypothesis), which
    lives as long as the process, and let young objects, which SymPy makes by the hundred
    thousand, pile up to 10,000 between collections instead of 700: the collector's time in a
    whole run falls from about 15 CPU-s to 6."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, *gc.get_threshold()[1:])


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Keep a module's tests that share a module-scoped fixture (a browser, a built site, a wheel)
    on one pytest-xdist worker (with `--dist loadgroup`), which then computes it once."""
    for item in items:
        fixtures = getattr(item, "_fixtureinfo", None)
        if fixtures and any(definitions[-1].scope == "module"
                            for definitions in fixtures.name2fixturedefs.values()):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site of every examples/*.toml, built once per test session, which pytest-xdist's
    workers share: the first to need it builds it while the others wait (do not modify it).
    Its code cache is `files.cache_of(built_site)`."""
    worker = "PYTEST_XDIST_WORKER" in os.environ
    shared = (tmp_path_factory.getbasetemp().parent if worker  # the workers' common folder
              else tmp_path_factory.getbasetemp()) / "built"
    shared.mkdir(exist_ok=True)
    site = shared / "site"
    with open(shared / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (shared / "done").exists():
            with cache_of(site):
                build_site(site_dir=site, config_file=ROOT / "mkdocs.yml")
            (shared / "done").touch()
    return site


@pytest.fixture(scope="session", autouse=True)
def builds_without_a_pool() -> Iterator[None]:
    """Under pytest-xdist, a build computes its examples in its own worker: a worker per core
    keeps every core busy already, and a pool would only add processes that each import SymPy
    first. The pool's own tests give a build the cores it needs."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(examples, "_cores", lambda: 1)
        yield


@pytest.fixture(scope="session")
def browser() -> Iterator:
    """One headless chromium per test process (a pytest-xdist worker), shared by every test that
    opens pages: each opens its own in a context of its own (`browser.opened`)."""
    with launched() as chromium:
        yield chromium


@pytest.fixture(name="numbers_only")
def numbers_only_fixture() -> Iterator[None]:
    """`files.numbers_only` for the whole test."""
    with numbers_only():
        yield


@pytest.fixture
def generations(monkeypatch: pytest.MonkeyPatch) -> list:
    """Each call of SymPy's code generation (a cache miss), recorded by its network."""
    from derive.compile import printer

    calls: list = []
    original = printer.gradient_module

    def recording(network, names=("gradients",)) -> str:
        calls.append(network)
        return original(network, names)

    monkeypatch.setattr(printer, "gradient_module", recording)
    return calls


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh code cache directory, not yet created; the user's cache is never touched."""
    from derive import api, store

    directory = tmp_path / "cache"
    monkeypatch.setenv(store.CACHE_VARIABLE, str(directory))
    monkeypatch.setattr(api, "_modules", {})
    return directory
