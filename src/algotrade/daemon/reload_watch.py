"""``[reload] watch = true``: reload when a file the settings come from changes.

Polled, not inotify: it works the same on every platform, in containers and on network file
systems. Each interval every watched file is stat'ed and hashed (settings, keys and risk files
are small; the hash catches a rewrite that a coarse mtime would hide). A file counts as changed
when its mtime, size or SHA-256 differs (or it appears or vanishes);
the reload starts once all files have stayed unchanged for ``debounce_s`` (editors and
``cp`` write in several steps; a half-written file would only be rejected, but the complete one
would then wait for the next change).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

_log = logging.getLogger("algotrade.daemon.reload")

Signature = tuple[int, int, bytes] | None  # (mtime_ns, size, sha256); None = missing


def signature(path: Path) -> Signature:
    try:
        stat = path.stat()
        digest = hashlib.sha256(path.read_bytes()).digest()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size, digest


def signatures(paths: list[Path]) -> dict[Path, Signature]:
    return {path: signature(path) for path in paths}


class FileWatch:
    """Calls ``on_change(path)`` when one of ``paths()`` changed and then stayed still."""

    def __init__(
        self,
        paths: Callable[[], list[Path]],
        on_change: Callable[[Path], Awaitable[object]],
        *,
        interval_s: float,
        debounce_s: float,
    ) -> None:
        self._paths = paths
        self._on_change = on_change
        self.interval_s = interval_s
        self.debounce_s = debounce_s

    async def run(self) -> None:
        seen = await asyncio.to_thread(signatures, self._paths())
        while True:
            await asyncio.sleep(self.interval_s)
            paths = self._paths()
            now = await asyncio.to_thread(signatures, paths)
            changed = [path for path in paths if now[path] != seen.get(path)]
            if not changed:
                seen = now
                continue
            now = await self._settle(paths, now)
            _log.info("reload: %s changed", ", ".join(str(path) for path in changed))
            try:
                await self._on_change(changed[0])
            except Exception:  # the watch outlives one failed reload
                _log.exception("reload after a file change failed")
            # What the reload read is the baseline: a change during it triggers the next one.
            seen = now

    async def _settle(
        self, paths: list[Path], last: dict[Path, Signature]
    ) -> dict[Path, Signature]:
        still_since = time.monotonic()
        step = max(0.05, min(self.interval_s, self.debounce_s / 4 or 0.05))
        while time.monotonic() - still_since < self.debounce_s:
            await asyncio.sleep(step)
            now = await asyncio.to_thread(signatures, paths)
            if now != last:
                last, still_since = now, time.monotonic()
        return last
