"""Writing a file whole or not at all: readers see the old content or the new, never half.

The temporary file is a dotfile in the target's directory (same filesystem, so the rename is
atomic; dotfiles are ignored by the file command channel's scanner) and is synced before it
replaces the target.
"""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: Path, data: str | bytes) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8); the parent must exist."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        with open(tmp, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
