"""Writing a file whole or not at all: readers see the old content or the new, never half.

The temporary file is a dotfile in the target's directory (same filesystem, so the rename is
atomic; dotfiles are ignored by the file command channel's scanner) and is synced before it
replaces the target.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def _replacing(path: Path, open_file: Callable[[Path], IO[Any]]) -> Iterator[IO[Any]]:
    """A temporary file (opened by ``open_file``) that replaces ``path`` when the block
    completes (synced first), or is removed if it fails; the parent must exist."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open_file(tmp) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_text_file(path: Path) -> AbstractContextManager[IO[str]]:
    """A UTF-8 text file, written in pieces, that replaces ``path`` only when the block
    completes."""
    return _replacing(path, lambda tmp: open(tmp, "w", encoding="utf-8", newline=""))


def write_atomic(path: Path, data: str | bytes) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8); the parent must exist."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with _replacing(path, lambda tmp: open(tmp, "wb")) as handle:
        handle.write(payload)
