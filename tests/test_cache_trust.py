"""The caches use only what derive wrote for the key asked for, in private folders of the user's;
they survive damaged entries and unsafe folders (without a cache, never with a wrong number) and
stay bounded."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import pwd
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from derive import api, store
from derive.api import gradient_function
from derive.compile import cache as codegen
from derive.errors import DeriveError
from derive.spec import Network

ROOT = Path(__file__).resolve().parents[1]
SEED = Network((2, 3, 1), ("relu", "linear"), "l2", False)
AS_ROOT = pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")

FRESH_PROCESS = """
import json, sys
import numpy as np
from derive import dL_dW1
X, y, W1, W2 = (np.array(a) for a in json.load(sys.stdin))
print(json.dumps({"dL_dW1": dL_dW1(X, y, W1, W2).tolist(), "sympy": "sympy" in sys.modules}))
"""


pytestmark = pytest.mark.usefixtures("cache")  # a fresh code cache for every test


def key_of(path: Path) -> str:
    """The key an entry's file name stands for (the name without its suffix)."""
    return path.name.partition(".")[0]


def stamped(body: bytes, key: str) -> bytes:
    """A cache file in the specified format: its key and the SHA-256 of the rest on its first line."""
    digest = hashlib.sha256(body).hexdigest()
    return f"# derive-cache key={key} sha256={digest}\n".encode() + body


def assert_written_by_derive(path: Path, body: bytes) -> None:
    """`path` is a private regular file of ours holding `body` under its key and hash line."""
    status = path.lstat()
    assert stat.S_ISREG(status.st_mode) and status.st_uid == os.getuid()
    assert stat.S_IMODE(status.st_mode) == 0o600
    assert path.read_bytes() == stamped(body, key_of(path))


def seed_problem() -> tuple[np.ndarray, ...]:
    """X (2 x 4), y, W1 (3 x 2) and W2 (1 x 3) for the seed network."""
    rng = np.random.default_rng(7)
    return rng.normal(size=(2, 4)), rng.normal(size=4), rng.normal(size=(3, 2)), rng.normal(size=(1, 3))


def seed_dL_dW1(X: np.ndarray, y: np.ndarray, W1: np.ndarray, W2: np.ndarray) -> np.ndarray:
    """dL/dW1 of L = 1/(2N) sum (y - W2 relu(W1 X))^2, by hand."""
    N = X.shape[1]
    S1 = W1 @ X
    y_hat = W2 @ np.maximum(S1, 0.0)
    return ((W2.T @ ((y_hat - y) / N)) * (S1 > 0)) @ X.T


