"""`derive new DIR`: a working project, as `mkdocs new` makes one, with the derive plugin."""

from __future__ import annotations

import shutil
from pathlib import Path

from .errors import DeriveError
from .present.render import TEMPLATES

_FILES = {"mkdocs.yml": "mkdocs.yml", "index.md": "docs/index.md",
          "first.toml": "examples/first.toml"}
"""The starter files in templates/project/, by where they go in the new project."""


def new_project(directory: Path) -> list[Path]:
    """Create `directory` with mkdocs.yml, docs/index.md and a commented first example.

    Refuses a folder that exists and is not empty, so nothing is ever overwritten.
    """
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise DeriveError(f"{directory}: exists and is not an empty folder; choose a new name")
    written = []
    for source, target in _FILES.items():
        path = directory / target
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(TEMPLATES / "project" / source, path)
        written.append(path)
    return written
