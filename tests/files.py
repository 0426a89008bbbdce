"""The generated files of an example file, as the site build makes them."""

from pathlib import Path

from derive.present.pages import example_files
from derive.worked import worked_example


def example_pages(path: Path) -> dict[str, str]:
    """Docs-relative paths to contents: the page, `.tex`, `.json` and the figures."""
    return example_files(worked_example(path))
