"""The atomic site build: MkDocs into a fresh folder beside the site, then swapped in whole."""

from __future__ import annotations

import glob
import logging
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mkdocs.commands.build import build as mkdocs_build
from mkdocs.config import load_config
from mkdocs.exceptions import MkDocsException

from ..errors import DeriveError

log = logging.getLogger(__name__)


def build_site(
    example_paths: list[Path] | None = None,
    site_dir: Path = Path("site"),
    config_file: Path = Path("mkdocs.yml"),
) -> Path:
    """Build the site of the given examples (default: the plugin's `examples`) into site_dir.

    On any failure the previous site_dir is left exactly as it was, and docs/ is never written.
    """
    root = config_file.resolve().parent
    site_dir = site_dir.resolve()
    if root.is_relative_to(site_dir):
        raise DeriveError(f"{site_dir}: the site directory must not contain the project {root}")
    # Build with MkDocs into a fresh directory beside site_dir, on the same file system.
    site_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{site_dir.name}-build-", dir=site_dir.parent))
    try:
        log.info("building the site with MkDocs")
        _run_mkdocs(config_file, work / "site", example_paths)
        # Swap the new site in: the old one aside, the new one in its place.
        _swap(work / "site", site_dir, aside=work / "previous")
    finally:
        # Remove the build directory and what it still holds: the previous or the failed site.
        shutil.rmtree(work, ignore_errors=True)
    log.info("site built in %s", site_dir)
    return site_dir


def _run_mkdocs(config_file: Path, site_dir: Path, example_paths: list[Path] | None) -> None:
    """Run MkDocs' build in strict mode; given example files replace the plugin's globs."""
    with _mkdocs_messages() as messages:
        try:
            config = load_config(config_file=str(config_file), site_dir=str(site_dir), strict=True)
            plugin = config.plugins.get("derive")
            if plugin is None:
                raise DeriveError(f"{config_file}: plugins: the derive plugin is not listed")
            if example_paths is not None:
                plugin.config.examples = [glob.escape(str(path.resolve()))
                                          for path in example_paths]
            mkdocs_build(config)
        except (MkDocsException, OSError) as err:
            # MkDocs reports a plugin's error and aborts; the plugin's message is the reason.
            if isinstance(err.__context__, DeriveError):
                raise DeriveError(str(err.__context__)) from err
            reason = messages[0] if messages else str(err)
            raise DeriveError(f"mkdocs build failed: {reason}") from err


class _Collector(logging.Handler):
    """Keeps each log message as one line."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.messages = messages

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(" ".join(record.getMessage().split()))


@contextmanager
def _mkdocs_messages() -> Iterator[list[str]]:
    """Collect MkDocs' warnings and errors (the reasons behind a failed strict build)."""
    messages: list[str] = []
    handler = _Collector(messages)
    logger = logging.getLogger("mkdocs")
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)


def _swap(new: Path, target: Path, *, aside: Path) -> None:
    """Put `new` at `target`, moving an existing `target` to `aside` (restored if the move fails)."""
    try:
        if target.exists():
            target.rename(aside)
        try:
            new.rename(target)
        except OSError:
            if aside.exists():
                aside.rename(target)
            raise
    except OSError as err:
        raise DeriveError(f"{target}: cannot replace the site: {err.strerror}") from err