def fresh_process(cache: Path) -> dict:
    """`from derive import dL_dW1` and a call in a new interpreter: its gradient and SymPy use."""
    env = {**os.environ, store.CACHE_VARIABLE: str(cache), "PYTHONPATH": str(ROOT)}
    arguments = json.dumps([a.tolist() for a in seed_problem()])
    result = subprocess.run([sys.executable, "-c", FRESH_PROCESS], input=arguments, env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def first_seed_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed's cache file, as a first `from derive import dL_dW1` writes it (do not modify it;
    `seed_file` is a copy)."""
    cache = tmp_path_factory.mktemp("first") / "cache"
    fresh_process(cache)
    (path,) = cache.glob("*.py")
    return path


@pytest.fixture
def seed_file(cache: Path, first_seed_file: Path) -> Path:
    """The seed's cache file, alone in the test's own cache folder."""
    cache.mkdir(mode=0o700)
    path = cache / first_seed_file.name
    private_copy(first_seed_file, path)
    return path


def entry(request: str) -> Path:
    """The cache file of `request`."""
    return store.cache_dir() / f"{codegen.cache_key(request)}.py"


def evil(body: bytes, marker: Path) -> bytes:
    """`body`, still defining every function, plus code that leaves `marker` if executed."""
    return body + f"\nopen({str(marker)!r}, 'w').close()\n".encode()


def world_writable(path: Path, body: bytes) -> None:
    """Plant `body`, correctly stamped, in a file anyone may write."""
    path.write_bytes(stamped(body, key_of(path)))
    path.chmod(0o666)


def group_writable(path: Path, body: bytes) -> None:
    """Plant `body`, correctly stamped, in a file its group may write."""
    path.write_bytes(stamped(body, key_of(path)))
    path.chmod(0o620)


def other_owner(path: Path, body: bytes) -> None:
    """Plant `body`, correctly stamped, in a private file of another user."""
    path.write_bytes(stamped(body, key_of(path)))
    path.chmod(0o600)
    os.chown(path, 65534, 65534)


def hash_mismatch(path: Path, body: bytes) -> None:
    """Plant `body` under the hash of the code derive wrote there."""
    header = path.read_bytes().partition(b"\n")[0]  # derive's own line, for the code it wrote
    path.write_bytes(header + b"\n" + body)


def symlink(path: Path, body: bytes) -> None:
    """Replace the file by a link to a correctly stamped, private file of ours holding `body`."""
    target = path.parent.parent / "elsewhere.py"
    target.write_bytes(stamped(body, key_of(path)))
    target.chmod(0o600)
    path.unlink()
    path.symlink_to(target)


def fifo(path: Path, body: bytes) -> None:
    """Replace the file by an empty named pipe."""
    path.unlink()
    os.mkfifo(path, 0o600)  # opening it for reading would block until a writer comes


def test_a_trusted_file_is_executed_without_sympy(seed_file, tmp_path):
    # The control for the next test: the same planted code runs when every check passes.
    marker = tmp_path / "pwned"
    body = seed_file.read_bytes().partition(b"\n")[2]
    seed_file.write_bytes(stamped(evil(body, marker), key_of(seed_file)))
    result = fresh_process(seed_file.parent)
    assert marker.exists() and not result["sympy"]
    np.testing.assert_allclose(result["dL_dW1"], seed_dL_dW1(*seed_problem()), rtol=1e-12)


@pytest.mark.parametrize("plant", [
    world_writable, group_writable, pytest.param(other_owner, marks=AS_ROOT), hash_mismatch, symlink, fifo,
], ids=lambda plant: plant.__name__)
def test_an_untrusted_file_is_never_executed(plant: Callable[[Path, bytes], None], seed_file, tmp_path):
    marker = tmp_path / "pwned"
    body = seed_file.read_bytes().partition(b"\n")[2]
    plant(seed_file, evil(body, marker))
    result = fresh_process(seed_file.parent)
    assert not marker.exists()
    assert result["sympy"]  # derived again
    np.testing.assert_allclose(result["dL_dW1"], seed_dL_dW1(*seed_problem()), rtol=1e-12)
    assert_written_by_derive(seed_file, body)


def test_a_pipe_in_place_of_a_file_is_never_read_as_code(cache):
    cache.mkdir(mode=0o700)
    path = entry("request")
    os.mkfifo(path, 0o600)
    writer = os.open(path, os.O_RDWR)  # holds the pipe open with a trusted-looking module in it
    try:
        os.write(writer, stamped(b"x = 'planted'\n", key_of(path)))
        assert codegen.cached("request", lambda: "x = 1\n", names=("x",))["x"] == 1
    finally:
        os.close(writer)
    assert_written_by_derive(path, b"x = 1\n")


DAMAGE: dict[str, Callable[[bytes, str], bytes]] = {  # (the file derive wrote, its key) -> damaged
    "invalid-utf8": lambda written, key: stamped(b"gradients = '\xff\xfe'\n", key),
    "empty": lambda written, key: b"",
    "truncated": lambda written, key: written[: len(written) // 2],
    "syntax-error": lambda written, key: stamped(b"def gradients(:\n", key),
    "raises-when-executed": lambda written, key: stamped(b"raise RuntimeError('damaged')\n", key),
    "missing-names": lambda written, key: stamped(b"x = 1\n", key),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_file_is_regenerated_without_a_traceback(damage, cache, monkeypatch, capfd,
                                                           generations):
    calls = generations
    gradient_function(SEED)
    (path,) = cache.glob("*.py")
    written = path.read_bytes()
    path.write_bytes(DAMAGE[damage](written, key_of(path)))
    api._modules.clear()
    X, y, W1, W2 = seed_problem()
    np.testing.assert_allclose(gradient_function(SEED)(X, y, W1, W2)[0], seed_dL_dW1(X, y, W1, W2),
                               rtol=1e-12)
    assert len(calls) == 2 and capfd.readouterr().err == ""
    assert_written_by_derive(path, written.partition(b"\n")[2])
    api._modules.clear()
    gradient_function(SEED)
    assert len(calls) == 2  # the repaired file is a hit


def test_files_are_private_stamped_and_leave_no_temporaries(cache):
    namespace = codegen.cached("request", lambda: "x = 1\n", names=("x",))
    assert namespace["x"] == 1
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    (path,) = cache.iterdir()
    assert path.name == f"{codegen.cache_key('request')}.py"
    assert_written_by_derive(path, b"x = 1\n")


def test_a_file_is_synced_before_it_is_renamed_into_place(cache, monkeypatch):
    events: list[str] = []
    fsync, replace = os.fsync, os.replace

    def recording_fsync(handle: int) -> None:
        events.append("sync directory" if stat.S_ISDIR(os.fstat(handle).st_mode) else "sync file")
        fsync(handle)

    def recording_replace(source: str, destination: str, **folders: int) -> None:
        events.append("rename")
        replace(source, destination, **folders)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    monkeypatch.setattr(os, "replace", recording_replace)
    codegen.cached("request", lambda: "x = 1\n", names=("x",))
    assert events == ["sync file", "rename", "sync directory"]


def refuse(code: int) -> Callable[..., None]:
    """A stand-in for a system call that fails with `code`."""
    def refused(*arguments, **keywords) -> None:
        raise OSError(code, os.strerror(code))
    return refused


# As root, permission bits do not stop writes, so the refusals the kernel gives are simulated.
FAILED_WRITES = {
    "read-only": (tempfile, "mkstemp", errno.EROFS),
    "disk-full": (os, "fsync", errno.ENOSPC),
    "rename-refused": (os, "replace", errno.EACCES),
}


@pytest.mark.parametrize("failure", FAILED_WRITES)
def test_a_failed_write_leaves_no_temporary_and_the_code_still_runs(failure, cache, monkeypatch):
    module, name, code = FAILED_WRITES[failure]
    monkeypatch.setattr(module, name, refuse(code))
    assert codegen.cached("request", lambda: "x = 1\n", names=("x",))["x"] == 1
    assert not cache.exists() or list(cache.iterdir()) == []


def test_a_read_only_cache_still_gives_gradients(cache, monkeypatch, generations):
    calls = generations
    monkeypatch.setattr(tempfile, "mkstemp", refuse(errno.EROFS))
    X, y, W1, W2 = seed_problem()
    for _ in range(2):
        api._modules.clear()
        np.testing.assert_allclose(gradient_function(SEED)(X, y, W1, W2)[0], seed_dL_dW1(X, y, W1, W2),
                                   rtol=1e-12)
    assert len(calls) == 2  # each process generates its code in memory


def test_a_read_only_warm_cache_is_still_read(cache, monkeypatch, generations):
    calls = generations
    gradient_function(SEED)
    monkeypatch.setattr(tempfile, "mkstemp", refuse(errno.EROFS))
    monkeypatch.setattr(os, "utime", refuse(errno.EROFS))
    api._modules.clear()
    X, y, W1, W2 = seed_problem()
    np.testing.assert_allclose(gradient_function(SEED)(X, y, W1, W2)[0], seed_dL_dW1(X, y, W1, W2),
                               rtol=1e-12)
    assert len(calls) == 1


def write_entries(count: int) -> None:
    """Cache `count` small modules, requests r0, r1, ..."""
    for i in range(count):
        codegen.cached(f"r{i}", lambda: "x = 1\n", names=("x",))


def test_the_cache_keeps_at_most_max_entries(cache, monkeypatch):
    assert store.MAX_ENTRIES == 256
    monkeypatch.setattr(store, "MAX_ENTRIES", 3)
    write_entries(6)
    assert len(list(cache.glob("*.py"))) == 3


def test_pruning_deletes_the_least_recently_used(cache, monkeypatch):
    monkeypatch.setattr(store, "MAX_ENTRIES", 3)
    write_entries(3)
    now = time.time()
    for age, request in ((300, "r0"), (200, "r1"), (100, "r2")):
        os.utime(entry(request), (now - age, now - age))
    codegen.cached("r0", lambda: pytest.fail("r0 is cached"), names=("x",))  # a hit counts as a use
    codegen.cached("r3", lambda: "x = 1\n", names=("x",))
    assert sorted(cache.glob("*.py")) == sorted(entry(r) for r in ("r0", "r2", "r3"))


def test_pruning_deletes_stale_temporaries_and_nothing_else(cache):
    cache.mkdir()
    key = codegen.cache_key("left behind")
    stale, fresh = cache / f".{key}-stale.tmp", cache / f".{key}-fresh.tmp"
    others = [cache / "notes.txt", cache / "mine.py"]
    for path in (stale, fresh, *others):
        path.write_text("")
    two_hours_ago = time.time() - 7200
    for path in (stale, *others):
        os.utime(path, (two_hours_ago, two_hours_ago))
    write_entries(1)
    assert not stale.exists()
    assert fresh.exists() and all(path.exists() for path in others)


def test_pruning_never_raises(cache, monkeypatch):
    monkeypatch.setattr(store, "MAX_ENTRIES", 1)
    write_entries(1)
    monkeypatch.setattr(os, "unlink", refuse(errno.EACCES))
    write_entries(3)
    assert len(list(cache.glob("*.py"))) == 3


# A cache entry is valid only for its key, and only in folders no one else can change.

SEED_FILE = ROOT / "examples" / "seed.toml"
KEY = "0123456789abcdef" * 2
"""A key in the form derive's keys have (32 hexadecimal digits)."""

