"""Rule parameters as validated models (``risk.yaml``). Every rule has ``enabled``.

Values are strict about their kind, because YAML makes slips easy: a flag is ``true`` or
``false`` (not ``"yes"``, not ``1``), a count is an integer (not ``true``, not ``3.0``), a
duration is a number (not ``true``, not text such as ``.inf``), a date is a date (not an
integer). Amounts are exact decimals, finite, below 1e15 with at most 12 decimal places
(``core.money.bounded_decimal``); counts and durations have upper bounds too, so nothing a
rule computes from them overflows a stored time or amount.
"""

from __future__ import annotations

import datetime as dt
import re
from datetime import date, time
from decimal import Decimal
from functools import cached_property
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from algotrade.core.field_types import DecimalValue, real_number
from algotrade.core.money import bounded_decimal

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
MAX_COUNT = 1_000_000_000  # trades per minute, hour or session
MAX_DURATION_DAYS = 366  # cooldowns and grace periods
_MAX_MINUTES = MAX_DURATION_DAYS * 24 * 60
_MAX_SECONDS = _MAX_MINUTES * 60


def _bounded_amount(value: Decimal) -> Decimal:
    try:
        return bounded_decimal(value, "amount")
    except ValueError as exc:  # "amount: expected a magnitude below 1e15, got 1E+20"
        raise ValueError(str(exc).removeprefix("amount: ")) from None


def _calendar_date(value: object) -> object:
    """A date is a date (YAML) or ``YYYY-MM-DD`` text (JSON): pydantic's lax date would read
    an integer such as ``20240704`` as seconds since 1970."""
    if not isinstance(value, date | str):
        raise PydanticCustomError("date_type", "Input should be a valid date (YYYY-MM-DD)")
    return value


#: An exact amount or quantity: finite, below 1e15, at most 12 decimal places; not a bool.
Amount = Annotated[DecimalValue, AfterValidator(_bounded_amount)]
#: A count of trades: an integer (``true`` and ``3.0`` are not counts).
Count = Annotated[StrictInt, Field(ge=1, le=MAX_COUNT)]
# Constraints first, so they apply to the float (and show in the JSON schema) after the check.
Minutes = Annotated[
    float, Field(gt=0, le=_MAX_MINUTES, allow_inf_nan=False), BeforeValidator(real_number)
]
Seconds = Annotated[
    float, Field(gt=0, le=_MAX_SECONDS, allow_inf_nan=False), BeforeValidator(real_number)
]
CalendarDate = Annotated[date, BeforeValidator(_calendar_date)]


# The symbols a bot may trade (daemon.bot_config.SYMBOL_PATTERN, which this layer cannot import).
_SYMBOL = re.compile(r"^[A-Za-z0-9@][A-Za-z0-9_.:/@+-]{0,63}$")


class RuleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: StrictBool = False


class MaxContracts(RuleConfig):
    limit: Amount = Field(default=Decimal(10), gt=0)
    mode: Literal["net", "gross"] = "gross"


class MaxContractsPerInstrument(RuleConfig):
    limits: dict[str, Amount] = Field(default_factory=dict)
    default: Amount | None = Field(default=None, gt=0, description="limit for unlisted symbols")

    @field_validator("limits")
    @classmethod
    def _positive(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for symbol, limit in value.items():
            if not _SYMBOL.fullmatch(symbol):
                raise ValueError(
                    f"symbol {symbol[:40]!r}: expected letters, digits and _ . : / @ + - "
                    "(at most 64 characters)"
                )
            if limit <= 0:
                raise ValueError(f"limit for {symbol} must be > 0")
        return value


class DailyRealizedLoss(RuleConfig):
    limit: Amount = Field(default=Decimal(1000), gt=0, description="loss that trips, positive")


class DailyRealizedProfit(RuleConfig):
    target: Amount = Field(default=Decimal(3000), gt=0)


class MaxUnrealizedLoss(RuleConfig):
    limit: Amount = Field(default=Decimal(500), gt=0, description="per position, positive")


class MaxUnrealizedProfit(RuleConfig):
    limit: Amount = Field(default=Decimal(2000), gt=0, description="per position")


class TradeFrequency(RuleConfig):
    per_minute: Count | None = None
    per_hour: Count | None = None
    per_session: Count | None = Field(default=None, description="per trading day")
    cooldown_minutes: Minutes = 15


class CooldownAfterLoss(RuleConfig):
    loss_threshold: Amount = Field(default=Decimal(300), gt=0, description="one trade's loss")
    cooldown_minutes: Minutes = 30


class NoStopLossGrace(RuleConfig):
    grace_seconds: Seconds = 60


class SessionHours(RuleConfig):
    timezone: str = "America/Chicago"
    windows: dict[str, list[str]] = Field(
        default_factory=lambda: {d: ["08:30-15:00"] for d in WEEKDAYS[:5]},
        description="weekday (mon..sun) → list of HH:MM-HH:MM windows, local time",
    )
    holidays: list[CalendarDate] = Field(default_factory=list)
    flatten_at_end: StrictBool = True

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

    @field_validator("symbols")
    @classmethod
    def _symbols(cls, value: list[str]) -> list[str]:
        for symbol in value:
            if not _SYMBOL.fullmatch(symbol):
                raise ValueError(
                    f"symbol {symbol[:40]!r}: expected letters, digits and _ . : / @ + - "
                    "(at most 64 characters)"
                )
        return value


class TrailingDrawdown(RuleConfig):
    amount: Amount = Field(default=Decimal(2000), gt=0, description="from peak equity")


class AccountStatusGuard(RuleConfig):
    enabled: StrictBool = True


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


def _account_ref(value: object) -> object:
    """A venue account is named by its id or its name: YAML reads ``12345`` as an integer."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


class WatchConfig(BaseModel):
    """``watch``: guard the account directly at its venue, whoever trades it (a person in the
    broker's platform included). See ``docs/account-guard.md``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    account: Annotated[
        str,
        Field(
            min_length=1,
            max_length=128,
            pattern=r"^[^\x00-\x1f\x7f]+$",
            description="the venue's account id or name (e.g. 50KTC-V2-123456)",
        ),
        BeforeValidator(_account_ref),
    ]


class AccountConfig(BaseModel):
    """One account in ``accounts.yaml``. Credentials are NAMES of environment variables."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
    venue: str = "paper"
    timezone: str = "America/Chicago"
    credentials_env: dict[str, str] = Field(default_factory=dict)
    starting_balance: Amount = Field(default=Decimal(0), ge=0)
    daily_reset: DailyReset | None = None
    multipliers: dict[str, Amount] = Field(
        default_factory=dict, description="money per point by symbol (ES: 50); default 1"
    )
    watch: WatchConfig | None = Field(
        default=None, description="guard the account at its venue (the venue reports it)"
    )

    @field_validator("multipliers")
    @classmethod
    def _positive_multipliers(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for symbol, multiplier in value.items():
            if multiplier <= 0:
                raise ValueError(f"multiplier of {symbol} must be > 0")
        return value

    @model_validator(mode="after")
    def _watchable(self) -> AccountConfig:
        if self.watch is not None and self.venue == "paper":
            raise ValueError(
                "field 'watch': a watched account needs its live venue (e.g. venue: projectx); "
                "the paper venue has no accounts to watch"
            )
        return self

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
