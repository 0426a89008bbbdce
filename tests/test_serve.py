"""`mkdocs serve` shows the generated pages and regenerates them when an example changes."""

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from browser import opened

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch_until(url: str, wanted: str, seconds: float = 60) -> str:
    """The page at url once it contains `wanted` (the server builds, then rebuilds)."""
    deadline, text = time.monotonic() + seconds, ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                text = response.read().decode()
            if wanted in text:
                return text
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} never showed {wanted!r}")


def shown_in_browser(browser, url: str) -> str:
    """The text a reader sees at url, in headless chromium."""
    with opened(browser) as page:
        page.goto(url, wait_until="load")
        return page.inner_text("article")


def test_serve_regenerates_a_page_when_its_example_changes_and_shows_its_errors(browser, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(ROOT / "docs", project / "docs")
    shutil.copy(ROOT / "mkdocs.yml", project / "mkdocs.yml")
    (project / "examples").mkdir()
    example = project / "examples" / "seed.toml"
    shutil.copy(ROOT / "examples" / "seed.toml", example)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mkdocs", "serve", "-f", str(project / "mkdocs.yml"),
         "-a", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=project,
    )
    try:
        url = f"http://127.0.0.1:{port}/examples/seed/"
        fetch_until(url, "Seed: a 2-3-1 ReLU network")
        example.write_text(example.read_text().replace("Seed: a 2-3-1", "Renamed: a 2-3-1"))
        fetch_until(url, "Renamed: a 2-3-1 ReLU network")
        assert not (project / "docs" / "examples").exists()  # nothing written into docs/
        # A broken example shows its one-line error on its page; fixed, the page comes back.
        good = example.read_text()
        example.write_text(good.replace("steps = 2", "steps = 0"))
        broken = fetch_until(url, "This example cannot be built")
        message = "training.steps: must be between 1 and 10000, not 0"
        assert message in broken
        assert message in shown_in_browser(browser, url)
        example.write_text(good)
        fetch_until(url, "Renamed: a 2-3-1 ReLU network")
    finally:
        server.terminate()
        server.wait(timeout=20)
