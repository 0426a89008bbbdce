"""A killed build leaves no process behind: its pool's workers and multiprocessing's resource
tracker end with it."""

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKERS_WAIT = 90
"""Seconds a cold build may take to start its workers on a busy machine."""
END_WAIT = 10
"""Seconds within which every process of a killed build must be gone."""


def stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat after the command name (state, parent, ...), or None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        fields = stat_fields(int(entry.name)) if entry.name.isdigit() else None
        if fields and int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def descendants(pid: int) -> dict[int, str]:
    """Every process below `pid`, by id, with its start time (which tells a reused id)."""
    found: dict[int, str] = {}
    pending = children(pid)
    while pending:
        child = pending.pop()
        fields = stat_fields(child)
        if fields:
            found[child] = fields[19]
            pending += children(child)
    return found


def alive(pid: int, start: str) -> bool:
    """Whether the process `pid` started at `start` still runs (a zombie has ended)."""
    fields = stat_fields(pid)
    return fields is not None and fields[19] == start and fields[0] != "Z"


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def wait_until(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux's /proc")
@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one core: no pool of workers")
@pytest.mark.parametrize("seconds", [0, 2], ids=["as-workers-start", "while-they-compute"])
def test_killing_a_cold_build_ends_every_process_it_started(tmp_path, seconds):
    examples = [tmp_path / f"example-{number}.toml" for number in range(4)]
    for example in examples:
        shutil.copyfile(ROOT / "examples" / "seed.toml", example)
    build = subprocess.Popen(
        [sys.executable, "-m", "derive", "build", *map(str, examples),
         "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, env={**os.environ, "DERIVE_CACHE_DIR": str(tmp_path / "cache")},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    family: dict[int, str] = {}
    try:
        def workers_started() -> bool:
            family.update(descendants(build.pid))
            return sum("spawn_main" in command_line(pid) for pid in family) >= 2

        assert wait_until(workers_started, WORKERS_WAIT), "the build started no workers"
        time.sleep(seconds)
        family.update(descendants(build.pid))
        build.send_signal(signal.SIGKILL)
        build.wait()
        wait_until(lambda: not any(alive(*process) for process in family.items()), END_WAIT)
        survivors = [command_line(pid) for pid, start in family.items() if alive(pid, start)]
        assert survivors == []
    finally:
        build.kill()
        build.wait()
        for pid, start in family.items():
            if alive(pid, start):
                os.kill(pid, signal.SIGKILL)
