"""The generated files of an example file, as the site build makes them."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import derive.worked
from derive import store
from derive.present.pages import example_files
from derive.worked import worked_example


def example_pages(path: Path) -> dict[str, str]:
    """Docs-relative paths to contents: the page, `.tex`, `.json` and the figures."""
    return example_files(worked_example(path))


@contextmanager
def numbers_only() -> Iterator[None]:
    """derive's pipeline without the loss expanded entry by entry: that cross-check tests the
    derivation and changes no number, so tests of the numbers alone skip its cost (the
    formulas' sweep, the conventions' documents and the cross-check's own tests run it)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(derive.worked, "expand", lambda derivation, example: None)
        yield


@contextmanager
def cache_of(site: Path) -> Iterator[None]:
    """Builds in this block use the code cache `site` was built with (the folder `cache` beside
    it), in which the same examples cost nothing again."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(store.CACHE_VARIABLE, str(site.parent / "cache"))
        yield
