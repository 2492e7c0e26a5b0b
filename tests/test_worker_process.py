"""A pool worker ends when the process that started it is killed (it used to run on, orphaned)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

PARENT = """
import os, sys, time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from algotrade.worker_process import exit_with_parent

if __name__ == "__main__":
    initializer = exit_with_parent if sys.argv[1] == "guarded" else None
    pool = ProcessPoolExecutor(1, mp_context=get_context("spawn"), initializer=initializer)
    print(pool.submit(os.getpid).result(), flush=True)
    time.sleep(600)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is dead for this purpose
        return stat.read().split()[2] != "Z"


def worker_after_parent_killed(mode: str, wait_s: float) -> bool:
    """Start a parent with one pool worker, SIGKILL the parent; is the worker still alive
    ``wait_s`` later? (Kills the worker afterwards either way.)"""
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, mode], stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    worker = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + wait_s
    while alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    survived = alive(worker)
    if survived:
        os.kill(worker, signal.SIGKILL)
    return survived


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_guarded_worker_ends_with_its_killed_parent() -> None:
    assert not worker_after_parent_killed("guarded", wait_s=10)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_an_unguarded_worker_outlives_its_killed_parent() -> None:
    # The control: without the initializer the worker stays (what the daemon's pools did).
    assert worker_after_parent_killed("plain", wait_s=2)
