"""An exclusive lock per series directory, across processes (the daemon's recorder and a
``data download`` may write the same series) and threads."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from algotrade.data.catalog.layout import LOCK_FILE

# flock locks belong to the open file description, so two threads of one process opening the
# file separately would exclude each other too — but a process-wide mutex per path keeps the
# order fair and the kernel lock count at one per process.
_thread_locks: dict[Path, threading.Lock] = {}
_guard = threading.Lock()


def _thread_lock(path: Path) -> threading.Lock:
    with _guard:
        return _thread_locks.setdefault(path, threading.Lock())


@contextmanager
def series_lock(series: Path) -> Iterator[None]:
    """Hold the series' lock (blocking) while the body runs."""
    path = (series / LOCK_FILE).resolve()
    with _thread_lock(path):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _lock(fd)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_LOCK, 1)

else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)
