"""Options shared by the commands that read or write the bar catalog (``algotrade data …``,
``backtest --symbols``, ``sweep``, ``optimize``, ``screen``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from algotrade.core.errors import InputError
from algotrade.core.timeutil import iso_to_ns

DataDirOption = Annotated[
    Path,
    typer.Option(
        "--data-dir",
        envvar="ALGOTRADE__DAEMON__DATA_DIR",
        help="data directory whose catalog/ holds the bars (default ./data, like the daemon)",
    ),
]
DEFAULT_DATA_DIR = Path("./data")


def parse_time_ns(option: str, text: str | None) -> int | None:
    """Epoch ns from a date or an ISO-8601 time (no offset means UTC); None stays None."""
    if text is None:
        return None
    try:
        return iso_to_ns(text)
    except ValueError:
        raise InputError(
            f"{option}: expected a date or ISO-8601 time such as 2024-01-01 or "
            f"2024-01-01T12:00:00Z, got {text!r}"
        ) from None


def parse_range(start: str | None, end: str | None) -> tuple[int | None, int | None]:
    """``--start``/``--end`` as ns; ``InputError`` when the range is empty."""
    start_ns, end_ns = parse_time_ns("--start", start), parse_time_ns("--end", end)
    if start_ns is not None and end_ns is not None and end_ns <= start_ns:
        raise InputError(f"--end: {end} is not after --start {start}")
    return start_ns, end_ns


def parse_symbol_list(text: str, *, field: str = "--symbols") -> list[str] | None:
    """``all`` → None (every symbol); ``A,B`` → ``["A", "B"]`` (repeats dropped)."""
    if text.strip().lower() == "all":
        return None
    symbols: list[str] = []
    for part in text.split(","):
        symbol = part.strip()
        if not symbol:
            raise InputError(f"{field}: {text!r} has an empty symbol; expected all or A,B,…")
        if symbol not in symbols:
            symbols.append(symbol)
    return symbols


def reject_reference_options(options: Sequence[tuple[str, object]]) -> None:
    """With ``--data`` files: ``InputError`` naming the first of ``options`` (name, value)
    that was given, as they only say which stored bars to read (``--symbols``)."""
    given = [name for name, value in options if value is not None]
    if given:
        raise InputError(f"{given[0]}: only with --symbols (a --data file has its own bars)")
