"""The ccxt venues' entries in the venue registry (``venues/registry.py``).

``bybit`` is ``CcxtFactory("bybit")``: Bybit v5 linear USDT perpetuals. Importing this module
loads only the exchange's settings model and interval table (pydantic): ccxt, the WebSocket
client and the account code load when a bot first uses the venue (``connect``) or
``fetch-data`` downloads (``history``). See ``exchanges.py`` for adding another ccxt exchange.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from algotrade.core.strategy import describe_validation_error
from algotrade.venues.ccxt.exchanges import ExchangeSpec, driver_module, driver_of, spec_of
from algotrade.venues.live.connection import start_or_stop
from algotrade.venues.registry import (
    BotSpec,
    HistoryOptions,
    VenueConnection,
    VenueFactory,
    VenueOwner,
)

__all__ = ["CcxtFactory", "bybit"]

_log = logging.getLogger("algotrade.daemon.venues")
_LEVERAGE_STEP = Decimal("0.01")


class CcxtFeedOptions(BaseModel):
    """``feed_options`` of a bot fed by a ccxt venue: none yet; anything given is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CcxtFactory(VenueFactory):
    """A venue reached through ccxt, by ccxt exchange id (``"bybit"``)."""

    def __init__(self, exchange_id: str) -> None:
        self.exchange_id = exchange_id
        self.spec: ExchangeSpec = spec_of(exchange_id)
        self.history_intervals = dict(self.spec.history_intervals)
        self.name = self.name or exchange_id
        self.runtime_modules = (
            "algotrade.venues.ccxt.account",
            "algotrade.venues.ccxt.connection",
            "algotrade.venues.ccxt.credentials",
            "algotrade.venues.ccxt.execution",
            "algotrade.venues.ccxt.snapshot",
            driver_module(exchange_id),  # ccxt itself
        )

    def config_model(self) -> type[BaseModel]:
        return self.spec.config_model

    def validate_feed(self, bot: BotSpec) -> None:
        try:
            CcxtFeedOptions.model_validate(bot.feed_options)
        except ValidationError as exc:
            raise ValueError(describe_validation_error("feed_options", exc)) from None
        if bot.interval not in self.spec.bot_intervals:
            raise ValueError(
                f"interval: {self.spec.title} candles come in "
                f"{', '.join(self.spec.bot_intervals)}; got '{bot.interval}'"
            )

    def validate_execution(self, bot: BotSpec) -> None:
        if bot.leverage < 1 or bot.leverage % _LEVERAGE_STEP:
            raise ValueError(
                f"leverage: {self.spec.title} takes 1 or more in steps of 0.01; got {bot.leverage}"
            )

    async def connect(self, config: BaseModel, owner: VenueOwner) -> VenueConnection:
        from algotrade.venues.ccxt.account import CcxtAccount  # noqa: PLC0415
        from algotrade.venues.ccxt.connection import CcxtConnection  # noqa: PLC0415
        from algotrade.venues.ccxt.credentials import load_credentials  # noqa: PLC0415

        credentials = load_credentials(self.spec.credential_env)
        driver = driver_of(self.exchange_id)
        newest_ns, trade_ids = await owner.latest_fills()
        session = await driver.open_session(config, credentials)
        account = CcxtAccount(
            self.name,
            self.spec,
            config,
            credentials,
            session,
            owner,
            since_ms=newest_ns // 1_000_000 if newest_ns else None,
            seen_trade_ids=trade_ids,
            open_orders=await owner.stored_open_orders(),
        )
        await start_or_stop(account)
        _log.info(
            "%s connected (%s, %s)",
            self.name,
            session.describe().get("network"),
            credentials or "market data only: no credentials",
        )
        return CcxtConnection(account)

    def history(self, options: HistoryOptions) -> Any:
        from algotrade.venues.ccxt.history import open_history  # noqa: PLC0415

        driver = driver_of(self.exchange_id)
        config = driver.history_config(options.testnet, options.api_url)
        return open_history(driver, config, self.spec)


bybit = CcxtFactory("bybit")
