"""The ``algotrade`` program (console script and ``python -m algotrade``).

Ctrl-C at any moment ends it with one line and exit code 130: the commands that run long say
what was kept and how to go on (``errors.exit_interrupted``); anywhere else, while modules still
load included, the line is ``error: interrupted``, never a traceback. (Only the first
milliseconds of the interpreter's own start-up, before this module runs, are out of reach.)
"""

from __future__ import annotations

import sys
from typing import NoReturn

EXIT_INTERRUPTED = 130  # as errors.EXIT_INTERRUPTED, which may not be loaded yet


def main() -> None:
    # SIGINT keeps Python's own handler: asyncio.run (bots watch, the TUI, ...) turns a Ctrl-C
    # into a graceful cancel only while that exact handler is installed.
    try:
        from algotrade.cli.main import main as run_cli  # noqa: PLC0415

        run_cli()
    except SystemExit as exc:
        if exc.code == EXIT_INTERRUPTED and not _reported(exc):
            _exit_interrupted()
        raise
    except BaseException as exc:
        if not _from_ctrl_c(exc):
            raise
        sys.stderr.write("error: interrupted\n")
        _exit_interrupted()


def _from_ctrl_c(exc: BaseException) -> bool:
    """``exc`` is the KeyboardInterrupt or wraps it: Python 3.11 turns one raised while a class
    is created (``__set_name__``) into a RuntimeError caused by it, which happens while
    modules load."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _reported(exc: SystemExit) -> bool:
    """The command said itself what the interruption kept, while it ran its work (past the
    imports): a normal exit, whose clean-up (multiprocessing's, ...) runs."""
    errors = sys.modules.get("algotrade.cli.errors")
    return errors is not None and isinstance(exc, errors.ReportedInterruption)


def _exit_interrupted() -> NoReturn:
    """Exit with 130 now, for a Ctrl-C that came while modules were still loading (the CLI's,
    a command's). A normal exit is not enough there: when the KeyboardInterrupt surfaced in code
    run through CPython's ``PyRun_*`` API (as compiled extensions may do while they are
    imported; seen while pydantic loads), CPython remembers it as unhandled although we handled
    it, and at the very end kills itself with SIGINT instead of returning our code. What the
    command opened is closed by now (its ``with`` blocks ran while the exit propagated): only
    log handlers and the standard streams need flushing."""
    import os  # noqa: PLC0415

    logging = sys.modules.get("logging")
    if logging is not None:
        logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed or broken: nothing left to say on it
            continue
    os._exit(EXIT_INTERRUPTED)
