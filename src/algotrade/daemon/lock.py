"""One daemon per data directory: an exclusive ``flock`` on ``<data_dir>/daemon.lock``.

The kernel releases the lock when the process dies, even by ``kill -9``, so a stale lock file
never blocks a restart; the PID written inside is only there to name the holder.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from algotrade.core.errors import AlgoTradeError


class DataDirLocked(AlgoTradeError):
    """Another daemon holds the data directory."""


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / "daemon.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise DataDirLocked(
                f"data directory {self.path.parent} is in use by another daemon (PID {holder})"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> DataDirLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
