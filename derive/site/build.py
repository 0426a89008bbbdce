"""The site build: MkDocs into a fresh folder beside the site, then swapped in whole."""

from __future__ import annotations

import glob
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mkdocs.commands.build import build as mkdocs_build
from mkdocs.config import load_config
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import MkDocsException

from .. import store
from ..errors import DeriveError, show_path
from ..output import located, replacing, require_apart, require_replaceable
from ..spec import load_example

log = logging.getLogger(__name__)


def build_site(
    example_paths: list[Path] | None = None,
    site_dir: Path = Path("site"),
    config_file: Path = Path("mkdocs.yml"),
) -> Path:
    """Build the site of the given examples (default: the plugin's `examples`) into site_dir.

    site_dir is replaced only if derive built it (or it is empty or absent, or `mkdocs build`
    made it as mkdocs.yml's own site_dir), and only if it holds none of the site's sources
    (mkdocs.yml, the docs folder, the example files) nor lies in the docs folder; on any failure
    it is left exactly as it was, and docs/ is never written.
    """
    site_dir = located(site_dir)
    with _mkdocs_messages():
        config = _load(config_file)
    mkdocs_site = Path(config.site_dir)
    require_replaceable(site_dir, "--site-dir", mkdocs_site)
    plugin = config.plugins["derive"]
    if example_paths is not None:
        plugin.config.examples = [glob.escape(str(path.resolve())) for path in example_paths]
    paths = plugin.example_paths()
    _require_outside_docs(site_dir, Path(config.docs_dir))
    store.require_outside([site_dir, config.docs_dir])
    require_apart(site_dir, "--site-dir", [config_file, *(example_paths or []), *paths])
    # Validate every example file before any work, so a bad one is the only message.
    for path in paths:
        load_example(path)
    with replacing(site_dir, "--site-dir", mkdocs_site) as fresh:
        log.info("building the site with MkDocs")
        config.site_dir = str(fresh)
        _run_mkdocs(config, site_dir)
    log.info("site built in %s", site_dir)
    return site_dir


def _require_outside_docs(site_dir: Path, docs_dir: Path) -> None:
    """Refuse a site folder that is, holds or lies in the docs folder: MkDocs would publish
    the previous site inside the next one, or the site would replace the sources."""
    docs = docs_dir.resolve()
    if site_dir.is_relative_to(docs) or docs.is_relative_to(site_dir):
        raise DeriveError(f"--site-dir: {show_path(site_dir)} and the docs folder "
                          f"{show_path(docs)} must lie apart, neither inside the other; "
                          "choose another folder")


def _run_mkdocs(config: MkDocsConfig, site_dir: Path) -> None:
    """Run MkDocs' build into config.site_dir, a work folder its messages call `site_dir`; a
    plugin's error is reported as its own one line."""
    with _mkdocs_messages(_Renamed(config.site_dir, str(site_dir))) as messages:
        try:
            mkdocs_build(config)
        except (MkDocsException, OSError) as err:
            # MkDocs reports a plugin's error and aborts; the plugin's message is the reason.
            if isinstance(err.__context__, DeriveError):
                raise DeriveError(str(err.__context__)) from err
            reason = messages[0] if messages else str(err)
            raise DeriveError(f"mkdocs build failed: {reason}") from err


def _load(config_file: Path) -> MkDocsConfig:
    """MkDocs' configuration, strict, with the derive plugin listed."""
    try:
        config = load_config(config_file=str(config_file), strict=True)
    except MkDocsException as err:
        raise DeriveError(f"{show_path(config_file)}: {' '.join(str(err).split())}") from err
    if config.plugins.get("derive") is None:
        raise DeriveError(f"{show_path(config_file)}: plugins: the derive plugin is not listed")
    return config


class _Quiet(logging.Filter):
    """Keeps MkDocs' errors off the terminal: derive reports the reason itself, once."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name.startswith("mkdocs") and record.levelno >= logging.ERROR)


class _Renamed(logging.Filter):
    """Names the user's folder where a message names the work folder built in its place."""

    def __init__(self, work: str, shown: str) -> None:
        super().__init__()
        self.work, self.shown = work, shown

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.work in message:
            record.msg, record.args = message.replace(self.work, self.shown), ()
        return True


class _Collector(logging.Handler):
    """Keeps each log message as one line."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.messages = messages

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(" ".join(record.getMessage().split()))


@contextmanager
def _mkdocs_messages(*filters: logging.Filter) -> Iterator[list[str]]:
    """Collect MkDocs' warnings and errors (the reasons behind a failed strict build); every
    message shown or collected first passes `filters`."""
    messages: list[str] = []
    collector, logger = _Collector(messages), logging.getLogger("mkdocs")
    attached = [(collector, each) for each in filters] + [
        (shown, each) for shown in logging.getLogger().handlers for each in (*filters, _Quiet())]
    logger.addHandler(collector)
    for handler, each in attached:
        handler.addFilter(each)
    try:
        yield messages
    finally:
        logger.removeHandler(collector)
        for handler, each in attached:
            handler.removeFilter(each)
