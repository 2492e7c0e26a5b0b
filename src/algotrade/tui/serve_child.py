"""Launcher of one browser session's TUI: ``python -m algotrade.tui.serve_child PARENT_PID ARGS``.

It asks Linux to send it SIGTERM when its parent (the ``--serve`` server) dies, then becomes
``python -m algotrade tui ARGS`` (exec: same process, so the request survives). Without it a
server killed with ``kill -9`` left every TUI process running for good: Textual's web driver
does not notice its stdin closing. Elsewhere than Linux it only execs.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # the server died before the request was in place
        sys.exit(1)


def main(argv: list[str]) -> None:
    if not argv or not argv[0].isdigit():
        sys.exit("usage: python -m algotrade.tui.serve_child PARENT_PID [tui options]")
    _die_with_parent(int(argv[0]))
    os.execv(sys.executable, [sys.executable, "-m", "algotrade", "tui", *argv[1:]])


if __name__ == "__main__":
    main(sys.argv[1:])
