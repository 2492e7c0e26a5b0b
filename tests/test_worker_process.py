"""A pool worker ends when the process that started it is killed (it used to run on, orphaned)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from algotrade.worker_process import starting_workers_without_sigint

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


# A fresh interpreter (multiprocessing's resource tracker not started yet, as in a CLI run) makes
# a spawn pool and starts its worker inside ``starting_workers_without_sigint``, then prints the
# worker's SIGINT state: blocked from its start, ignored and unblocked once ``ignore_sigint`` ran.
STARTER = """
import signal, sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from algotrade.worker_process import ignore_sigint, starting_workers_without_sigint

def sigint_in(status, key):
    (mask,) = [line.split()[1] for line in status.splitlines() if line.startswith(key)]
    return bool(int(mask, 16) & (1 << (signal.SIGINT - 1)))

if __name__ == "__main__":
    initializer = ignore_sigint if sys.argv[1] == "initialized" else None
    with starting_workers_without_sigint():  # the pool's first queue starts the tracker
        pool = ProcessPoolExecutor(1, mp_context=get_context("spawn"), initializer=initializer)
        future = pool.submit(Path("/proc/self/status").read_text)
    status = future.result()
    pool.shutdown()
    print(sigint_in(status, "SigBlk:"), sigint_in(status, "SigIgn:"))
    print(sigint_in(Path("/proc/self/status").read_text(), "SigBlk:"))  # the parent's, after
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize(
    ("mode", "worker"), [("bare", "True False"), ("initialized", "False True")]
)
def test_workers_start_with_sigint_blocked_and_then_ignore_it(mode: str, worker: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", STARTER, mode],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == [worker, "False"]


def _ctrl_c_inside(steps: list[str]) -> None:
    with starting_workers_without_sigint():
        # To this thread, which blocks it: pending until the block ends, wherever it runs.
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
        steps.append("block ran to its end")
    steps.append("after the block")


def test_a_ctrl_c_while_workers_start_is_raised_once_they_have_started() -> None:
    steps: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        _ctrl_c_inside(steps)
    assert steps == ["block ran to its end"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])
