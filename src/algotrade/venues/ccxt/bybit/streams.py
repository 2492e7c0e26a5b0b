"""The Bybit streams the ccxt venue uses, parsed: klines of the public linear stream, and
orders, executions, positions and the wallet of the private stream (``session.py``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from algotrade.venues.ccxt.bybit import parse
from algotrade.venues.ccxt.bybit.ws import BybitWebSocket, DisconnectHook, ReconnectHook
from algotrade.venues.ccxt.errors import PayloadError
from algotrade.venues.ccxt.model import Candle
from algotrade.venues.ccxt.session import PrivateHandlers

__all__ = ["BybitPrivateStream", "BybitPublicStream"]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _data(message: dict[str, Any]) -> list[Any]:
    data = message.get("data")
    if isinstance(data, dict):
        return [data]
    if not isinstance(data, list):
        raise PayloadError(f"{message.get('topic')}: 'data' is not a list")
    return data


class BybitPublicStream:
    """Klines of the public linear stream, parsed."""

    def __init__(self, ws: BybitWebSocket) -> None:
        self.ws = ws

    @property
    def connected(self) -> bool:
        return self.ws.connected

    def stats(self) -> dict[str, int]:
        return self.ws.stats()

    async def start(self) -> None:
        await self.ws.start()

    async def stop(self, timeout: float = 5.0) -> None:
        await self.ws.stop(timeout)

    def on_reconnect(self, hook: ReconnectHook) -> Callable[[], None]:
        return self.ws.on_reconnect(hook)

    def on_disconnect(self, hook: DisconnectHook) -> Callable[[], None]:
        return self.ws.on_disconnect(hook)

    async def subscribe_candles(
        self, symbol: str, interval: str, handler: Callable[[Sequence[Candle]], None]
    ) -> None:
        def on_message(message: dict[str, Any]) -> None:
            handler([parse.candle_push(item, symbol) for item in _data(message)])

        await self.ws.subscribe(f"kline.{interval}.{symbol}", on_message)

    async def unsubscribe_candles(self, symbol: str, interval: str) -> None:
        await self.ws.unsubscribe(f"kline.{interval}.{symbol}")


class BybitPrivateStream(BybitPublicStream):
    """Orders, executions, positions and the wallet of the private stream (all-in-one
    topics: every category; only ``linear`` items are passed on)."""

    def __init__(self, ws: BybitWebSocket, handlers: PrivateHandlers, settle_coin: str) -> None:
        super().__init__(ws)
        self._handlers = handlers
        self._coin = settle_coin

    async def start(self) -> None:
        for topic, handler in (
            ("order", self._on_order),
            ("execution", self._on_execution),
            ("position", self._on_position),
            ("wallet", self._on_wallet),
        ):
            await self.ws.subscribe(topic, handler)
        await self.ws.start()

    @staticmethod
    def _linear(items: list[Any]) -> list[Any]:
        return [
            i for i in items if not isinstance(i, dict) or i.get("category", "linear") == "linear"
        ]

    def _on_order(self, message: dict[str, Any]) -> None:
        self._handlers.on_orders([parse.order(i) for i in self._linear(_data(message))])

    def _on_execution(self, message: dict[str, Any]) -> None:
        self._handlers.on_fills([parse.fill(i) for i in self._linear(_data(message))])

    def _on_position(self, message: dict[str, Any]) -> None:
        self._handlers.on_positions([parse.position(i) for i in self._linear(_data(message))])

    def _on_wallet(self, message: dict[str, Any]) -> None:
        at = int(str(message.get("creationTime") or _now_ms()))
        for account in _data(message):
            found = parse.balance(account, self._coin, at)
            if found is not None:
                self._handlers.on_balance(found)
