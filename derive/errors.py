"""The errors derive reports to its users: each names the file and the field at fault."""

from __future__ import annotations

import os
from pathlib import Path


class DeriveError(Exception):
    """Anything derive reports as a one-line message and exit code 2."""


class SpecError(DeriveError):
    """An example file that cannot be used: `file: field: what is wrong`."""

    def __init__(self, path: Path | str, field: str, problem: str) -> None:
        self.path = str(path)
        self.field = field
        self.problem = problem
        super().__init__(f"{show_path(path)}: {field}: {problem}")


def show_path(path: Path | str | bytes) -> str:
    """A path as one printable line: as it is, or quoted with its control characters (and
    undecodable bytes) escaped as repr does, so a message naming it stays one line."""
    text = os.fsdecode(path)
    return text if text.isprintable() else repr(text)
