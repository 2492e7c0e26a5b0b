"""A bot's configuration: what it trades, how, and with which money. Never secrets."""

from __future__ import annotations

import re
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

BOT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
INTERVAL_PATTERN = re.compile(r"^(\d+)(s|m|h|d)$")
_INTERVAL_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# Parameter names that look like credentials: a bot config is stored and returned by the API,
# so it must never carry one (credentials come from the environment or secret files).
_SECRET_WORDS = ("secret", "password", "private_key", "privatekey", "api_key", "apikey", "token")


class FeedKind(StrEnum):
    SIM = "sim"  # seeded synthetic prices, labelled simulated everywhere
    REPLAY = "replay"  # a CSV/Parquet file replayed at a chosen speed
    HYPERLIQUID = "hyperliquid"  # closed bars from Hyperliquid's candle channel (live)


class VenueKind(StrEnum):
    PAPER = "paper"  # simulated matching
    HYPERLIQUID = "hyperliquid"  # real orders on Hyperliquid (mode must be 'live')


class ExecutionMode(StrEnum):
    PAPER = "paper"
    LIVE = "live"


class BotConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    bot_id: str = Field(pattern=BOT_ID_PATTERN, description="unique id: letters, digits, _ . -")
    symbol: str = Field(min_length=1, max_length=64)
    strategy: str = Field(min_length=1, description="built-in strategy name or a .py path")
    params: dict[str, Any] = Field(default_factory=dict, description="strategy parameters")
    interval: str = Field(default="1m", description="bar interval, e.g. 1s, 1m, 5m, 1h, 1d")
    feed: FeedKind = FeedKind.SIM
    feed_options: dict[str, Any] = Field(
        default_factory=dict,
        description="sim: seed, start_price, volatility, tick_seconds; "
        "replay: path, speed (0 = as fast as possible), loop; hyperliquid: grace_s",
    )
    venue: VenueKind = VenueKind.PAPER
    mode: ExecutionMode = ExecutionMode.PAPER
    initial_capital: Decimal = Field(default=Decimal(10_000), gt=0)
    risk_per_trade_pct: Decimal = Field(default=Decimal(1), gt=0, le=100)
    max_position_pct: Decimal = Field(default=Decimal(100), gt=0, le=10_000)
    leverage: Decimal = Field(default=Decimal(1), gt=0, le=200)
    slippage_bps: Decimal = Field(default=Decimal(0), ge=0, lt=10_000)
    commission: Decimal = Field(default=Decimal("0.0005"), ge=0, lt=1)
    warmup_periods: int = Field(default=0, ge=0, le=100_000)
    auto_resume: bool = False
    account_id: str = Field(default="paper", min_length=1, max_length=64)

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: str) -> str:
        if not INTERVAL_PATTERN.match(value):
            raise ValueError("expected a number and a unit s, m, h or d (e.g. 1m, 5m, 1h)")
        return value

    @field_validator("params", "feed_options")
    @classmethod
    def _no_secrets(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            lowered = key.lower()
            if any(word in lowered for word in _SECRET_WORDS):
                raise ValueError(
                    f"'{key}' looks like a credential; secrets come from the environment or a "
                    "secrets file, never from a bot config"
                )
        return value

    @model_validator(mode="after")
    def _mode_matches_venue(self) -> BotConfig:
        if self.mode is ExecutionMode.LIVE and self.venue is VenueKind.PAPER:
            raise ValueError("mode 'live' needs a live venue; the paper venue is simulated")
        if self.venue is not VenueKind.PAPER and self.mode is not ExecutionMode.LIVE:
            # Real orders only when asked for in so many words.
            raise ValueError(f"venue '{self.venue.value}' sends real orders: set mode 'live'")
        if self.venue is VenueKind.HYPERLIQUID and self.leverage % 1:
            raise ValueError("leverage: Hyperliquid takes a whole number (e.g. 1, 3, 10)")
        return self

    @property
    def interval_seconds(self) -> int:
        match = INTERVAL_PATTERN.match(self.interval)
        assert match is not None
        return int(match.group(1)) * _INTERVAL_SECONDS[match.group(2)]

    def with_changes(self, changes: dict[str, Any]) -> BotConfig:
        """A validated copy with ``changes`` applied; ``bot_id`` cannot change."""
        if "bot_id" in changes and changes["bot_id"] != self.bot_id:
            raise ValueError("bot_id cannot be changed")
        return BotConfig.model_validate({**self.model_dump(), **changes})
