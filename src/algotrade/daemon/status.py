"""What the daemon says about a bot."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class BotState(StrEnum):
    STOPPED = "stopped"
    RUNNING = "running"
    PAUSED = "paused"  # receives market data, sends no new orders
    ERROR = "error"


class BotStatus(BaseModel):
    bot_id: str
    state: BotState
    symbol: str = ""
    strategy: str = ""
    venue: str = ""
    mode: str = ""
    interval: str = ""
    account_id: str = ""
    simulated: bool = Field(
        description="True when prices or fills are simulated (sim feed or paper venue)"
    )
    heartbeat: str | None = Field(
        default=None, description="ISO-8601 UTC of the last event handled"
    )
    last_error: str | None = None
    blocked: str | None = Field(
        default=None, description="why the bot may not trade now (e.g. a position mismatch)"
    )
    position: dict[str, str] = Field(default_factory=dict, description="symbol → signed qty")
    equity: str = "0"
    realized_pnl: str = "0"
    unrealized_pnl: str = "0"
    fees: str = "0"
    pnl_today: str = Field(
        default="0", description="equity now minus equity at 00:00 UTC today (exact decimal)"
    )
    order_count: int = 0
    fill_count: int = 0
    last_fill_at: str | None = Field(
        default=None, description="ISO-8601 UTC of the last stored fill"
    )
    last_price: float | None = None
    started_at: str | None = None
