"""How the CLI reports errors: one line on stderr, exit code 2 for bad input."""

from __future__ import annotations

import _thread
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from types import CodeType, FrameType
from typing import NoReturn, TypeVar

from algotrade.core.errors import AlgoTradeError, InputError

EXIT_BAD_INPUT = 2
EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130  # 128 + SIGINT: what a shell reports for a command ended by Ctrl-C
REDELIVER_S = 0.01  # a Ctrl-C that Python could not raise comes again this much later

T = TypeVar("T")


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    sys.stderr.write(f"error: {' '.join(message.split())}\n")
    raise SystemExit(code)


def run_guarded(func: Callable[[], T]) -> T:
    """Run a CLI entry point: known errors become one line and an exit code, never a traceback."""
    try:
        return func()
    except InputError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    except AlgoTradeError as exc:
        fail(str(exc), EXIT_FAILURE)
    except KeyboardInterrupt:
        fail("interrupted", EXIT_INTERRUPTED)


@contextmanager
def silence_logs_on_interrupt() -> Iterator[None]:
    """While inside, a Ctrl-C also stops all logging: for a command that reports its
    interruption itself (sweep, optimize), so its one line is not buried under what libraries
    log while the interruption unwinds through them (SQLAlchemy logs the cursor it cannot
    close with a traceback). Not for asyncio commands: ``asyncio.run`` handles Ctrl-C only
    under Python's own SIGINT handler. The handler, the unraisable hook and logging are as
    before on the way out (the CLI also runs in-process, under tests).

    A Ctrl-C that lands in a ``__del__`` (a Dask future's: they are dropped all through a run)
    cannot propagate: Python printed it ("Exception ignored in ...") and went on, the Ctrl-C
    lost. Inside, it is not printed but comes again a moment later (``REDELIVER_S``)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread
        return
    interrupted = False

    def stop_quietly(signum: int, frame: FrameType | None) -> None:
        nonlocal interrupted
        interrupted = True
        logging.disable(logging.CRITICAL)
        if _running(raise_again.__code__, frame):  # it would be lost there as well
            _interrupt_main_soon()
            return
        raise KeyboardInterrupt

    def raise_again(unraisable: sys.UnraisableHookArgs) -> None:
        if unraisable.exc_type is not None and issubclass(unraisable.exc_type, KeyboardInterrupt):
            _interrupt_main_soon()  # not now: it would land here, in this hook
            return
        previous_hook(unraisable)

    previous = signal.signal(signal.SIGINT, stop_quietly)
    previous_hook = sys.unraisablehook
    sys.unraisablehook = raise_again
    try:
        yield
    finally:
        sys.unraisablehook = previous_hook
        signal.signal(signal.SIGINT, previous)
        if interrupted:
            logging.disable(logging.NOTSET)


def _running(code: CodeType, frame: FrameType | None) -> bool:
    """``code`` runs in ``frame`` or one of its callers."""
    while frame is not None:
        if frame.f_code is code:
            return True
        frame = frame.f_back
    return False


def _interrupt_main_soon() -> None:
    """SIGINT to the main thread again in ``REDELIVER_S``: a signal, unlike
    ``_thread.interrupt_main``, also ends a wait the main thread is in."""
    main = threading.main_thread().ident
    if main is None or not hasattr(signal, "pthread_kill"):  # Windows
        timer = threading.Timer(REDELIVER_S, _thread.interrupt_main)
    else:
        timer = threading.Timer(REDELIVER_S, signal.pthread_kill, (main, signal.SIGINT))
    timer.daemon = True
    timer.start()


class ReportedInterruption(SystemExit):
    """Exit code 130 from a command that said itself what an interruption kept."""


def exit_interrupted(message: str) -> NoReturn:
    """A command that says itself what an interruption kept (and how to go on): ``message``
    is its one line; exit code 130 like any Ctrl-C."""
    sys.stderr.write(f"{' '.join(message.split())}\n")
    raise ReportedInterruption(EXIT_INTERRUPTED)


def parse_decimal(
    option: str, text: str, *, minimum: Decimal | None = None, below: Decimal | None = None
) -> Decimal:
    """A number given as ``option``, at least ``minimum`` and under ``below`` when given;
    ``InputError`` naming the option otherwise."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise InputError(f"{option}: expected a number, got {text!r}") from None
    if not value.is_finite():
        raise InputError(f"{option}: expected a finite number, got {text!r}")
    if minimum is not None and value < minimum:
        raise InputError(f"{option}: must be at least {minimum}, got {text!r}")
    if below is not None and value >= below:
        raise InputError(f"{option}: must be below {below}, got {text!r}")
    return value


def parse_params(pairs: list[str], option: str = "--param") -> dict[str, str]:
    """``key=value`` pairs of a repeatable option as text; ``InputError`` naming ``option``
    for a pair without ``=`` or a key given twice."""
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError(f"{option}: expected key=value, got {pair!r}")
        if key in params:
            raise InputError(f"{option}: '{key}' given twice")
        params[key] = value.strip()
    return params
