"""The Bybit driver of the ccxt venue: ``open_session`` builds the REST client (ccxt) and the
two streams (``websockets``) for ``CcxtFactory("bybit")``; imported only when the daemon
connects or ``fetch-data`` downloads."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from algotrade.venues.ccxt.bybit.config import BybitConfig, BybitNetwork
from algotrade.venues.ccxt.bybit.rest import BybitRest
from algotrade.venues.ccxt.bybit.streams import BybitPrivateStream, BybitPublicStream
from algotrade.venues.ccxt.bybit.ws import BybitWebSocket
from algotrade.venues.ccxt.credentials import ApiCredentials
from algotrade.venues.ccxt.session import PrivateHandlers

__all__ = ["BybitSession", "history_config", "open_session"]


class BybitSession:
    def __init__(self, config: BybitConfig, credentials: ApiCredentials | None) -> None:
        self.config = config
        self.credentials = credentials
        self.rest = BybitRest(config, credentials)
        self.public = BybitPublicStream(
            BybitWebSocket(config.public_stream_url, config, name="public")
        )

    def private(self, handlers: PrivateHandlers) -> BybitPrivateStream:
        if self.credentials is None:
            raise RuntimeError("the private stream needs credentials")
        ws = BybitWebSocket(
            self.config.private_stream_url,
            self.config,
            credentials=self.credentials,
            name="private",
        )
        return BybitPrivateStream(ws, handlers, self.config.settle_coin)

    def describe(self) -> dict[str, Any]:
        return {
            "network": self.config.network.value,
            "rest_url": self.config.base_url,
            "category": self.config.category,
        }


async def open_session(config: BaseModel, credentials: ApiCredentials | None) -> BybitSession:
    assert isinstance(config, BybitConfig)
    return BybitSession(config, credentials)


def history_config(testnet: bool, api_url: str | None) -> BybitConfig:
    return BybitConfig(
        network=BybitNetwork.TESTNET if testnet else BybitNetwork.MAINNET, rest_url=api_url
    )
