"""Hyperliquid adapter settings and credentials.

Settings (network, URLs, timeouts, slippage, limits) are plain configuration: they may sit in
the daemon's TOML file. Credentials never do: the account address and the API-wallet private
key come from the environment or from a secrets file (TOML) named by the environment or the
settings, and the key is never logged, stored or returned (``HlCredentials`` hides it from
``repr``).
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

from pydantic import ConfigDict, Field

from algotrade.core.errors import ConfigError
from algotrade.venues.live.http_queue import RequestQueueSettings

MAINNET_API_URL = "https://api.hyperliquid.xyz"
TESTNET_API_URL = "https://api.hyperliquid-testnet.xyz"
ENV_ACCOUNT_ADDRESS = "ALGOTRADE_HYPERLIQUID_ACCOUNT_ADDRESS"
ENV_PRIVATE_KEY = "ALGOTRADE_HYPERLIQUID_PRIVATE_KEY"
ENV_SECRETS_FILE = "ALGOTRADE_HYPERLIQUID_SECRETS_FILE"
_ADDRESS_LENGTH = 42


class HlNetwork(StrEnum):
    MAINNET = "mainnet"
    TESTNET = "testnet"


class HyperliquidConfig(RequestQueueSettings):
    """Everything about talking to Hyperliquid except the credentials (the REST request
    queue's ``max_in_flight`` and ``queue_timeout_s`` included)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    network: HlNetwork = HlNetwork.MAINNET
    api_url: str | None = Field(
        default=None, description="REST base URL; default: the network's public API"
    )
    ws_url: str | None = Field(
        default=None, description="WebSocket URL; default: the REST base URL's /ws"
    )
    request_timeout_s: float = Field(default=10.0, gt=0, le=120)
    market_slippage: Decimal = Field(
        default=Decimal("0.05"),
        gt=0,
        lt=1,
        description="market orders are IOC limits at mid × (1 ± this)",
    )
    weight_per_minute: int = Field(
        default=1200, gt=0, description="REST request weight budget per minute (per IP)"
    )
    ping_interval_s: float = Field(
        default=30.0, gt=0, le=50, description="WebSocket ping period; the server drops at 60 s"
    )
    reconnect_min_s: float = Field(default=0.5, gt=0)
    ws_connects_per_minute: int = Field(
        default=30, gt=0, description="new WebSocket connections per minute (the documented cap)"
    )
    reconnect_max_s: float = Field(default=30.0, gt=0)
    reconcile_interval_s: float = Field(
        default=60.0, ge=0, description="periodic reconciliation; 0 = only on start/reconnect"
    )
    max_retries: int = Field(default=5, ge=0, le=50, description="retries after HTTP 429/5xx")
    vault_address: str | None = Field(default=None, description="trade for a vault/subaccount")
    secrets_file: Path | None = Field(
        default=None, description="TOML file with account_address and private_key"
    )

    @property
    def is_mainnet(self) -> bool:
        return self.network is HlNetwork.MAINNET

    @property
    def base_url(self) -> str:
        if self.api_url:
            return self.api_url.rstrip("/")
        return MAINNET_API_URL if self.is_mainnet else TESTNET_API_URL

    @property
    def websocket_url(self) -> str:
        if self.ws_url:
            return self.ws_url
        base = self.base_url
        scheme, _, rest = base.partition("://")
        return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/ws"


@dataclass(frozen=True, slots=True)
class HlCredentials:
    """The trading account and the key that signs for it (an API wallet or the account)."""

    account_address: str
    private_key: str = field(repr=False)

    @property
    def signer_address(self) -> str:
        from eth_account import Account  # noqa: PLC0415 - slow import, only when trading

        return str(Account.from_key(self.private_key).address)

    def __str__(self) -> str:
        return f"HlCredentials(account={self.account_address}, signer={self.signer_address})"


def load_credentials(
    config: HyperliquidConfig, environ: Mapping[str, str] | None = None
) -> HlCredentials | None:
    """Credentials from the environment, else from the secrets file; ``None`` when neither
    provides any (market data needs none). Half-given or malformed credentials raise
    ``ConfigError`` naming the variable or file."""
    env = os.environ if environ is None else environ
    address = env.get(ENV_ACCOUNT_ADDRESS, "").strip()
    key = env.get(ENV_PRIVATE_KEY, "").strip()
    if address or key:
        where = f"{ENV_ACCOUNT_ADDRESS}/{ENV_PRIVATE_KEY}"
        if not (address and key):
            missing = ENV_PRIVATE_KEY if address else ENV_ACCOUNT_ADDRESS
            raise ConfigError(f"{missing} is not set (both Hyperliquid variables are needed)")
        return _validated(address, key, where)
    path_text = env.get(ENV_SECRETS_FILE, "").strip()
    path = Path(path_text) if path_text else config.secrets_file
    if path is None:
        return None
    return _from_file(path)


def _from_file(path: Path) -> HlCredentials:
    try:
        mode = path.stat().st_mode
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: Hyperliquid secrets file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the secrets file: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{path}: the secrets file is readable by others (mode {stat.S_IMODE(mode):o}); "
            "chmod 600 it"
        )
    values = raw.get("hyperliquid", raw)
    address, key = values.get("account_address"), values.get("private_key")
    for name, value in (("account_address", address), ("private_key", key)):
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{path}: '{name}' is missing (expected a string)")
    assert isinstance(address, str)
    assert isinstance(key, str)
    return _validated(address.strip(), key.strip(), str(path))


def _validated(address: str, key: str, where: str) -> HlCredentials:
    from eth_account import Account  # noqa: PLC0415 - slow import, only when trading

    if len(address) != _ADDRESS_LENGTH or not address.startswith("0x"):
        raise ConfigError(f"{where}: account_address must be 0x followed by 40 hex digits")
    try:
        int(address[2:], 16)
        Account.from_key(key)
    except ValueError:
        # The key itself is never echoed, not even in part.
        raise ConfigError(
            f"{where}: account_address or private_key is not valid hex (expected 0x + 40 hex "
            "digits and a 32-byte private key)"
        ) from None
    return HlCredentials(address.lower(), key)
