"""How the TUI shows the daemon's values: money, ages, states, positions.

Values arrive as the API sends them (money as exact decimal text, times as ISO-8601 UTC). They
are only displayed here, never computed with: rounding is for the eye, the API keeps the exact
value. Anything malformed is shown as it came (or as a dash), never raised: a display must not
crash on a value it did not expect.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

DASH = "–"
MONEY_PLACES = 2
_QUANTUM = Decimal(1).scaleb(-MONEY_PLACES)

STATE_STYLES: Mapping[str, str] = {
    "running": "bold green",
    "paused": "bold yellow",
    "stopped": "dim",
    "error": "bold red",
}
LEVEL_STYLES: Mapping[str, str] = {"info": "", "warning": "yellow", "error": "bold red"}
SIDE_STYLES: Mapping[str, str] = {"buy": "green", "sell": "red"}


def decimal_or_none(text: object) -> Decimal | None:
    if text is None or isinstance(text, bool):
        return None
    try:
        value = Decimal(str(text))
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def number(text: object) -> float | None:
    """A float for sorting and charts (never for money arithmetic)."""
    if text is None or isinstance(text, bool):
        return None
    try:
        value = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def money(text: object, *, signed: bool = False) -> str:
    """``"12345.678"`` → ``"12,345.68"`` (``"+12,345.68"`` when ``signed``); not a number →
    the text as it came (a dash for None)."""
    value = decimal_or_none(text)
    if value is None:
        return DASH if text is None else str(text)
    if abs(value) >= Decimal("1e18"):
        return f"{value:.3e}"
    rounded = value.quantize(_QUANTUM, rounding=ROUND_HALF_UP)
    return f"{rounded:+,}" if signed else f"{rounded:,}"


def pnl_style(text: object) -> str:
    value = decimal_or_none(text)
    if value is None or value == 0:
        return ""
    return "green" if value > 0 else "red"


def parse_iso(text: object) -> float | None:
    """Seconds since the epoch of an ISO-8601 time, or None."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def age(text: object, now: float) -> str:
    """How long ago ``text`` (ISO-8601) was: ``"4s"``, ``"12m"``, ``"3h"``, ``"2d"``."""
    moment = parse_iso(text)
    if moment is None:
        return DASH
    seconds = max(now - moment, 0.0)
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m"
    if seconds < 86400:
        return f"{seconds // 3600:.0f}h"
    return f"{seconds // 86400:.0f}d"


def clock(text: object) -> str:
    """``"2024-05-01T12:34:56.789Z"`` → ``"05-01 12:34:56"`` (UTC, as sent)."""
    if not isinstance(text, str) or len(text) < 19:
        return DASH if not text else str(text)
    return f"{text[5:10]} {text[11:19]}"


def position_text(status: Mapping[str, Any]) -> str:
    """The bot's signed position in its symbol (others appended), ``"flat"`` when none."""
    position = status.get("position")
    if not isinstance(position, Mapping) or not position:
        return "flat"
    parts = [
        f"{qty}" if symbol == status.get("symbol") else f"{symbol} {qty}"
        for symbol, qty in position.items()
        if decimal_or_none(qty) != 0
    ]
    return " ".join(parts) if parts else "flat"


def mode_label(status: Mapping[str, Any]) -> str:
    return "SIM" if status.get("simulated", True) else "LIVE"


def one_line(text: object, limit: int = 200) -> str:
    """Free text from the daemon on one line (a log message may hold newlines)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
