"""Bybit settings (the ``[venues.bybit]`` section) and its exchange spec.

No imports beyond pydantic: the daemon validates bot configs and settings with this module
without loading ccxt. Credentials are never settings: they come from the environment
(``ALGOTRADE_BYBIT_API_KEY``/``ALGOTRADE_BYBIT_API_SECRET`` or their ``_FILE`` variants).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from algotrade.venues.ccxt.exchanges import ExchangeSpec

__all__ = [
    "BOT_INTERVALS",
    "DEFAULT_RATE_LIMITS",
    "ENV_API_KEY",
    "ENV_API_SECRET",
    "HISTORY_INTERVALS",
    "SPEC",
    "BybitConfig",
    "BybitNetwork",
]

ENV_API_KEY = "ALGOTRADE_BYBIT_API_KEY"
ENV_API_SECRET = "ALGOTRADE_BYBIT_API_SECRET"

_URLS = {
    # network: (REST, public linear stream, private stream) — docs/v5/guide, docs/v5/ws/connect
    "mainnet": (
        "https://api.bybit.com",
        "wss://stream.bybit.com/v5/public/linear",
        "wss://stream.bybit.com/v5/private",
    ),
    "testnet": (
        "https://api-testnet.bybit.com",
        "wss://stream-testnet.bybit.com/v5/public/linear",
        "wss://stream-testnet.bybit.com/v5/private",
    ),
}

#: Per-UID requests per second of docs/v5/rate-limit (default, non-PRO UTA, linear).
DEFAULT_RATE_LIMITS: dict[str, int] = {
    "/v5/order/create": 10,
    "/v5/order/amend": 10,
    "/v5/order/cancel": 10,
    "/v5/order/cancel-all": 10,
    "/v5/order/realtime": 50,
    "/v5/order/history": 50,
    "/v5/execution/list": 50,
    "/v5/position/list": 50,
    "/v5/position/set-leverage": 10,
    "/v5/account/wallet-balance": 50,
}

_MINUTE_MS = 60_000
#: Bot interval → Bybit kline interval (docs/v5/enum#interval), fixed-length ones only.
BOT_INTERVALS: dict[str, str] = {
    "1m": "1",
    "3m": "3",
    "5m": "5",
    "15m": "15",
    "30m": "30",
    "1h": "60",
    "2h": "120",
    "4h": "240",
    "6h": "360",
    "12h": "720",
    "1d": "D",
    "1w": "W",
}
_LENGTH_MS = {
    "1": _MINUTE_MS,
    "3": 3 * _MINUTE_MS,
    "5": 5 * _MINUTE_MS,
    "15": 15 * _MINUTE_MS,
    "30": 30 * _MINUTE_MS,
    "60": 60 * _MINUTE_MS,
    "120": 120 * _MINUTE_MS,
    "240": 240 * _MINUTE_MS,
    "360": 360 * _MINUTE_MS,
    "720": 720 * _MINUTE_MS,
    "D": 1440 * _MINUTE_MS,
    "W": 7 * 1440 * _MINUTE_MS,
    "M": 30 * 1440 * _MINUTE_MS,  # a calendar month; 30 days for paging only
}
#: fetch-data interval → Bybit interval, and its length in ms.
HISTORY_NAMES: dict[str, str] = {**BOT_INTERVALS, "1M": "M"}
HISTORY_INTERVALS: dict[str, int] = {name: _LENGTH_MS[v] for name, v in HISTORY_NAMES.items()}
INTERVAL_MS: dict[str, int] = dict(_LENGTH_MS)  # Bybit interval → ms


class BybitNetwork(StrEnum):
    MAINNET = "mainnet"
    TESTNET = "testnet"


class BybitConfig(BaseModel):
    """Everything about talking to Bybit v5 except the credentials."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    network: BybitNetwork = BybitNetwork.MAINNET
    rest_url: str | None = Field(default=None, description="REST base URL; default: the network's")
    public_ws_url: str | None = Field(
        default=None, description="public linear stream URL; default: the network's"
    )
    private_ws_url: str | None = Field(
        default=None, description="private stream URL; default: the network's"
    )
    category: Literal["linear"] = Field(
        default="linear", description="product type: USDT perpetuals (linear) only"
    )
    settle_coin: Literal["USDT"] = "USDT"
    account_type: Literal["UNIFIED"] = "UNIFIED"
    request_timeout_s: float = Field(default=10.0, gt=0, le=120)
    recv_window_ms: int = Field(
        default=5000, ge=1000, le=60000, description="X-BAPI-RECV-WINDOW of signed requests"
    )
    rate_limits: dict[str, int] = Field(
        default_factory=lambda: dict(DEFAULT_RATE_LIMITS),
        description="client-side requests per second per endpoint path (per UID)",
    )
    ip_requests_per_5s: int = Field(
        default=600, gt=0, description="HTTP requests per 5 s from this IP (docs/v5/rate-limit)"
    )
    ip_ban_backoff_s: float = Field(
        default=600.0, ge=0, description="pause after HTTP 403 'access too frequent'"
    )
    max_retries: int = Field(
        default=3, ge=0, le=20, description="retries of reads, and of requests refused by 10006"
    )
    ping_interval_s: float = Field(
        default=20.0, gt=0, le=60, description="WebSocket heartbeat; the docs ask for 20 s"
    )
    reconnect_min_s: float = Field(default=0.5, gt=0)
    reconnect_max_s: float = Field(default=30.0, gt=0)
    reconcile_interval_s: float = Field(
        default=60.0, ge=0, description="periodic reconciliation; 0 = only on start/reconnect"
    )
    order_link_prefix: str = Field(
        default="",
        pattern=r"^[A-Za-z0-9_-]{0,8}$",
        description="prepended to every orderLinkId: set one per daemon sharing an account",
    )

    @field_validator("rest_url", "public_ws_url", "private_ws_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://", "ws://", "wss://")):
            raise ValueError(f"{value!r} is not an http(s) or ws(s) URL")
        return value.rstrip("/")

    @field_validator("rate_limits")
    @classmethod
    def _limits(cls, value: dict[str, int]) -> dict[str, int]:
        for path, limit in value.items():
            if not path.startswith("/v5/"):
                raise ValueError(f"{path!r}: expected an endpoint path such as /v5/order/create")
            if limit <= 0:
                raise ValueError(f"{path}: the limit must be positive, got {limit}")
        return {**DEFAULT_RATE_LIMITS, **value}

    @property
    def base_url(self) -> str:
        return self.rest_url or _URLS[self.network.value][0]

    @property
    def public_stream_url(self) -> str:
        return self.public_ws_url or _URLS[self.network.value][1]

    @property
    def private_stream_url(self) -> str:
        return self.private_ws_url or _URLS[self.network.value][2]


SPEC = ExchangeSpec(
    exchange_id="bybit",
    title="Bybit",
    config_model=BybitConfig,
    bot_intervals=BOT_INTERVALS,
    history_intervals=HISTORY_INTERVALS,
    credential_env=(ENV_API_KEY, ENV_API_SECRET),
    extra={"history_names": HISTORY_NAMES, "interval_ms": INTERVAL_MS},
)
