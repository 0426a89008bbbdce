"""Output folders (the site, exam variants): built aside, then swapped in whole.

derive replaces a folder only if it is absent, empty, or marked as built by derive (the MARKER
file inside); anything else is refused before any work, so `--site-dir docs` can never delete
docs/. A new folder is built beside the target and exchanged with it in one atomic rename
(Linux's renameat2 RENAME_EXCHANGE), so readers always see the old or the new folder.
Leftovers of killed builds are removed by the next build.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import DeriveError

MARKER = ".derive-output"
"""The file inside every folder derive built; only such folders are ever replaced."""
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def require_replaceable(target: Path, option: str) -> None:
    """Refuse, with one line naming `option`, an output folder derive may not replace."""
    if not target.exists() and not target.is_symlink():
        return
    if target.is_symlink() or not target.is_dir():
        raise DeriveError(f"{option}: {target} is not a folder derive built; choose another")
    if any(target.iterdir()) and not (target / MARKER).is_file():
        raise DeriveError(f"{option}: {target} is a folder derive did not build (no {MARKER} "
                          "inside); remove it yourself or choose another")


@contextmanager
def replacing(target: Path, option: str) -> Iterator[Path]:
    """A fresh folder to fill; when the block succeeds it replaces `target` whole.

    On any failure `target` stays exactly as it was and the fresh folder is removed.
    """
    target = target.parent.resolve() / target.name  # a symlink itself is refused, not followed
    require_replaceable(target, option)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DeriveError(f"{option}: cannot create {target.parent}: {err.strerror}") from err
    _remove_leftovers(target)
    try:
        work = Path(tempfile.mkdtemp(prefix=_work_prefix(target) + f"{os.getpid()}-",
                                     dir=target.parent))
    except OSError as err:
        raise DeriveError(f"{option}: cannot write in {target.parent}: {err.strerror}") from err
    try:
        fresh = work / "new"
        try:
            yield fresh
        except OSError as err:
            # Name the file where it was going, not the work folder it was written in.
            if err.filename and Path(err.filename).is_relative_to(fresh):
                shown = target / Path(err.filename).relative_to(fresh)
                raise DeriveError(f"{shown}: {err.strerror}") from err
            raise
        fresh.mkdir(exist_ok=True)
        (fresh / MARKER).write_text("built by derive; it replaces this folder whole\n",
                                    encoding="utf-8")
        require_replaceable(target, option)
        _exchange(fresh, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _work_prefix(target: Path) -> str:
    return f".{target.name}-build-"


def _exchange(new: Path, target: Path) -> None:
    """Put `new` at `target` in one step; the old folder (if any) ends up at `new`."""
    try:
        if not target.exists():
            new.rename(target)
        elif not _rename_exchange(new, target):
            # Without an atomic exchange: the old folder aside, then the new one in.
            aside = new.with_name("old")
            target.rename(aside)
            new.rename(target)
    except OSError as err:
        raise DeriveError(f"{target}: cannot replace it: {err.strerror}") from err


def _rename_exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically; False where the system cannot."""
    renameat2: Callable[..., int] | None = getattr(ctypes.CDLL(None, use_errno=True),
                                                   "renameat2", None)
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    error = ctypes.get_errno()
    if error in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: this file system cannot exchange
        return False
    raise OSError(error, os.strerror(error), str(b))


def _remove_leftovers(target: Path) -> None:
    """Remove the work folders of builds of `target` whose process is gone (killed builds)."""
    prefix = _work_prefix(target)
    for folder in target.parent.glob(f"{prefix}*"):
        pid = folder.name.removeprefix(prefix).split("-")[0]
        if folder.is_dir() and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
