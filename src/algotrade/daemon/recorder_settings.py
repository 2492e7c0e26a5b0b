"""The ``[recording]`` settings section: what the daemon records into the catalog, and how often.

Every closed bar a live venue feed delivers (to a bot, or to a watched symbol with no bot) is
buffered and written to the catalog under ``<data_dir>/catalog`` every ``flush_seconds``.
``watch`` names symbols recorded even when no bot trades them, per registry venue:

    [recording]
    flush_seconds = 2
    intervals = ["1m", "1h"]
    watch = { somevenue = ["BTC", "ETH"] }
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from algotrade.core.errors import ConfigError

__all__ = ["RecordingSection", "WatchSpec", "check_watch_venues"]

_INTERVAL = re.compile(r"^([1-9]\d{0,5})(s|m|h|d)$")


class RecordingSection(BaseModel):
    # A typo in a setting must fail loudly, not silently fall back to a default.
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="record live bars into the catalog")
    flush_seconds: float = Field(
        default=2.0, ge=0.1, le=60, description="buffered bars reach the catalog this often"
    )
    compact_interval_s: float = Field(
        default=900.0, ge=10, le=7 * 86_400, description="merge appended files this often"
    )
    max_buffered_rows: int = Field(
        default=1_000_000,
        ge=1_000,
        le=100_000_000,
        description="bars held while writes fail; past it new bars are dropped (logged)",
    )
    intervals: list[str] = Field(
        default_factory=lambda: ["1m"], description="bar intervals recorded for watched symbols"
    )
    watch: dict[str, list[str]] = Field(
        default_factory=dict, description="venue name → symbols recorded without any bot"
    )

    @field_validator("intervals")
    @classmethod
    def _intervals(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError('expected at least one interval, e.g. ["1m"]')
        for interval in value:
            if not _INTERVAL.fullmatch(interval):
                raise ValueError(
                    f"interval {interval!r}: expected a number and s, m, h or d, e.g. 1m, 1h"
                )
        if len(set(value)) != len(value):
            raise ValueError("an interval is listed twice")
        return value

    @field_validator("watch")
    @classmethod
    def _watch(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        cleaned: dict[str, list[str]] = {}
        for venue, symbols in value.items():
            name = venue.strip().lower()
            if not name:
                raise ValueError("a venue name is empty")
            for symbol in symbols:
                if not symbol or symbol != symbol.strip() or not symbol.isprintable():
                    raise ValueError(
                        f"{venue}: symbol {symbol!r}: expected a printable name without "
                        "surrounding spaces"
                    )
            if len(set(symbols)) != len(symbols):
                raise ValueError(f"{venue}: a symbol is listed twice")
            cleaned[name] = list(symbols)
        return cleaned

    def watch_specs(self) -> list[WatchSpec]:
        """One spec per watched (venue, symbol, interval), in the order configured."""
        return [
            WatchSpec(venue, symbol, interval)
            for venue, symbols in self.watch.items()
            for symbol in symbols
            for interval in self.intervals
        ]


class WatchSpec:
    """A watched series seen as a bot spec (``venues.registry.BotSpec``): what a venue's
    ``bot_feed`` reads to deliver the closed bars of ``interval`` for ``symbol``. It trades
    nowhere: its execution venue is the simulated one and it has no account."""

    __slots__ = ("_interval", "_symbol", "_venue")

    def __init__(self, venue: str, symbol: str, interval: str) -> None:
        self._venue = venue
        self._symbol = symbol
        self._interval = interval

    @property
    def bot_id(self) -> str:
        # The feed's subscription key at the venue connection: never a bot id (those have no
        # colon), so a watch and a bot on the same series are two listeners of one stream.
        return f"recording:{self._venue}:{self._symbol}:{self._interval}"

    @property
    def symbol(self) -> str:
        return self._symbol

    @property
    def interval(self) -> str:
        return self._interval

    @property
    def feed(self) -> str:
        return self._venue

    @property
    def venue(self) -> str:
        return "paper"

    @property
    def feed_options(self) -> dict[str, Any]:
        return {}

    @property
    def leverage(self) -> Decimal:
        return Decimal(1)

    @property
    def account_id(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"WatchSpec({self._venue}:{self._symbol}:{self._interval})"


def check_watch_venues(section: RecordingSection, source: str) -> None:
    """Each watched venue is registered, has a live feed, and serves every recorded interval
    (``ConfigError`` naming ``recording.watch.<venue>``), before anything starts."""
    from algotrade.venues.registry import get_venue, venue_names  # noqa: PLC0415

    for name in section.watch:
        where = f"{source}: recording.watch.{name}"
        try:
            factory = get_venue(name)
        except LookupError:
            known = ", ".join(venue_names()) or "none"
            raise ConfigError(f"{where}: unknown venue (known: {known})") from None
        if not factory.provides_feed:
            raise ConfigError(f"{where}: the venue has no live bar feed")
        for spec in (s for s in section.watch_specs() if s.feed == name):
            try:
                factory.validate_feed(spec)
            except ValueError as exc:
                raise ConfigError(f"{where}: {' '.join(str(exc).split())}") from None
