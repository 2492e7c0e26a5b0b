"""Response models of a bot's records and of the overview: what the OpenAPI document promises
for orders, fills, equity, positions, bars, log lines, the summary and the strategies.

Money is exact decimal text everywhere (``"0.1"``, never a float); bars are the floats the
strategy saw. Times are ISO-8601 UTC; ``*_ts``/``ts`` are the same instants in nanoseconds.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Money = str  # exact decimal text


class OrderOut(BaseModel):
    bot_id: str
    client_order_id: str = Field(description="our id, unique per bot forever")
    venue_order_id: str
    symbol: str
    side: Literal["buy", "sell"]
    type: str = Field(description="market, limit, stop, stop_limit")
    qty: Money
    limit_price: Money | None
    stop_price: Money | None
    tif: str
    reduce_only: bool
    status: str = Field(description="new, accepted, partially_filled, filled, cancelled, ...")
    filled_qty: Money
    avg_fill_price: Money
    fees: Money
    reason: str
    tag: str
    created_at: str
    updated_at: str
    created_ts: int
    updated_ts: int


class FillOut(BaseModel):
    bot_id: str
    trade_id: str
    client_order_id: str
    venue_order_id: str
    symbol: str
    side: Literal["buy", "sell"]
    qty: Money
    price: Money
    fee: Money
    liquidity: str
    timestamp: str
    ts: int


class EquityPoint(BaseModel):
    bot_id: str
    timestamp: str
    ts: int
    equity: Money
    cash: Money
    realized_pnl: Money
    unrealized_pnl: Money
    fees: Money


class PositionOut(BaseModel):
    bot_id: str
    symbol: str
    qty: Money = Field(description="signed: negative is short")
    avg_price: Money
    realized_pnl: Money
    fees: Money


class BarOut(BaseModel):
    symbol: str
    ts: int = Field(description="the bar's open time, ns since the epoch")
    time: str
    open: float
    high: float
    low: float
    close: float
    volume: float


class LogLine(BaseModel):
    id: int | None
    bot_id: str | None
    timestamp: str
    level: str = Field(description="info, warning or error")
    kind: str = Field(
        description="what happened: state, strategy, order_rejected, order_amended, "
        "order_amend_rejected, error, ..."
    )
    message: str
    data: dict[str, Any]


class _Page(BaseModel):
    total: int = Field(description="number of records in the whole collection")
    offset: int
    limit: int
    order: Literal["asc", "desc"] = Field(description="asc: oldest first; desc: newest first")


class OrderPage(_Page):
    items: list[OrderOut]


class FillPage(_Page):
    items: list[FillOut]


class EquityPage(_Page):
    items: list[EquityPoint]


class LogPage(_Page):
    items: list[LogLine]


class Alert(BaseModel):
    source: Literal["venue", "risk", "bot"]
    subject: str = Field(description="the venue, account or bot it is about")
    level: Literal["warning", "error"]
    message: str
    timestamp: str | None


class LockoutOut(BaseModel):
    account_id: str
    rule: str
    reason: str
    until_kind: str = Field(description="manual, time, reset, ...")
    until: str | None


class Summary(BaseModel):
    """Totals across every bot (its committed books), alerts and active lockouts."""

    bots: int
    states: dict[str, int] = Field(description="bots per state")
    simulated: int = Field(description="bots whose prices or fills are simulated")
    live: int
    blocked: int = Field(description="bots refused trading (e.g. a position mismatch)")
    equity: Money
    initial_capital: Money
    pnl_total: Money = Field(description="equity minus initial capital")
    pnl_today: Money = Field(description="change of equity since 00:00 UTC")
    realized_pnl: Money
    unrealized_pnl: Money
    fees: Money
    open_positions: int = Field(description="bot and symbol pairs with a non-zero position")
    errors: int = Field(description="error log records since the daemon started")
    warnings: int = Field(description="warning log records since the daemon started")
    alerts: list[Alert]
    lockouts: list[LockoutOut]
    updated_at: str


class StrategyParameter(BaseModel):
    name: str
    type: str
    required: bool
    default: Any = Field(description="JSON value; a decimal as exact text; null when required")
    bounds: list[str]
    description: str


class StrategyInfo(BaseModel):
    name: str
    description: str
    params_schema: dict[str, Any] = Field(description="JSON Schema of the strategy's parameters")
    parameters: list[StrategyParameter]
