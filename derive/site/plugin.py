"""The MkDocs plugin: each example's pages and an offline MathJax, added to the site at build time.

Nothing is ever written into docs/: generated files live only in MkDocs' file collection, so
`mkdocs serve` can regenerate them on every change without re-triggering itself. Configured in
mkdocs.yml like any plugin:

    plugins:
      - derive:
          examples: examples/*.toml   # a glob, or a list of globs, relative to mkdocs.yml
          interactive: true           # false: static pages, without the script that lets a
                                      # reader edit the numbers
"""

from __future__ import annotations

import datetime
import glob
import html
import importlib
import os
import posixpath
import re
import reprlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mathjax
from mkdocs.config import config_options as c
from mkdocs.config.base import Config, ConfigErrors, ConfigWarnings
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import ConfigurationError, PluginError
from mkdocs.livereload import LiveReloadServer
from mkdocs.plugins import BasePlugin, get_plugin_logger
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page
from mkdocs.utils import get_relative_url
from mkdocs.utils.meta import get_data

from .. import store
from ..errors import DeriveError
from ..present.escape import escape_markdown
from ..present.options import RenderOptions
from ..present.render import TEMPLATES
from ..spec import MAX_PRECISION
from .blocks import embed
from .examples import (
    GeneratedFile,
    Known,
    cached_text,
    checked_worked_example,
    generate_example_files,
)

if TYPE_CHECKING:
    from ..worked import WorkedExample

log = get_plugin_logger(__name__)

# MathJax 3's browser build inside the `django-static-mathjax` wheel.
MATHJAX_ROOT = Path(mathjax.__file__).parent / "static" / "mathjax"
# Where the site serves it; MathJax finds its fonts and extensions relative to its script.
MATHJAX_URI = "assets/mathjax"
MATHJAX_SCRIPT = f"{MATHJAX_URI}/tex-chtml.js"
# The files MathJax loads at run time: the TeX-to-HTML bundle, the fonts its CSS asks for, and
# the TeX extensions its autoloader fetches for macros outside the bundle (e.g. \cancel).
MATHJAX_FILES = (
    "es5/tex-chtml.js",
    "es5/output/chtml/fonts/woff-v2/*.woff",
    "es5/input/tex/extensions/*.js",
)
# derive's own script (MathJax's configuration, typesetting, copy buttons) and stylesheet.
ASSETS_URI = "assets/derive"
SCRIPT = f"{ASSETS_URI}/derive.js"
# The matrix runtime and training loop that interactive pages recompute their numbers with.
RUNTIME_SCRIPT = f"{ASSETS_URI}/derive-runtime.js"
STYLESHEET = f"{ASSETS_URI}/derive.css"
# The Markdown extensions the generated pages use, with the options they need.
EXTENSIONS = {"pymdownx.arithmatex": {"generic": True}, "admonition": {}, "tables": {},
              "pymdownx.superfences": {}, "attr_list": {}, "md_in_html": {}}
# Replaced, in a hand-written page, by a list of links to every example page.
EXAMPLES_MARKER = "<!-- derive:examples -->"
# Replaced by the mistake catalogue, each mistake worked in the first of the examples named.
MISTAKES_MARKER = re.compile(r"<!-- derive:mistakes (?P<examples>[^<>]+?) -->")


class SiteError(DeriveError, PluginError):
    """A DeriveError that MkDocs, too, reports as a one-line build error."""


class GeneratedExampleFile(File):
    """A generated file that a dirty rebuild (`mkdocs serve --dirty`) redoes only if it changed.

    MkDocs counts every generated file as modified; this one is modified when its text differs
    from the previous build's in this process, or its page is not in the site yet.
    """

    changed = True

    def is_modified(self) -> bool:
        return self.changed


