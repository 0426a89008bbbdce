"""The errors derive reports to its users: each names the file and the field at fault."""

from __future__ import annotations

from pathlib import Path


class DeriveError(Exception):
    """Anything derive reports as a one-line message and exit code 2."""


class SpecError(DeriveError):
    """An example file that cannot be used: `file: field: what is wrong`."""

    def __init__(self, path: Path | str, field: str, problem: str) -> None:
        self.path = str(path)
        self.field = field
        self.problem = problem
        super().__init__(f"{self.path}: {field}: {problem}")
