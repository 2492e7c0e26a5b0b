"""ProjectX Gateway settings and credentials.

Settings (URLs, timeouts, limits, reconnect back-off) are plain configuration and may sit in the
daemon's TOML file. Credentials never do: the username and the API key come from the environment
(``ALGOTRADE_PROJECTX_USERNAME``, ``ALGOTRADE_PROJECTX_API_KEY``) or from files named by
``ALGOTRADE_PROJECTX_USERNAME_FILE`` / ``ALGOTRADE_PROJECTX_API_KEY_FILE`` (Docker/systemd
secrets). The key is never logged, stored or returned (``ProjectXCredentials`` hides it).

Default URLs are TopstepX's, from the gateway's "Connection URLs" page; every firm running on
ProjectX has its own pair of hosts, so all three URLs are configurable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import ConfigDict, Field, field_validator

from algotrade.core.errors import ConfigError
from algotrade.venues.live.credentials import env_value
from algotrade.venues.live.http_queue import RequestQueueSettings

__all__ = [
    "ENV_API_KEY",
    "ENV_API_KEY_FILE",
    "ENV_USERNAME",
    "ENV_USERNAME_FILE",
    "ProjectXConfig",
    "ProjectXCredentials",
    "load_credentials",
]

TOPSTEPX_API_URL = "https://api.topstepx.com"
TOPSTEPX_USER_HUB_URL = "https://rtc.topstepx.com/hubs/user"
TOPSTEPX_MARKET_HUB_URL = "https://rtc.topstepx.com/hubs/market"

ENV_USERNAME = "ALGOTRADE_PROJECTX_USERNAME"
ENV_API_KEY = "ALGOTRADE_PROJECTX_API_KEY"
ENV_USERNAME_FILE = "ALGOTRADE_PROJECTX_USERNAME_FILE"
ENV_API_KEY_FILE = "ALGOTRADE_PROJECTX_API_KEY_FILE"

# The gateway's documented limits (Rate Limits page).
GENERAL_REQUESTS = 200
GENERAL_WINDOW_S = 60.0
BARS_REQUESTS = 30
BARS_WINDOW_S = 30.0
TOKEN_LIFETIME_S = 24 * 3600.0  # "Session tokens are only valid for 24 hours"


class ProjectXConfig(RequestQueueSettings):
    """Everything about talking to a ProjectX gateway except the credentials (the REST request
    queue's ``max_in_flight`` and ``queue_timeout_s`` included)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_url: str = Field(default=TOPSTEPX_API_URL, description="REST base URL (no /api suffix)")
    user_hub_url: str = Field(default=TOPSTEPX_USER_HUB_URL, description="SignalR user hub")
    market_hub_url: str = Field(default=TOPSTEPX_MARKET_HUB_URL, description="SignalR market hub")
    request_timeout_s: float = Field(default=10.0, gt=0, le=120)
    max_retries: int = Field(default=5, ge=0, le=50, description="retries after HTTP 429/5xx")
    general_requests: int = Field(default=GENERAL_REQUESTS, gt=0)
    general_window_s: float = Field(default=GENERAL_WINDOW_S, gt=0)
    bars_requests: int = Field(default=BARS_REQUESTS, gt=0)
    bars_window_s: float = Field(default=BARS_WINDOW_S, gt=0)
    token_lifetime_s: float = Field(
        default=TOKEN_LIFETIME_S, gt=0, description="assumed when the JWT carries no 'exp'"
    )
    token_renew_margin_s: float = Field(
        default=3600.0, ge=0, description="renew with Auth/validate this long before expiry"
    )
    skip_negotiation: bool = Field(
        default=True, description="connect the hubs straight over WebSocket, as the docs do"
    )
    reconnect_min_s: float = Field(default=0.5, gt=0)
    reconnect_max_s: float = Field(default=30.0, gt=0)
    hub_connect_timeout_s: int = Field(default=10, gt=0, le=120)

    @field_validator("api_url", "user_hub_url", "market_hub_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://", "ws://", "wss://")):
            raise ValueError(f"{value!r} is not an http(s) or ws(s) URL")
        return value.rstrip("/")


@dataclass(frozen=True, slots=True)
class ProjectXCredentials:
    """The gateway username and its API key (hidden from ``repr`` and ``str``)."""

    username: str
    api_key: str = field(repr=False)

    def __str__(self) -> str:
        return f"ProjectXCredentials(username={self.username})"


def load_credentials(environ: Mapping[str, str] | None = None) -> ProjectXCredentials | None:
    """Credentials from the environment (values or ``*_FILE`` paths); ``None`` when none is
    given. Half-given credentials or unreadable files raise ``ConfigError`` naming the variable."""
    env = os.environ if environ is None else environ
    username = env_value(env, ENV_USERNAME, ENV_USERNAME_FILE, secret=False)
    api_key = env_value(env, ENV_API_KEY, ENV_API_KEY_FILE, secret=True)
    if username is None and api_key is None:
        return None
    if username is None:
        raise ConfigError(f"{ENV_USERNAME} (or {ENV_USERNAME_FILE}) is not set")
    if api_key is None:
        raise ConfigError(f"{ENV_API_KEY} (or {ENV_API_KEY_FILE}) is not set")
    return ProjectXCredentials(username, api_key)
