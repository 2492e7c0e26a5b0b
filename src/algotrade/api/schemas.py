"""Request and response models of the REST API (they make the OpenAPI document complete)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from algotrade.daemon.bot_config import BotConfig, ExecutionMode
from algotrade.daemon.status import BotStatus

# Pagination bounds. The offset cap is a signed 64-bit integer: what a SQL OFFSET accepts.
MAX_PAGE_LIMIT = 1000
DEFAULT_PAGE_LIMIT = 100
MAX_OFFSET = 2**63 - 1


class ErrorDetail(BaseModel):
    code: str = Field(description="machine-readable, e.g. not_found, conflict, validation_error")
    message: str = Field(description="one line for a human")


class ErrorResponse(BaseModel):
    error: ErrorDetail


class BotDetail(BaseModel):
    config: BotConfig
    status: BotStatus


class Health(BaseModel):
    """``status`` plus whatever cheap liveness facts the service reports."""

    model_config = ConfigDict(extra="allow")

    status: str = Field(description='"ok" whenever the API answers')


class VersionInfo(BaseModel):
    version: str


# None typed as Any: the field types stay non-nullable for validation and the schema, while an
# omitted field still needs a default (excluded again by exclude_unset).
_NOT_SENT: Any = None


def _without_defaults(schema: dict[str, Any]) -> None:
    # A "default": null on a non-nullable field would contradict the schema; omitted means
    # "unchanged", which the description says.
    for field_schema in schema.get("properties", {}).values():
        field_schema.pop("default", None)


class BotConfigPatch(BaseModel):
    """Fields of BotConfig to change; omitted fields keep their value.

    Types only: the service validates the merged config (ranges, patterns, secrets), so the rules
    live in one place. The ``_NOT_SENT`` default marks an omitted field without making an
    explicit null valid. tests/api check that the fields match BotConfig's.
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra=_without_defaults)

    bot_id: str = Field(default=_NOT_SENT, description="must equal the current id if sent")
    symbol: str = _NOT_SENT
    strategy: str = _NOT_SENT
    params: dict[str, Any] = _NOT_SENT
    interval: str = _NOT_SENT
    feed: str = Field(default=_NOT_SENT, description="sim, replay or a registered live venue")
    feed_options: dict[str, Any] = _NOT_SENT
    venue: str = Field(default=_NOT_SENT, description="paper or a registered live venue")
    mode: ExecutionMode = _NOT_SENT
    initial_capital: Decimal = _NOT_SENT
    risk_per_trade_pct: Decimal = _NOT_SENT
    max_position_pct: Decimal = _NOT_SENT
    leverage: Decimal = _NOT_SENT
    slippage_bps: Decimal = _NOT_SENT
    commission: Decimal = _NOT_SENT
    warmup_periods: int = _NOT_SENT
    auto_resume: bool = _NOT_SENT
    account_id: str = _NOT_SENT

    def changes(self) -> dict[str, Any]:
        """Only the fields the client sent, as they were parsed (Decimal stays exact).

        Not a JSON dump: that writes NaN and Infinity inside ``params`` and ``feed_options`` as
        null, and a null parameter may be valid where the NaN the client sent is not."""
        return self.model_dump(exclude_unset=True)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "missing or invalid API key"},
    422: {"model": ErrorResponse, "description": "invalid request (the message names fields)"},
}
READ_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    404: {"model": ErrorResponse, "description": "no such bot"},
}
WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **READ_RESPONSES,
    403: {"model": ErrorResponse, "description": "the key is read-only (trader)"},
    409: {"model": ErrorResponse, "description": "conflict with the bot's state"},
    503: {"model": ErrorResponse, "description": "the daemon is shutting down"},
}
