"""Debian's chromium, headless, driven by Playwright: skipped where missing, a failure in CI."""

import functools
import http.server
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# Debian's chromium as its headless shell (package chromium-headless-shell: the same engine, the
# headless mode Playwright itself runs), in which the suite's pages cost about a tenth less CPU;
# else the full browser (package chromium, DESIGN §5).
BROWSERS = (Path("/usr/bin/chromium-headless-shell"), Path("/usr/bin/chromium"))
CHROMIUM = next((path for path in BROWSERS if path.exists()), BROWSERS[0])
# Flags that work for Debian's chromium on these machines (DESIGN §5).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def playwright_or_skip():
    """Playwright's sync API with Debian's chromium; skipped when missing, failed on CI."""
    missing = [] if CHROMIUM.exists() else [" or ".join(map(str, BROWSERS))]
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing.append("the playwright package")
    if missing:
        message = f"the browser test needs {' and '.join(missing)}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return sync_playwright


@contextmanager
def launched() -> Iterator:
    """Debian's chromium, headless (the `browser` fixture: one per test process)."""
    sync_playwright = playwright_or_skip()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def opened(browser, **options) -> Iterator:
    """A page of `browser` in a context of its own (`Browser.new_page` options), closed after."""
    page = browser.new_page(**options)
    try:
        yield page
    finally:
        page.close()


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve folder over HTTP on 127.0.0.1 at a free port, quietly; yields the base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# True once MathJax has typeset every formula of the page and derive.js added its copy buttons.
TYPESET = """() => [...document.querySelectorAll('.arithmatex')]
  .every((el) => el.querySelector('mjx-container'))
  && (!document.querySelector('div.arithmatex') || !!document.querySelector('.derive-copy'))"""


def open_typeset(page, url: str, timeout: float = 30_000) -> None:
    """Load url in a Playwright page and wait until its math is typeset (derive.js typesets it
    under any theme)."""
    page.goto(url, wait_until="load")
    page.wait_for_function(TYPESET, timeout=timeout)
    # An interactive page's own updates, and the fonts the typeset math uses, settle too.
    page.evaluate("() => Promise.all([window.derive?.page?.settled, document.fonts.ready])")
