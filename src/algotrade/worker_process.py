"""Worker processes that do not outlive the process that started them.

A ``ProcessPoolExecutor`` worker whose parent is killed (``kill -9`` of the daemon, of
``algotrade sweep``) was left running forever, re-parented to init, holding memory. Every pool
of this package starts its workers through ``exit_with_parent``: a daemon thread in the worker
notices that its parent is gone (its parent process id changes) and ends the worker.
"""

from __future__ import annotations

import os
import threading
import time

CHECK_SECONDS = 0.5


def exit_with_parent() -> None:
    """Pool initializer: end this process soon after its parent dies."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(CHECK_SECONDS)
            if os.getppid() != parent:
                os._exit(1)  # nobody is left to receive a result; no cleanup is owed

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
