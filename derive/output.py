"""Output folders (the site, exam variants): built aside, then swapped in whole.

derive replaces a folder only if it is absent, empty, or marked as built by derive (the MARKER
file inside, a regular file); anything else is refused before any work, so `--site-dir docs` can
never delete docs/, and neither can a folder holding the command's inputs. One exception: the
site build also replaces the site folder of its own mkdocs.yml once `mkdocs build` made it (the
config's site_dir holding MkDocs' SITEMAP and NOT_FOUND as regular files), as MkDocs itself
would on its next build. A new folder is built beside the target and exchanged with it in one
atomic rename (Linux's renameat2 RENAME_EXCHANGE), so readers always see the old or the new
folder. Leftovers of killed builds (work folders holding WORK_MARKER, whose process is gone)
are removed by the next build.
"""

from __future__ import annotations

import ctypes
import glob
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import DeriveError, show_path

MARKER = ".derive-output"
"""The file inside every folder derive built; only such folders are ever replaced."""
WORK_MARKER = ".derive-work"
"""The file derive writes first into each work folder, holding its process id: only folders
holding it are removed as leftovers, once that process is gone."""
SITEMAP, NOT_FOUND = "sitemap.xml", "404.html"
"""What every `mkdocs build` with MkDocs' or Material's theme writes at the top of its site."""
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def require_replaceable(target: Path, option: str, mkdocs_site: Path | None = None) -> None:
    """Refuse, with one line naming `option`, an output folder derive may not replace.

    `mkdocs_site` is the site_dir of the mkdocs.yml being built: that folder may also be
    replaced once `mkdocs build` made it (see `_built_by_mkdocs`).
    """
    if not target.exists() and not target.is_symlink():
        return
    shown = show_path(target)
    if target.is_symlink() or not target.is_dir():
        raise DeriveError(f"{option}: {shown} is not a folder derive built; choose another")
    if _regular_file(target / MARKER) or not any(target.iterdir()):
        return
    own_site = mkdocs_site is not None and located(target) == located(mkdocs_site)
    if own_site and _built_by_mkdocs(target):
        return
    raise DeriveError(f"{option}: {shown} is a folder derive did not build (no {MARKER} "
                      "inside); remove it yourself or choose another")


def _built_by_mkdocs(folder: Path) -> bool:
    """Whether `folder` holds what `mkdocs build` writes at a site's top: its sitemap and its
    404 page, both regular files."""
    return _regular_file(folder / SITEMAP) and _regular_file(folder / NOT_FOUND)


def require_apart(target: Path, option: str, inputs: Iterable[Path]) -> None:
    """Refuse, with one line naming `option`, an output folder holding one of `inputs` (the
    files the command reads): replacing the folder would delete them."""
    folder = located(target)
    for path in inputs:
        if any(place.is_relative_to(folder) for place in (located(path), path.resolve())):
            raise DeriveError(f"{option}: {show_path(folder)} holds {show_path(path)}, which "
                              "replacing it would delete; choose another folder")


def located(path: Path) -> Path:
    """`path` made absolute, its folders' symlinks resolved but not its own (which derive
    refuses to replace rather than follow)."""
    absolute = Path(os.path.abspath(path))
    return absolute.parent.resolve() / absolute.name


@contextmanager
def replacing(target: Path, option: str, mkdocs_site: Path | None = None) -> Iterator[Path]:
    """A fresh folder to fill; when the block succeeds it replaces `target` whole.

    On any failure `target` stays exactly as it was and the fresh folder is removed;
    `mkdocs_site` as for `require_replaceable`.
    """
    target = located(target)  # a symlink itself is refused, not followed
    require_replaceable(target, option, mkdocs_site)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DeriveError(f"{option}: cannot create {show_path(target.parent)}: "
                          f"{err.strerror}") from err
    _remove_leftovers(target)
    work = _work_folder(target, option)
    try:
        fresh = work / "new"
        try:
            yield fresh
        except OSError as err:
            # Name the file where it was going, not the work folder it was written in.
            if err.filename and Path(err.filename).is_relative_to(fresh):
                shown = show_path(target / Path(err.filename).relative_to(fresh))
                raise DeriveError(f"{shown}: {err.strerror}") from err
            raise
        fresh.mkdir(exist_ok=True)
        (fresh / MARKER).write_text("built by derive; it replaces this folder whole\n",
                                    encoding="utf-8")
        require_replaceable(target, option, mkdocs_site)
        _exchange(fresh, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _work_folder(target: Path, option: str) -> Path:
    """A new work folder beside `target`, holding WORK_MARKER (written before anything else)."""
    try:
        work = Path(tempfile.mkdtemp(prefix=_work_prefix(target), dir=target.parent))
        try:
            _write_new(work / WORK_MARKER, f"{os.getpid()}\n".encode())
        except OSError:
            shutil.rmtree(work, ignore_errors=True)
            raise
    except OSError as err:
        raise DeriveError(f"{option}: cannot write in {show_path(target.parent)}: "
                          f"{err.strerror}") from err
    return work


def _write_new(path: Path, data: bytes) -> None:
    """Create the file `path` (never through an existing file or symlink) holding `data`."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(descriptor, data)
    finally:
        os.close(descriptor)


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
        raise DeriveError(f"{show_path(target)}: cannot replace it: {err.strerror}") from err


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
    """Remove the work folders of builds of `target` whose process is gone (killed builds):
    folders (not symlinks) holding a regular WORK_MARKER that names a process no longer alive."""
    for folder in target.parent.glob(f"{glob.escape(_work_prefix(target))}*"):
        pid = _work_owner(folder)
        if pid is not None and not _alive(pid):
            shutil.rmtree(folder, ignore_errors=True)


def _work_owner(folder: Path) -> int | None:
    """The process id in a derive work folder's marker; None for anything else."""
    marker = folder / WORK_MARKER
    if folder.is_symlink() or not _regular_file(marker):
        return None
    try:
        pid = marker.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(pid) if pid.isascii() and pid.isdigit() else None


def _regular_file(path: Path) -> bool:
    """Whether `path` is a regular file itself (a symlink to one is not)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
