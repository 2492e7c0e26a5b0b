"""A strategy's own exception, told in one line that points into the strategy's source file.

A user strategy is code the user hands us, like a data file: when it raises, the useful
answer is where in *their* file and what the error was (``strategy my.py:12 in on_bar:
ZeroDivisionError: division by zero``), not fifty lines of engine and CLI frames. The original
exception stays attached as ``__cause__`` for ``--debug``.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from algotrade.core.errors import AlgoTradeError, InputError
from algotrade.core.strategy import Strategy

# A message longer than this is cut: it is one line on a terminal, not a data dump.
MAX_MESSAGE_CHARS = 300


class StrategyFailedError(InputError):
    """The strategy's code raised while it was being created or run.

    An ``InputError`` (exit code 2) because the strategy is input the user supplied, exactly
    like a strategy file that fails to import: the fix is in their file, not in ours.
    """


def create_checked(cls: type[Strategy], params: Mapping[str, Any]) -> Strategy:
    """``cls(params)``; an exception of the strategy's own constructor becomes one line.

    ``ConfigError`` from parameter validation (and any other project error) passes unchanged:
    it already names the parameter.
    """
    try:
        return cls(params)
    except AlgoTradeError:
        raise
    except Exception as exc:
        where = _location(exc, cls) or _shown_path(_source_file(cls) or cls.__name__)
        raise StrategyFailedError(
            f"strategy {where}: cannot be created: {_error_text(exc)}"
        ) from exc


def strategy_failure(exc: BaseException, cls: type[Strategy]) -> StrategyFailedError | None:
    """The one-line error for ``exc`` raised while ``cls`` ran, or ``None`` when no frame of
    the strategy's source file is on the traceback (then it is not the strategy's failure,
    and the caller should let the original propagate)."""
    where = _location(exc, cls)
    if where is None:
        return None
    return StrategyFailedError(f"strategy {where}: {_error_text(exc)}")


def _location(exc: BaseException, cls: type[Strategy]) -> str | None:
    """``file:line in function`` of the deepest traceback frame in ``cls``'s source file."""
    source = _source_file(cls)
    if source is None:
        return None
    wanted = _resolved(source)
    deepest: traceback.FrameSummary | None = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if _resolved(frame.filename) == wanted:
            deepest = frame
    if deepest is None:
        return None
    return f"{_shown_path(deepest.filename)}:{deepest.lineno} in {deepest.name}"


def _source_file(cls: type[Strategy]) -> str | None:
    module = sys.modules.get(cls.__module__)
    filename = getattr(module, "__file__", None)
    return filename if isinstance(filename, str) else None


def _resolved(filename: str) -> Path:
    try:
        return Path(filename).resolve()
    except (OSError, RuntimeError):  # a symlink loop: compare the text as given
        return Path(filename)


def _shown_path(filename: str) -> str:
    """The path as the user would type it: relative to the working folder when inside it."""
    path = Path(filename)
    if not path.is_absolute():
        return filename
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return filename


def _error_text(exc: BaseException) -> str:
    message = " ".join(str(exc).split())
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[: MAX_MESSAGE_CHARS - 1] + "…"
    name = type(exc).__name__
    return f"{name}: {message}" if message else name
