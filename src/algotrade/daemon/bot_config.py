"""A bot's configuration: what it trades, how, and with which money. Never secrets."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from algotrade.core.field_types import DecimalValue, StrictBool, StrictInt
from algotrade.core.money import MAX_DECIMALS, bounded_decimal
from algotrade.data.intervals import INTERVAL_PATTERN, interval_seconds
from algotrade.venues.registry import VenueFactory, get_venue, venue_names

BOT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
# Symbols of every venue we know: SIM-BTC, BTC, kPEPE, @107 (a spot pair id), BTC/USDT:USDT
# (ccxt), CON.F.US.EP.U25 (a futures contract id). No spaces, no control characters.
SYMBOL_PATTERN = r"^[A-Za-z0-9@][A-Za-z0-9_.:/@+-]{0,63}$"
ACCOUNT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$"
PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MAX_TEXT = 1000
_MAX_DEPTH = 4
# Parameter names that look like credentials: a bot config is stored and returned by the API,
# so it must never carry one (credentials come from the environment or secret files).
_SECRET_WORDS = ("secret", "password", "private_key", "privatekey", "api_key", "apikey", "token")
_SECRET_PATTERN = re.compile("|".join(_SECRET_WORDS))
# Plain values already found sane, by (type, value): a restore validates ten thousand configs
# whose parameters repeat (qty 1, a seed, a fee). Bounded: cleared when full.
_SANE_SCALARS: set[tuple[type, Any]] = set()
_SANE_SCALARS_MAX = 10_000


class FeedKind(StrEnum):
    """The feeds built into the daemon; any other feed names a venue of the registry
    (closed bars from its live data), see ``venues/registry.py``."""

    SIM = "sim"  # seeded synthetic prices, labelled simulated everywhere
    REPLAY = "replay"  # a CSV/Parquet file replayed at a chosen speed


class VenueKind(StrEnum):
    """The execution venue built into the daemon; any other venue names a registry venue
    (real orders: mode must be 'live')."""

    PAPER = "paper"  # simulated matching


def is_live_feed(feed: str) -> bool:
    return feed not in _BUILTIN_FEEDS


def is_live_venue(venue: str) -> bool:
    return venue not in _BUILTIN_VENUES


_BUILTIN_FEEDS = frozenset(FeedKind)
_BUILTIN_VENUES = frozenset(VenueKind)


def _registered(name: str, field: str) -> VenueFactory:
    """The registry venue a bot's ``feed`` or ``venue`` names; ``ValueError`` naming the known
    names otherwise."""
    builtin = [k.value for k in (FeedKind if field == "feed" else VenueKind)]
    try:
        factory = get_venue(name)
    except LookupError:
        factory = None
    except ImportError as exc:  # a plugin that cannot load: said, not a 500
        raise ValueError(f"{field} '{name}' cannot be loaded: {exc}") from None
    offers = factory is not None and (
        factory.provides_feed if field == "feed" else factory.provides_execution
    )
    if factory is None or not offers:
        known = ", ".join(builtin + [n for n in venue_names() if n != name])
        raise ValueError(f"unknown {field} '{name}' (known: {known})")
    return factory


class ExecutionMode(StrEnum):
    PAPER = "paper"
    LIVE = "live"


class BotConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    bot_id: str = Field(pattern=BOT_ID_PATTERN, description="unique id: letters, digits, _ . -")
    symbol: str = Field(pattern=SYMBOL_PATTERN, description="letters, digits and _ . : / @ + -")
    strategy: str = Field(
        min_length=1, max_length=_MAX_TEXT, description="built-in strategy name or a .py path"
    )
    params: dict[str, Any] = Field(default_factory=dict, description="strategy parameters")
    interval: str = Field(default="1m", description="bar interval, e.g. 1s, 1m, 5m, 1h, 1d")
    feed: str = Field(
        default=FeedKind.SIM,
        description="sim, replay, or a live venue of the registry (e.g. its candles)",
    )
    feed_options: dict[str, Any] = Field(
        default_factory=dict,
        description="sim: seed, start_price, volatility, tick_seconds; "
        "replay: path, speed (0 = as fast as possible), loop; a live venue: its own options",
    )
    venue: str = Field(
        default=VenueKind.PAPER,
        description="paper (simulated fills) or a live venue of the registry (mode 'live')",
    )
    mode: ExecutionMode = ExecutionMode.PAPER
    initial_capital: DecimalValue = Field(default=Decimal(10_000), gt=0)
    risk_per_trade_pct: DecimalValue = Field(default=Decimal(1), gt=0, le=100)
    max_position_pct: DecimalValue = Field(default=Decimal(100), gt=0, le=10_000)
    leverage: DecimalValue = Field(default=Decimal(1), gt=0, le=200)
    slippage_bps: DecimalValue = Field(default=Decimal(0), ge=0, lt=10_000)
    commission: DecimalValue = Field(default=Decimal("0.0005"), ge=0, lt=1)
    warmup_periods: StrictInt = Field(default=0, ge=0, le=100_000)
    auto_resume: StrictBool = False
    account_id: str = Field(default="paper", pattern=ACCOUNT_ID_PATTERN)

    @field_validator(
        "initial_capital",
        "risk_per_trade_pct",
        "max_position_pct",
        "leverage",
        "slippage_bps",
        "commission",
    )
    @classmethod
    def _bounded(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        # Money gets the booking quantum's 8 decimals; rates and percentages up to 12.
        decimals = 8 if info.field_name == "initial_capital" else MAX_DECIMALS
        return bounded_decimal(value, str(info.field_name), max_decimals=decimals)

    @field_validator("strategy")
    @classmethod
    def _printable(cls, value: str) -> str:
        if _CONTROL.search(value):
            raise ValueError("must not contain control characters")
        return value

    @field_validator("params", "feed_options")
    @classmethod
    def _plain_values(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        _check_mapping(value, str(info.field_name), 1)
        return value

    @field_validator("feed")
    @classmethod
    def _known_feed(cls, value: str) -> str:
        if value in _BUILTIN_FEEDS:
            return FeedKind(value)
        _registered(value, "feed")
        return value

    @field_validator("venue")
    @classmethod
    def _known_venue(cls, value: str) -> str:
        if value in _BUILTIN_VENUES:
            return VenueKind(value)
        _registered(value, "venue")
        return value

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: str) -> str:
        if not INTERVAL_PATTERN.fullmatch(value):
            raise ValueError("expected a number and a unit s, m, h or d (e.g. 1m, 5m, 1h)")
        return value

    @field_validator("params", "feed_options")
    @classmethod
    def _no_secrets(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if _SECRET_PATTERN.search(key.lower()):
                raise ValueError(
                    f"'{key}' looks like a credential; secrets come from the environment or a "
                    "secrets file, never from a bot config"
                )
        return value

    @model_validator(mode="after")
    def _mode_matches_venue(self) -> BotConfig:
        if self.mode is ExecutionMode.LIVE and not is_live_venue(self.venue):
            raise ValueError("mode 'live' needs a live venue; the paper venue is simulated")
        if is_live_venue(self.venue):
            if self.mode is not ExecutionMode.LIVE:
                # Real orders only when asked for in so many words.
                raise ValueError(f"venue '{self.venue}' sends real orders: set mode 'live'")
            get_venue(self.venue).validate_execution(self)
        return self

    @property
    def interval_seconds(self) -> int:
        return interval_seconds(self.interval)

    def with_changes(self, changes: dict[str, Any]) -> BotConfig:
        """A validated copy with ``changes`` applied; ``bot_id`` cannot change."""
        if "bot_id" in changes and changes["bot_id"] != self.bot_id:
            raise ValueError("bot_id cannot be changed")
        return BotConfig.model_validate({**self.model_dump(), **changes})


def _check_mapping(mapping: dict[str, Any], where: str, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise ValueError(f"{where}: nested deeper than {_MAX_DEPTH} levels")
    for key, item in mapping.items():
        if not isinstance(key, str) or not PARAM_NAME.fullmatch(key):
            raise ValueError(
                f"{where}: key {str(key)[:40]!r} must be a name (letters, digits, _; "
                "at most 64 characters)"
            )
        _check_value(item, f"{where}.{key}", depth)


def _check_value(item: Any, where: str, depth: int) -> None:
    """Plain JSON values of sane size: a number is finite with a bounded magnitude and
    precision (also when written as a string), a string is short and printable."""
    if item is None or isinstance(item, bool):
        return
    # Exact types only (no Decimal: a signalling NaN cannot even be hashed); short texts only.
    kind = type(item)
    scalar = kind is int or kind is float or (kind is str and len(item) <= 100)
    if scalar and (kind, item) in _SANE_SCALARS:
        return
    _check_fresh_value(item, where, depth)
    if scalar:
        if len(_SANE_SCALARS) >= _SANE_SCALARS_MAX:
            _SANE_SCALARS.clear()
        _SANE_SCALARS.add((kind, item))


def _check_fresh_value(item: Any, where: str, depth: int) -> None:
    if isinstance(item, int | float | Decimal):
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError(f"{where}: expected a finite number, got {item}")
        bounded_decimal(Decimal(str(item)), where)
    elif isinstance(item, str):
        if len(item) > _MAX_TEXT:
            raise ValueError(f"{where}: text longer than {_MAX_TEXT} characters")
        if _CONTROL.search(item):
            raise ValueError(f"{where}: must not contain control characters")
        number = _as_number(item)
        if number is not None:
            bounded_decimal(number, where)
    elif isinstance(item, list):
        if len(item) > _MAX_TEXT:
            raise ValueError(f"{where}: more than {_MAX_TEXT} items")
        for index, element in enumerate(item):
            _check_value(element, f"{where}[{index}]", depth + 1)
    elif isinstance(item, dict):
        _check_mapping(item, where, depth + 1)
    else:
        raise ValueError(f"{where}: expected a JSON value, got {type(item).__name__}")


def _as_number(text: str) -> Decimal | None:
    try:
        return Decimal(text.strip())
    except ArithmeticError:
        return None
