"""One daemon per data directory: an exclusive ``flock`` on ``<data_dir>/daemon.lock``.

The kernel releases the lock when the process dies, even by ``kill -9``, so a stale lock file
never blocks a restart; the PID written inside is only there to name the holder.

Taking the lock is the daemon's first write to the data directory, so this is where an unusable
one (a file in its place, no permission) is reported, in one line. A data directory the daemon
creates is owner-only (0700): it holds the database, the logs and the command folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from algotrade.core.errors import AlgoTradeError, InputError

DIR_MODE = 0o700
FILE_MODE = 0o600
_WHICH = "daemon.data_dir / --data-dir"


class DataDirLocked(AlgoTradeError):
    """Another daemon holds the data directory."""


class DataDirUnusable(InputError):
    """The data directory cannot be created or written (a file in its place, no permission):
    a setting or a permission to correct, so the start is refused (exit 2)."""


class DataDirWriteFailed(AlgoTradeError):
    """The data directory's disk refused a write (full, failing): a runtime failure (exit 1),
    which a later start may get past once there is room."""


def prepare_data_dir(data_dir: Path) -> None:
    """Create ``data_dir`` (0700) if missing; ``DataDirUnusable`` when it cannot be one."""
    if data_dir.is_dir():
        if not os.access(data_dir, os.W_OK | os.X_OK):
            raise DataDirUnusable(
                f"data directory {data_dir} is not writable by this user ({_WHICH}); "
                "expected a directory the daemon can write"
            )
        return
    if data_dir.exists() or data_dir.is_symlink():
        raise DataDirUnusable(
            f"data directory {data_dir} exists and is not a directory ({_WHICH}); "
            "expected a directory or a path to create one at"
        )
    try:
        data_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    except OSError as exc:
        raise DataDirUnusable(
            f"cannot create data directory {data_dir} ({_WHICH}): {exc.strerror or exc}"
        ) from None


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / "daemon.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        prepare_data_dir(self.path.parent)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        except OSError as exc:
            raise DataDirUnusable(
                f"cannot open the lock file {self.path}: {exc.strerror or exc} ({_WHICH}); "
                "expected a directory the daemon can write"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise DataDirLocked(
                f"data directory {self.path.parent} is in use by another daemon (PID {holder})"
            ) from None
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            os.fsync(fd)
        except OSError as exc:  # a full or failing disk: the daemon could not store anything
            os.close(fd)  # and the lock with it
            raise DataDirWriteFailed(
                f"cannot write the lock file {self.path}: {exc.strerror or exc} ({_WHICH}); "
                "expected a data directory with free space the daemon can write"
            ) from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            # No PID left behind once the daemon is gone: `kill -HUP "$(cat daemon.lock)"`
            # must not signal whatever process gets that PID next.
            with contextlib.suppress(OSError):  # a full disk can still truncate; nothing to undo
                os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> DataDirLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
