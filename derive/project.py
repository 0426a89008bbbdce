"""`derive new DIR`: a working project, as `mkdocs new` makes one, with the derive plugin."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from .errors import DeriveError, show_path
from .present.render import TEMPLATES

_FILES = {"mkdocs.yml": "mkdocs.yml", "index.md": "docs/index.md",
          "first.toml": "examples/first.toml"}
"""The starter files in templates/project/, by where they go in the new project."""


def new_project(directory: Path) -> list[Path]:
    """Create `directory` with mkdocs.yml, docs/index.md and a commented first example.

    Refuses a folder that exists and is not empty, so nothing is ever overwritten. The files
    are written in a hidden folder first and moved into place only once all are written, so a
    failure (a full disk) leaves `directory` as it was: absent or empty.
    """
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise DeriveError(f"{show_path(directory)}: exists and is not an empty folder; "
                          "choose a new name")
    created = not directory.exists()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        _fill(directory)
    except OSError as err:
        if created:
            shutil.rmtree(directory, ignore_errors=True)
        raise DeriveError(f"{show_path(directory)}: cannot create the project: "
                          f"{err.strerror or err}") from None
    return [directory / target for target in _FILES.values()]


def _fill(directory: Path) -> None:
    """Write the starter files into a work folder inside `directory`, then move them up; on
    failure remove whatever was moved."""
    work = Path(tempfile.mkdtemp(prefix=".derive-new-", dir=directory))
    moved: list[Path] = []
    try:
        for source, target in _FILES.items():
            path = work / target
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(TEMPLATES / "project" / source, path)
        for entry in dict.fromkeys(Path(target).parts[0] for target in _FILES.values()):
            (work / entry).rename(directory / entry)
            moved.append(directory / entry)
    except OSError:
        for path in moved:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
