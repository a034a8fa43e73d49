"""Process-pool workers never outlive the command that started them (SIGKILL of the parent)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

POOL_SCRIPT = textwrap.dedent("""
    import os, sys, time
    from concurrent.futures import ProcessPoolExecutor
    from energysim.workers import init_worker

    def pid_after(seconds):
        time.sleep(seconds)
        return os.getpid()

    with ProcessPoolExecutor(max_workers=2, initializer=init_worker, initargs=(os.getpid(),)) as pool:
        pids = {future.result() for future in [pool.submit(pid_after, 0.5) for _ in range(2)]}
        print(" ".join(map(str, sorted(pids))), flush=True)
        [pool.submit(time.sleep, 120) for _ in range(2)]
        time.sleep(120)
""")


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _wait_gone(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if _alive(p)]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to list processes")
def test_pool_workers_exit_when_their_parent_is_killed():
    """Two busy workers (sleeping 120 s) of a pool whose owner gets SIGKILL are gone within 5 s."""
    owner = subprocess.Popen([sys.executable, "-c", POOL_SCRIPT], stdout=subprocess.PIPE, text=True)
    try:
        workers = [int(p) for p in owner.stdout.readline().split()]
        assert len(workers) == 2 and all(_alive(p) for p in workers)
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait(timeout=10)
        assert _wait_gone(workers, 5.0) == [], "workers survived their parent"
    finally:
        if owner.poll() is None:
            owner.kill()


def _compare(out: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "energysim", "compare", "--model", "mlp", "--patterns", "fine,channel",
               "--sparsities", "0.5,0.75,0.9", "--criteria", "magnitude,l1", "--hw", "lecture-array",
               "--finetune-epochs", "1", "--jobs", "2", "--quiet", "--out", str(out)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to list processes")
def test_killed_sweep_leaves_no_worker_and_resumes_byte_identical(tmp_path):
    """compare --jobs 2 killed with SIGKILL mid-sweep: no worker survives, and the resumed table equals a clean run's bytes."""
    killed = tmp_path / "killed"
    sweep = _compare(killed)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(_children(sweep.pid)) < 2 and sweep.poll() is None:
        time.sleep(0.2)
    workers = _children(sweep.pid)
    assert sweep.poll() is None and len(workers) >= 2, "the sweep ended before its workers could be seen"
    time.sleep(1.0)
    os.kill(sweep.pid, signal.SIGKILL)
    sweep.wait(timeout=10)
    assert _wait_gone(workers, 5.0) == [], "sweep workers survived their parent"

    resumed = _compare(killed)
    assert resumed.wait(timeout=600) == 0, resumed.stderr.read()
    clean = _compare(tmp_path / "clean")
    assert clean.wait(timeout=600) == 0, clean.stderr.read()
    assert (killed / "compare.csv").read_bytes() == (tmp_path / "clean" / "compare.csv").read_bytes()
    assert len(pd.read_csv(killed / "compare.csv")) > 0