WITHOUT_HOME = """
import pwd, sys
def unknown(uid): raise KeyError(f"getpwuid(): uid not found: {uid}")
pwd.getpwuid = unknown  # a user the password database does not know
from derive.cli import main
sys.exit(main(sys.argv[1:]))
"""


def derive_values(example: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`python -m derive values EXAMPLE` in a new process with the environment `env`."""
    return subprocess.run([sys.executable, "-m", "derive", "values", str(example)], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


def with_cache(folder: Path) -> dict[str, str]:
    """The environment of a process that caches in `folder`."""
    return {**os.environ, store.CACHE_VARIABLE: str(folder), "PYTHONPATH": str(ROOT)}


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under `folder` with a regular file's content: what a run must leave alone."""
    return {str(path): path.read_bytes() if path.is_file() else None for path in folder.rglob("*")}


@pytest.fixture(scope="module")
def seed_values(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """The seed's `derive values` output computed with an empty cache, and its derivation's key."""
    cache = tmp_path_factory.mktemp("seed") / "cache"
    result = derive_values(SEED_FILE, with_cache(cache))
    assert result.returncode == 0 and result.stderr == ""
    assert json.loads(result.stdout)["final"]["loss"] == pytest.approx(0.4445, abs=5e-5)
    (entry,) = (cache / "derivations").iterdir()
    return result.stdout, key_of(entry)


@pytest.fixture(scope="module")
def tanh_entry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The derivation entry of the seed with a tanh hidden layer (same shapes, other numbers),
    as derive wrote it."""
    folder = tmp_path_factory.mktemp("tanh")
    twin = folder / "tanh.toml"
    twin.write_text(SEED_FILE.read_text().replace('["relu", "linear"]', '["tanh", "linear"]'))
    result = derive_values(twin, with_cache(folder / "cache"))
    assert result.returncode == 0
    assert json.loads(result.stdout)["final"]["loss"] == pytest.approx(0.4095, abs=5e-5)
    (entry,) = (folder / "cache" / "derivations").iterdir()
    return entry


@pytest.fixture
def shared_folder() -> Path:
    """A folder in /tmp that every user may create folders in (the test's own are private)."""
    folder = Path(tempfile.mkdtemp(prefix="derive-shared-"))
    folder.chmod(0o777)
    yield folder
    shutil.rmtree(folder)


@pytest.fixture
def umask_022() -> None:
    """The common umask, under which mkdir alone gives folders 0o755."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.fixture
def warnings_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process has not warned about its cache yet."""
    monkeypatch.setattr(store, "_warned", False)


def private_copy(source: Path, destination: Path, content: bytes | None = None) -> None:
    """Write `content` (else `source`'s bytes) to `destination` as derive writes an entry."""
    destination.write_bytes(source.read_bytes() if content is None else content)
    destination.chmod(0o600)


def test_an_entry_renamed_to_another_key_is_a_miss(cache):
    codegen.cached("a", lambda: "x = 'a'\n", names=("x",))
    codegen.cached("b", lambda: "x = 'b'\n", names=("x",))
    entry("a").replace(entry("b"))
    assert codegen.cached("b", lambda: "x = 'b'\n", names=("x",))["x"] == "b"
    assert_written_by_derive(entry("b"), b"x = 'b'\n")


def test_an_entry_in_the_format_without_its_key_is_a_miss(cache):
    cache.mkdir(mode=0o700)
    body = b"x = 'old'\n"
    header = b"# derive-cache sha256=" + hashlib.sha256(body).hexdigest().encode()
    private_copy(SEED_FILE, entry("request"), header + b"\n" + body)
    assert codegen.cached("request", lambda: "x = 'new'\n", names=("x",))["x"] == "new"


def test_a_derivation_renamed_over_another_key_gives_the_right_numbers(tmp_path, seed_values,
                                                                       tanh_entry):
    reference, seed_key = seed_values
    derivations = tmp_path / "cache" / "derivations"
    derivations.mkdir(mode=0o700, parents=True)
    planted = derivations / f"{seed_key}.pickle"
    private_copy(tanh_entry, derivations / tanh_entry.name)
    (derivations / tanh_entry.name).rename(planted)
    result = derive_values(SEED_FILE, with_cache(tmp_path / "cache"))
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout == reference
    assert planted.read_bytes().startswith(f"# derive-cache key={seed_key} ".encode())


def test_cache_folders_are_created_private_with_their_parents(tmp_path, monkeypatch, umask_022):
    root = tmp_path / "a" / "b" / "cache"
    monkeypatch.setenv(store.CACHE_VARIABLE, str(root))
    store.Store("pages", ".json.zlib").write(KEY, b"{}")
    codegen.cached("request", lambda: "x = 1\n", names=("x",))
    for folder in (root.parents[1], root.parent, root, root / "pages"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert {path.name for path in root.iterdir()} == {"pages", entry("request").name}


def world_writable_root(root: Path) -> None:
    """The cache folder, ours but writable by anyone (as a pre-created 0777 folder is)."""
    root.mkdir()
    root.chmod(0o777)


def foreign_root(root: Path) -> None:
    """The cache folder, created (0755) by another user, in a process of theirs."""
    subprocess.run(["mkdir", "-m", "755", str(root)], user=65534, check=True)


def group_writable_subfolder(root: Path) -> None:
    """A private cache folder whose derivations folder its group may write."""
    root.mkdir(mode=0o700)
    (root / "derivations").mkdir()
    (root / "derivations").chmod(0o770)


def symlinked_subfolder(root: Path) -> None:
    """A private cache folder whose derivations folder is a link to a private folder of ours."""
    root.mkdir(mode=0o700)
    (root.parent / "elsewhere").mkdir(mode=0o700)
    (root / "derivations").symlink_to(root.parent / "elsewhere")


UNSAFE = [world_writable_root, pytest.param(foreign_root, marks=AS_ROOT),
          group_writable_subfolder, symlinked_subfolder]


@pytest.mark.parametrize("unsafe", UNSAFE, ids=lambda unsafe: unsafe.__name__)
def test_an_unsafe_folder_means_no_cache_one_warning_and_the_right_numbers(
        unsafe, shared_folder, seed_values, tanh_entry):
    reference, seed_key = seed_values
    root = shared_folder / "cache"
    unsafe(root)
    derivations = root / "derivations"
    if not derivations.exists():
        derivations.mkdir(mode=0o700)
    # A private file of ours, stamped for the seed's key, holding the tanh derivation: only the
    # folder it lies in says it must not be used.
    body = tanh_entry.read_bytes().partition(b"\n")[2]
    private_copy(tanh_entry, derivations / f"{seed_key}.pickle", store.stamped(body, seed_key))
    before = snapshot(shared_folder)
    result = derive_values(SEED_FILE, with_cache(root))
    assert result.returncode == 0 and result.stdout == reference
    (warning,) = result.stderr.splitlines()
    assert warning.startswith("derive runs without its cache: ") and str(root) in warning
    assert snapshot(shared_folder) == before


def test_an_unsafe_folder_is_neither_read_nor_written(cache, caplog, warnings_again):
    pages = store.Store("pages", ".json.zlib")
    pages.write(KEY, b"body")
    assert pages.read(KEY) == b"body"
    cache.chmod(0o777)
    assert pages.read(KEY) is None
    pages.write(KEY.replace("0", "f"), b"other")
    assert sorted(path.name for path in (cache / "pages").iterdir()) == [f"{KEY}.json.zlib"]
    assert len(caplog.records) == 1 and "writable by group or others" in caplog.text


def test_a_symlinked_cache_folder_is_followed_and_its_target_checked(tmp_path, monkeypatch,
                                                                      warnings_again):
    target = tmp_path / "target"
    target.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(target)
    monkeypatch.setenv(store.CACHE_VARIABLE, str(tmp_path / "link"))
    pages = store.Store("pages", ".json.zlib")
    pages.write(KEY, b"body")
    assert (target / "pages" / f"{KEY}.json.zlib").is_file() and pages.read(KEY) == b"body"
    target.chmod(0o777)
    assert pages.read(KEY) is None


def directory(path: Path, outside: Path) -> None:
    """A folder, not empty, where the entry should be."""
    (path / "nested").mkdir(parents=True)
    (path / "nested" / "file").write_text("")


def named_pipe(path: Path, outside: Path) -> None:
    """A FIFO where the entry should be."""
    os.mkfifo(path, 0o600)


def link_out(path: Path, outside: Path) -> None:
    """A symlink to a file outside the cache where the entry should be."""
    path.symlink_to(outside)


def unix_socket(path: Path, outside: Path) -> None:
    """A listening socket's file where the entry should be (bound by its short relative name)."""
    here = Path.cwd()
    os.chdir(path.parent)
    try:
        with socket.socket(socket.AF_UNIX) as server:
            server.bind(path.name)
    finally:
        os.chdir(here)


@pytest.mark.parametrize("plant", [directory, named_pipe, link_out, unix_socket],
                         ids=lambda plant: plant.__name__)
def test_anything_but_a_file_at_an_entry_is_replaced_by_the_next_write(plant, cache, tmp_path):
    outside = tmp_path / "outside"
    outside.write_bytes(b"not the cache's")
    pages = store.Store("pages", ".json.zlib")
    pages.write(KEY, b"first")
    path = pages.path(KEY)
    path.unlink()
    plant(path, outside)
    assert pages.read(KEY) is None
    pages.write(KEY, b"body")
    assert pages.read(KEY) == b"body"
    assert_written_by_derive(path, b"body")
    assert outside.read_bytes() == b"not the cache's"


def test_a_relative_cache_folder_stays_where_it_was_first_read(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(store.CACHE_VARIABLE, f"relative-{tmp_path.name}")
    assert store.cache_dir() == tmp_path / f"relative-{tmp_path.name}"
    monkeypatch.chdir(ROOT)
    codegen.cached("request", lambda: "x = 1\n", names=("x",))
    assert_written_by_derive(tmp_path / f"relative-{tmp_path.name}" / entry("request").name,
                             b"x = 1\n")


@pytest.mark.parametrize("inside", ["docs/cache", "docs", "site/deeper/cache", "link/cache"])
def test_a_cache_inside_a_sites_folder_is_refused(inside, tmp_path, monkeypatch):
    (tmp_path / "docs").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "docs")
    monkeypatch.setenv(store.CACHE_VARIABLE, str(tmp_path / inside))
    with pytest.raises(DeriveError, match=store.CACHE_VARIABLE) as refused:
        store.require_outside([tmp_path / "docs", tmp_path / "site"])
    assert "\n" not in str(refused.value)


def test_a_relative_cache_inside_the_docs_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(store.CACHE_VARIABLE, f"docs/cache-{tmp_path.name}")
    with pytest.raises(DeriveError, match=store.CACHE_VARIABLE):
        store.require_outside([tmp_path / "docs"])


@pytest.mark.parametrize("beside", ["docs-cache", "cache"])
def test_a_cache_beside_a_sites_folders_is_accepted(beside, tmp_path, monkeypatch):
    monkeypatch.setenv(store.CACHE_VARIABLE, str(tmp_path / beside))
    assert store.require_outside([tmp_path / "docs", tmp_path / "site"]) is None


def test_without_a_home_directory_there_is_no_cache(monkeypatch, caplog, warnings_again):
    for variable in ("HOME", "XDG_CACHE_HOME", store.CACHE_VARIABLE):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(pwd, "getpwuid", lambda uid: pwd.getpwnam(f"no user {uid}"))
    assert store.cache_dir() is None
    assert codegen.cached("request", lambda: "x = 1\n", names=("x",))["x"] == 1
    assert store.Store("pages", ".json.zlib").read(KEY) is None
    assert len(caplog.records) == 1 and "no home directory" in caplog.text


def test_without_a_home_directory_values_warns_once_and_gives_the_right_numbers(seed_values):
    reference, _ = seed_values
    env = {name: value for name, value in os.environ.items()
           if name not in ("HOME", "XDG_CACHE_HOME", store.CACHE_VARIABLE)}
    result = subprocess.run([sys.executable, "-c", WITHOUT_HOME, "values", str(SEED_FILE)],
                            env={**env, "PYTHONPATH": str(ROOT)}, cwd=ROOT, capture_output=True,
                            text=True, timeout=300, check=False)
    assert result.returncode == 0 and result.stdout == reference
    (warning,) = result.stderr.splitlines()
    assert "no home directory" in warning and store.CACHE_VARIABLE in warning


@pytest.mark.parametrize("inside", ["docs/cache", "site/cache"])
def test_a_build_whose_cache_the_site_would_publish_stops_in_one_line(inside, tmp_path):
    subprocess.run([sys.executable, "-m", "derive", "new", str(tmp_path / "project")],
                   check=True, capture_output=True)
    project = tmp_path / "project"
    env = {**os.environ, store.CACHE_VARIABLE: inside}
    result = subprocess.run([sys.executable, "-m", "derive", "build"], cwd=project, env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 2
    (message,) = result.stderr.splitlines()
    assert store.CACHE_VARIABLE in message and inside in message
    assert not (project / inside).exists() and not (project / "site").exists()
