"""Rule parameters as validated models (``risk.yaml``). Every rule has ``enabled``."""

from __future__ import annotations

import datetime as dt
import re
from datetime import date, time
from decimal import Decimal
from functools import cached_property
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


class RuleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: bool = False


class MaxContracts(RuleConfig):
    limit: Decimal = Field(default=Decimal(10), gt=0)
    mode: Literal["net", "gross"] = "gross"


class MaxContractsPerInstrument(RuleConfig):
    limits: dict[str, Decimal] = Field(default_factory=dict)
    default: Decimal | None = Field(default=None, gt=0, description="limit for unlisted symbols")

    @field_validator("limits")
    @classmethod
    def _positive(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for symbol, limit in value.items():
            if limit <= 0:
                raise ValueError(f"limit for {symbol} must be > 0")
        return value


class DailyRealizedLoss(RuleConfig):
    limit: Decimal = Field(default=Decimal(1000), gt=0, description="loss that trips, positive")


class DailyRealizedProfit(RuleConfig):
    target: Decimal = Field(default=Decimal(3000), gt=0)


class MaxUnrealizedLoss(RuleConfig):
    limit: Decimal = Field(default=Decimal(500), gt=0, description="per position, positive")


class MaxUnrealizedProfit(RuleConfig):
    limit: Decimal = Field(default=Decimal(2000), gt=0, description="per position")


class TradeFrequency(RuleConfig):
    per_minute: int | None = Field(default=None, ge=1)
    per_hour: int | None = Field(default=None, ge=1)
    per_session: int | None = Field(default=None, ge=1, description="per trading day")
    cooldown_minutes: float = Field(default=15, gt=0)


class CooldownAfterLoss(RuleConfig):
    loss_threshold: Decimal = Field(default=Decimal(300), gt=0, description="one trade's loss")
    cooldown_minutes: float = Field(default=30, gt=0)


class NoStopLossGrace(RuleConfig):
    grace_seconds: float = Field(default=60, gt=0)


class SessionHours(RuleConfig):
    timezone: str = "America/Chicago"
    windows: dict[str, list[str]] = Field(
        default_factory=lambda: {d: ["08:30-15:00"] for d in WEEKDAYS[:5]},
        description="weekday (mon..sun) → list of HH:MM-HH:MM windows, local time",
    )
    holidays: list[date] = Field(default_factory=list)
    flatten_at_end: bool = True

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r}") from None
        return value

    @field_validator("windows")
    @classmethod
    def _windows(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for day, windows in value.items():
            if day not in WEEKDAYS:
                raise ValueError(f"unknown weekday {day!r}; use {', '.join(WEEKDAYS)}")
            for window in windows:
                _parse_window(day, window)
        return value

    @cached_property
    def by_weekday(self) -> dict[int, list[tuple[time, time]]]:
        """Weekday (0 = Monday) → (start, end) local times; parsed once per config."""
        out: dict[int, list[tuple[time, time]]] = {}
        for day, windows in self.windows.items():
            for window in windows:
                out.setdefault(WEEKDAYS.index(day), []).append(_parse_window(day, window))
        return out


def _parse_window(day: str, window: str) -> tuple[time, time]:
    """``HH:MM-HH:MM`` → (start, end); an end of 24:00 means the end of the day."""
    match = _WINDOW.match(window)
    if not match:
        raise ValueError(f"{day}: window {window!r} is not HH:MM-HH:MM")
    start = time(int(match[1]), int(match[2]))
    end = time.max if match[3] == "24" else time(int(match[3]), int(match[4]))
    if not start < end:
        raise ValueError(f"{day}: window {window!r} ends before it starts")
    return start, end


class SymbolBlocklist(RuleConfig):
    symbols: list[str] = Field(default_factory=list)


class TrailingDrawdown(RuleConfig):
    amount: Decimal = Field(default=Decimal(2000), gt=0, description="from peak equity")


class AccountStatusGuard(RuleConfig):
    enabled: bool = True


class RiskRules(BaseModel):
    """All rules for one account (defaults merged with the account's overrides)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_contracts: MaxContracts = MaxContracts()
    max_contracts_per_instrument: MaxContractsPerInstrument = MaxContractsPerInstrument()
    daily_realized_loss: DailyRealizedLoss = DailyRealizedLoss()
    daily_realized_profit: DailyRealizedProfit = DailyRealizedProfit()
    max_unrealized_loss: MaxUnrealizedLoss = MaxUnrealizedLoss()
    max_unrealized_profit: MaxUnrealizedProfit = MaxUnrealizedProfit()
    trade_frequency: TradeFrequency = TradeFrequency()
    cooldown_after_loss: CooldownAfterLoss = CooldownAfterLoss()
    no_stop_loss_grace: NoStopLossGrace = NoStopLossGrace()
    session_hours: SessionHours = SessionHours()
    symbol_blocklist: SymbolBlocklist = SymbolBlocklist()
    trailing_drawdown: TrailingDrawdown = TrailingDrawdown()
    account_status_guard: AccountStatusGuard = AccountStatusGuard()


class DailyReset(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    time: str = Field(default="17:00", pattern=r"^\d{2}:\d{2}$")
    timezone: str = "America/Chicago"

    @model_validator(mode="after")
    def _valid(self) -> DailyReset:
        hours, minutes = (int(x) for x in self.time.split(":"))
        if hours > 23 or minutes > 59:
            raise ValueError(f"time {self.time!r} is not a valid HH:MM")
        SessionHours._zone(self.timezone)
        return self

    def at(self) -> dt.time:
        hours, minutes = (int(x) for x in self.time.split(":"))
        return dt.time(hours, minutes)


class AccountConfig(BaseModel):
    """One account in ``accounts.yaml``. Credentials are NAMES of environment variables."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
    venue: str = "paper"
    timezone: str = "America/Chicago"
    credentials_env: dict[str, str] = Field(default_factory=dict)
    starting_balance: Decimal = Field(default=Decimal(0), ge=0)
    daily_reset: DailyReset | None = None
    multipliers: dict[str, Decimal] = Field(
        default_factory=dict, description="money per point by symbol (ES: 50); default 1"
    )

    @field_validator("multipliers")
    @classmethod
    def _positive_multipliers(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for symbol, multiplier in value.items():
            if multiplier <= 0:
                raise ValueError(f"multiplier of {symbol} must be > 0")
        return value

    @field_validator("credentials_env")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for key, name in value.items():
            if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", name):
                raise ValueError(
                    f"{key}: {name!r} must be the NAME of an environment variable "
                    "(A-Z, 0-9, _), never the secret itself"
                )
        return value
