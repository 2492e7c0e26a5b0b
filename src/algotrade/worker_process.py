"""Worker processes that do not outlive the process that started them, and that leave Ctrl-C
to it.

A ``ProcessPoolExecutor`` worker whose parent is killed (``kill -9`` of the daemon, of
``algotrade sweep``) was left running forever, re-parented to init, holding memory. Every pool
of this package starts its workers through ``exit_with_parent``: a daemon thread in the worker
notices that its parent is gone (its parent process id changes) and ends the worker.

Ctrl-C sends SIGINT to every process of the terminal's foreground group, pool workers
included. The parent alone acts on it (it keeps what finished and stops the pool: terminate,
then kill); a worker must not, not even while it is still starting. A worker that ignores SIGINT
only from its pool initializer is too late: Python installs its KeyboardInterrupt handler at
start-up, and a spawned worker spends the first second importing, so a Ctrl-C then printed a
traceback from the worker and could break the pool. Ignoring SIGINT in the parent while it
starts workers (they would inherit the ignored disposition) is no cure either: a Ctrl-C in that
moment is lost for the parent too. What works (the way ``multiprocessing``'s own resource
tracker is started):

- ``starting_workers_without_sigint`` wraps the code that may start workers (a spawn pool's
  ``submit``). It *blocks* SIGINT in the calling thread: the signal mask, unlike a handler, is
  inherited through fork and exec, so each worker starts with SIGINT blocked from its first
  instruction, and a Ctrl-C meanwhile stays pending in the worker. The parent loses nothing:
  a SIGINT is delivered to one of its other threads or, once the mask is restored, to this
  one. In the main thread, a Ctrl-C in that moment is also held back until the pool's
  bookkeeping is done (a KeyboardInterrupt between "worker started" and "worker recorded" would
  leave a worker the pool cannot stop), then raised.
- ``ignore_sigint`` is the first step of a worker's initializer: it ignores SIGINT, which
  discards a pending one, and unblocks it.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import resource_tracker
from types import FrameType

CHECK_SECONDS = 0.5
STOP_GRACE_S = 2.0  # a stopped pool's workers get this long to end on SIGTERM, then SIGKILL
# Windows has no signal masks (nor process groups for Ctrl-C to reach): there, both are no-ops.
_HAVE_SIGMASK = hasattr(signal, "pthread_sigmask")


def exit_with_parent() -> None:
    """Pool initializer: end this process soon after its parent dies."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(CHECK_SECONDS)
            if os.getppid() != parent:
                os._exit(1)  # nobody is left to receive a result; no cleanup is owed

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def ignore_sigint() -> None:
    """First step of a pool initializer (see the module docstring)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # also discards a Ctrl-C held while blocked
    if _HAVE_SIGMASK:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


@contextmanager
def ctrl_c_held() -> Iterator[None]:
    """A Ctrl-C received inside is raised as KeyboardInterrupt when the block ends, not in the
    middle of it: for code that must not be cut half-way (a pool's bookkeeping, a cluster's
    start or close). Only in the main thread, under a Python handler (elsewhere: no effect)."""
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        yield
        return
    held: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        held.append(signum)

    signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if held:
            # Also when the block failed: the user's Ctrl-C is not lost to that error.
            previous(signal.SIGINT, None)  # the handler that was held back (it raises)


@contextmanager
def starting_workers_without_sigint() -> Iterator[None]:
    """Around code that may start pool workers (see the module docstring). A Ctrl-C received
    inside is raised as KeyboardInterrupt when the block ends."""
    if not _HAVE_SIGMASK:
        yield
        return
    with ctrl_c_held():
        # Starting the tracker unblocks SIGINT in this thread afterwards (it blocks it for its
        # own start): have it running before the mask is set, so the spawn below cannot start it.
        resource_tracker.ensure_running()
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            yield
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a pending SIGINT: `hold` has it


def start_worker_quietly() -> None:
    """Pool initializer of a worker that needs nothing else: Ctrl-C is its parent's, and it
    ends with its parent."""
    ignore_sigint()
    exit_with_parent()


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """Stop ``pool`` now, for a run left early (Ctrl-C, an error): queued work is cancelled and
    running workers are terminated, killed after ``STOP_GRACE_S`` if SIGTERM cannot end them,
    and reaped, so none is left running (their results would be discarded anyway)."""
    # ProcessPoolExecutor (before 3.14) has no terminate: its process table is the only way.
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    deadline = time.monotonic() + STOP_GRACE_S
    for process in processes:
        process.join(timeout=max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.is_alive():  # stuck where SIGTERM cannot end it
            process.kill()
            process.join()