class Decimals(c.BaseConfigOption[int]):
    """A number of decimals within the example file's own limits (0 to `MAX_PRECISION`): more
    would print numbers thousands of characters long."""

    def run_validation(self, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not (
                0 <= value <= MAX_PRECISION):
            raise c.ValidationError(f"must be a whole number from 0 to {MAX_PRECISION}, not "
                                    f"{reprlib.repr(value)}")
        return value


class DeriveConfig(Config):
    """The plugin's options in mkdocs.yml."""

    examples = c.Type((str, list), default="examples/*.toml")
    """A glob of example files relative to mkdocs.yml, or a list of globs."""
    templates = c.Optional(c.Dir(exists=True))
    """A folder whose templates override derive's own of the same name."""
    precision = c.Optional(Decimals())
    """Decimals in the tables of every example (default: each example's own)."""
    nav_title = c.Type(str, default="Worked examples")
    """The navigation section holding the example pages ("" puts them at the top level)."""
    interactive = c.Type(bool, default=True)
    """Example pages recompute every number from the reader's edits in the browser; false
    leaves them static (no script, no data attributes)."""


def example_paths(root: Path, patterns: str | list[str]) -> list[Path]:
    """The example files matching `patterns` under `root`, in order, without dot files."""
    if not isinstance(patterns, str) and not all(isinstance(p, str) for p in patterns):
        raise SiteError("mkdocs.yml: plugins: derive: examples: must be a glob or a list of "
                        f"globs (text), not {patterns!r}")
    found: list[Path] = []
    for pattern in [patterns] if isinstance(patterns, str) else patterns:
        matches = sorted(glob.glob(pattern, root_dir=root))
        found += [root / match for match in matches if root / match not in found]
    return found


def asset_files() -> dict[str, Path]:
    """derive's scripts and stylesheet, by their path in the site."""
    return {f"{ASSETS_URI}/{path.name}": path for path in sorted((TEMPLATES / "assets").iterdir())}


def mathjax_files() -> dict[str, Path]:
    """The MathJax files the site needs, by their path in the site."""
    found = {
        f"{MATHJAX_URI}/{path.relative_to(MATHJAX_ROOT / 'es5').as_posix()}": path
        for pattern in MATHJAX_FILES
        for path in sorted(MATHJAX_ROOT.glob(pattern))
    }
    found[f"{MATHJAX_URI}/LICENSE"] = MATHJAX_ROOT / "LICENSE"
    return found


class DerivePlugin(BasePlugin[DeriveConfig]):
    """Adds the example pages, their navigation and an offline MathJax to the site."""

    def __init__(self) -> None:
        self._examples: dict[str, GeneratedFile] = {}
        self._worked: Known = {}
        self._date: str | None = None
        self._serving = False

    def load_config(self, options: dict[str, Any], config_file_path: str | None = None
                    ) -> tuple[ConfigErrors, ConfigWarnings]:
        """Validate the options; a bad one is a one-line error naming it (MkDocs would only log
        it and abort with a message that does not name it)."""
        errors, warnings = super().load_config(options, config_file_path)
        if errors:
            name, error = errors[0]
            raise ConfigurationError(f"plugins: derive: {name}: {' '.join(str(error).split())}")
        return errors, warnings

    def on_startup(self, *, command: str, dirty: bool) -> None:
        """Under `mkdocs serve` a broken example shows its error on its page; a build stops."""
        self._serving = command == "serve"

    @property
    def _root(self) -> Path:
        """The folder of mkdocs.yml, which the plugin's paths are relative to."""
        path = self.config.config_file_path
        return Path(path).resolve().parent if path else Path.cwd()

    def on_config(self, config: MkDocsConfig) -> MkDocsConfig:
        """Refuse a cache folder the site would publish; turn on the Markdown extensions the
        pages need, and load derive's script, then MathJax, after the site's own scripts."""
        try:
            store.require_outside([config.docs_dir, config.site_dir])
        except DeriveError as err:
            raise SiteError(str(err)) from err
        for extension, options in EXTENSIONS.items():
            if extension not in config.markdown_extensions:
                config.markdown_extensions.append(extension)
            config.mdx_configs[extension] = {**config.mdx_configs.get(extension, {}), **options}
        runtime = [RUNTIME_SCRIPT] if self.config.interactive else []
        config.extra_javascript.extend([SCRIPT, *runtime, MATHJAX_SCRIPT])
        config.extra_css.append(STYLESHEET)
        return config

    def on_files(self, files: Files, *, config: MkDocsConfig) -> Files:
        """Publish MathJax and every example's pages, and list them in the navigation."""
        for uri, path in {**mathjax_files(), **asset_files()}.items():
            _add(files, File.generated(config, uri, abs_src_path=str(path)), path)
        paths = self.example_paths()
        if not paths:
            log.warning("no example files match %s (relative to %s)", self.config.examples,
                        self._root)
        failures: list[str] | None = [] if self._serving else None
        previous = self._examples
        try:
            self._examples = generate_example_files(paths, self._options(), self._templates(),
                                                    failures=failures, worked=self._worked)
        except DeriveError as err:
            raise SiteError(str(err)) from err
        for failure in failures or []:
            log.error(failure)
        for uri, generated in self._examples.items():
            file = GeneratedExampleFile.generated(config, uri, content=generated.content)
            file.changed = previous.get(uri) != generated or not os.path.exists(file.abs_dest_path)
            _add(files, file, generated.source)
        log.info("added %d generated file(s) from %d example(s)", len(self._examples), len(paths))
        self._date = _newest_date([Path(config.config_file_path or self._root), *paths,
                                   *_files_under(Path(config.docs_dir)),
                                   *_files_under(self._root / "templates")])
        if config.nav is None:
            config.nav = self._nav(files)
        return files

    def on_pre_page(self, page: Page, *, config: MkDocsConfig, files: Files) -> Page:
        """Date every page by the newest input, so the sitemap repeats from build to build
        (unless SOURCE_DATE_EPOCH, which MkDocs reads itself, says otherwise)."""
        if self._date and "SOURCE_DATE_EPOCH" not in os.environ:
            page.update_date = self._date
        return page

    def on_page_markdown(
        self, markdown: str, *, page: Page, config: MkDocsConfig, files: Files
    ) -> str:
        """Replace `derive` blocks with their quantities, and the examples marker with links to
        the examples."""
        if page.file.src_uri not in self._examples:
            failures: list[str] | None = [] if self._serving else None
            try:
                markdown = embed(markdown, page.file.src_uri, self._worked_example, failures,
                                 precision=self.config.precision)
            except DeriveError as err:
                raise SiteError(str(err)) from err
            markdown = MISTAKES_MARKER.sub(
                lambda marker: self._mistakes(marker["examples"].split(), page.file.src_uri,
                                              failures),
                markdown)
            for failure in failures or []:
                log.error(failure)
        if EXAMPLES_MARKER not in markdown:
            return markdown
        base = posixpath.dirname(page.file.src_uri) or "."
        links = [
            f"- [{_title(uri, generated.content)}]({posixpath.relpath(uri, base)})"
            for uri, generated in self._examples.items()
            if uri.endswith(".md")
        ]
        return markdown.replace(EXAMPLES_MARKER, "\n".join(links) or "No examples yet.")

    def on_post_page(self, output: str, *, page: Page, config: MkDocsConfig) -> str:
        """Load an interactive example page's own script (examples/NAME.js), after the site's
        scripts, by a URL relative to the page (whatever `use_directory_urls` says)."""
        script = posixpath.splitext(page.file.src_uri)[0] + ".js"
        if page.file.src_uri not in self._examples or script not in self._examples:
            return output
        tag = f'<script src="{html.escape(get_relative_url(script, page.url))}"></script>'
        end = output.rfind("</body>")
        return output[:end] + tag + output[end:] if end >= 0 else output + tag

    def on_serve(
        self, server: LiveReloadServer, *, config: MkDocsConfig, builder: object
    ) -> LiveReloadServer:
        """Rebuild when a template or an example changes (both live outside docs/), and import
        what computing an example needs meanwhile, so that the first edit waits for no import."""
        folders = {self._root / "templates", *self._templates()}
        folders |= {path.parent for path in self.example_paths()}
        for folder in sorted(folders):
            if folder.exists():
                server.watch(str(folder))
        threading.Thread(target=importlib.import_module, args=("derive.present.pages",),
                         name="derive: imports", daemon=True).start()
        return server

    def _mistakes(self, written: list[str], page: str, failures: list[str] | None) -> str:
        """The mistake catalogue, worked on the examples a marker names (relative to
        mkdocs.yml); with `failures` (while `mkdocs serve` runs) an error shows in its place."""
        from ..mistakes import catalogue_markdown  # SymPy only for a page with the catalogue

        def compute() -> str:
            return catalogue_markdown([self._worked_example(path) for path in written],
                                      self._templates())

        try:
            paths = [(self._root / path).resolve() for path in written]
            return cached_text("mistakes", paths, self._options(), self._templates(), compute)
        except DeriveError as err:
            message = f"{page}: derive:mistakes: {err}"
            if failures is None:
                raise SiteError(message) from err
            failures.append(message)
            return f'!!! failure "derive:mistakes"\n    {escape_markdown(message)}\n'

    def _worked_example(self, written: str) -> WorkedExample:
        """The worked example a block names: the one the pages computed, unless its file changed
        since (or its pages came from the cache)."""
        path = (self._root / written).resolve()  # relative to mkdocs.yml
        try:
            data = path.read_bytes()
            if path not in self._worked or self._worked[path][0] != data:
                self._worked[path] = (data, checked_worked_example(path))
        except DeriveError as err:
            raise DeriveError(f"example {written!r}: {err}") from None
        except OSError as err:
            raise DeriveError(f"example {written!r}: {path}: cannot be read ({err.strerror})") from None
        return self._worked[path][1]

    def example_paths(self) -> list[Path]:
        """The example files the `examples` option names."""
        return example_paths(self._root, self.config.examples)

    def _options(self) -> RenderOptions:
        return RenderOptions(precision=self.config.precision,
                             interactive=self.config.interactive)

    def _templates(self) -> tuple[Path, ...]:
        folder = self.config.templates
        return (Path(folder).resolve(),) if folder else ()

    def _nav(self, files: Files) -> list[str | dict]:
        """Home, the other hand-written pages, then the example pages in example order (in a
        section titled `nav_title`)."""
        examples = [uri for uri in self._examples if uri.endswith(".md")]
        written = sorted(
            file.src_uri
            for file in files.documentation_pages()
            if file.src_uri not in self._examples
        )
        nav: list[str | dict] = []
        if "index.md" in written:
            written.remove("index.md")
            nav.append({"Home": "index.md"})
        title = self.config.nav_title
        return nav + written + ([{title: examples}] if title and examples else examples)


def _files_under(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()] if folder.is_dir() else []


def _newest_date(inputs: list[Path]) -> str:
    """The UTC date of the newest of `inputs`, as MkDocs writes page dates."""
    newest = max(path.stat().st_mtime for path in inputs if path.exists())
    return datetime.datetime.fromtimestamp(newest, datetime.UTC).strftime("%Y-%m-%d")


def _add(files: Files, file: File, source: Path) -> None:
    """Add a generated file, refusing to shadow a file already in the site (e.g. in docs/)."""
    existing = files.get_file_from_path(file.src_uri)
    if existing is not None:
        raise SiteError(
            f"{file.src_uri}: generated from {source} would overwrite "
            f"{existing.abs_src_path or existing.src_uri}"
        )
    files.append(file)


def _title(uri: str, markdown: str) -> str:
    """A generated page's title (else its file name) as Markdown link text showing it literally.

    The front matter holds the title HTML-escaped (see `escape_html`); it is unescaped here and
    escaped once, for Markdown.
    """
    _, meta = get_data(markdown)
    title = html.unescape(str(meta.get("title") or "")) or posixpath.splitext(
        posixpath.basename(uri))[0]
    return escape_markdown(title)
