"""``AsyncAlgoTradeClient``: the asyncio client, with ``watch`` for the live event stream."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Iterable, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from algotrade.client import calls
from algotrade.client.errors import (
    ApiError,
    DaemonUnreachable,
    StreamClosedError,
    transport_reason,
)

T = TypeVar("T")
# Snapshots of many bots can exceed websockets' 1 MiB default frame limit.
MAX_WS_MESSAGE_BYTES = 16 * 1024 * 1024
_WS_UNAUTHORIZED = 4401


class AsyncAlgoTradeClient:
    """Asyncio client: the same calls as ``AlgoTradeClient``, plus ``watch`` for live events."""

    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 10) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._timeout = timeout
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=calls.headers(api_key), timeout=timeout
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _do(self, req: calls.Req[T]) -> T:
        try:
            response = await self._http.request(req.method, req.path, **req.kwargs())
        except httpx.TransportError as exc:
            raise DaemonUnreachable(self.base_url, transport_reason(exc)) from exc
        return req.parse(response)

    # -- bots: the calls of ``AlgoTradeClient`` ----------------------------------------------

    async def list_bots(self) -> list[dict[str, Any]]:
        return await self._do(calls.LIST_BOTS)

    async def get_bot(self, bot_id: str) -> dict[str, Any]:
        return await self._do(calls.get_bot(bot_id))

    async def create_bot(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return await self._do(calls.create_bot(config))

    async def delete_bot(self, bot_id: str) -> None:
        await self._do(calls.delete_bot(bot_id))

    async def start_bot(self, bot_id: str) -> dict[str, Any]:
        return await self._do(calls.control(bot_id, "start"))

    async def stop_bot(self, bot_id: str) -> dict[str, Any]:
        return await self._do(calls.control(bot_id, "stop"))

    async def pause_bot(self, bot_id: str) -> dict[str, Any]:
        return await self._do(calls.control(bot_id, "pause"))

    async def resume_bot(self, bot_id: str) -> dict[str, Any]:
        return await self._do(calls.control(bot_id, "resume"))

    async def update_config(self, bot_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        return await self._do(calls.update_config(bot_id, changes))

    async def orders(
        self, bot_id: str, offset: int = 0, limit: int = 100, *, newest_first: bool = False
    ) -> dict[str, Any]:
        return await self._do(calls.records(bot_id, "orders", offset, limit, newest_first))

    async def fills(
        self, bot_id: str, offset: int = 0, limit: int = 100, *, newest_first: bool = False
    ) -> dict[str, Any]:
        return await self._do(calls.records(bot_id, "fills", offset, limit, newest_first))

    async def equity(
        self, bot_id: str, offset: int = 0, limit: int = 100, *, newest_first: bool = False
    ) -> dict[str, Any]:
        return await self._do(calls.records(bot_id, "equity", offset, limit, newest_first))

    async def positions(self, bot_id: str) -> list[dict[str, Any]]:
        return await self._do(calls.positions(bot_id))

    async def logs(self, bot_id: str, offset: int = 0, limit: int = 100) -> dict[str, Any]:
        return await self._do(calls.logs(bot_id, offset, limit))

    async def bars(self, bot_id: str, limit: int = 300) -> list[dict[str, Any]]:
        return await self._do(calls.bars(bot_id, limit))

    async def summary(self) -> dict[str, Any]:
        return await self._do(calls.SUMMARY)

    async def strategies(self) -> list[dict[str, Any]]:
        return await self._do(calls.STRATEGIES)

    async def health(self) -> dict[str, Any]:
        return await self._do(calls.HEALTH)

    async def version(self) -> dict[str, Any]:
        return await self._do(calls.VERSION)

    async def session(self) -> dict[str, Any]:
        return await self._do(calls.SESSION)

    async def metrics_text(self) -> str:
        return await self._do(calls.METRICS)

    # -- account risk (/api/risk) and venues --------------------------------------------------

    async def risk_accounts(self) -> list[dict[str, Any]]:
        return await self._do(calls.risk_accounts())

    async def risk_account(self, account_id: str) -> dict[str, Any]:
        return await self._do(calls.risk_account(account_id))

    async def risk_lockouts(
        self,
        account_id: str | None = None,
        *,
        active_only: bool = True,
        offset: int = 0,
        limit: int = 100,
    ) -> dict[str, Any]:
        return await self._do(calls.risk_lockouts(account_id, active_only, offset, limit))

    async def risk_enforcements(
        self,
        account_id: str | None = None,
        *,
        kinds: Iterable[str] | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> dict[str, Any]:
        return await self._do(calls.risk_enforcements(account_id, kinds, offset, limit))

    async def risk_audit(self, offset: int = 0, limit: int = 100) -> dict[str, Any]:
        return await self._do(calls.risk_audit(offset, limit))

    async def risk_unlock(
        self, account_id: str, reason: str, rule: str | None = None
    ) -> dict[str, Any]:
        return await self._do(calls.risk_unlock(account_id, reason, rule))

    async def risk_set_rules(
        self, rules: Mapping[str, Mapping[str, Any]], account_id: str | None = None
    ) -> dict[str, Any]:
        return await self._do(calls.risk_set_rules(rules, account_id))

    async def venues(self) -> list[dict[str, Any]]:
        return await self._do(calls.VENUES)

    async def reconcile_venue(self, venue: str) -> dict[str, Any]:
        return await self._do(calls.reconcile_venue(venue))

    # -- live events --------------------------------------------------------------------------

    def ws_url(self) -> str:
        parts = urlsplit(self.base_url)
        scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
        return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/ws", "", ""))

    async def watch(
        self, topics: Iterable[str], bot_id: str = "*"
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Subscribe to ``topics`` of one bot (or ``"*"``) and yield every server message:
        ``subscribed``, one ``snapshot`` per topic, then ``event``s (and ``error``s).

        Ends when the daemon closes normally; raises ``StreamClosedError`` on any other close (1013:
        this consumer was too slow), ``ApiError`` 401 for a bad key, ``DaemonUnreachable``, and
        ``ApiError`` when the subscription itself is refused (an unknown bot): otherwise the
        caller would wait forever for events that never come.
        """
        # The key goes in a header, not ?token=: URLs end up in access logs.
        request = {"op": "subscribe", "topics": [str(topic) for topic in topics], "bot_id": bot_id}
        url = self.ws_url()
        try:
            async with connect(
                url,
                additional_headers=calls.headers(self._api_key),
                open_timeout=self._timeout,
                max_size=MAX_WS_MESSAGE_BYTES,
            ) as websocket:
                await websocket.send(json.dumps(request))
                subscribed = False
                async for raw in websocket:
                    message = json.loads(raw)
                    if not subscribed and message.get("type") == "error":
                        error = message.get("error") or {}
                        refused = str(error.get("code", "error"))
                        status = 404 if refused == "not_found" else 400
                        raise ApiError(status, refused, str(error.get("message", "")))
                    subscribed = subscribed or message.get("type") == "subscribed"
                    yield message
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else 1006
            reason = exc.rcvd.reason if exc.rcvd is not None else "connection lost"
            if code == _WS_UNAUTHORIZED:
                raise ApiError(401, "unauthorized", reason) from None
            raise StreamClosedError(code, reason) from None
        except InvalidStatus as exc:
            raise ApiError(exc.response.status_code, "http_error", "WebSocket refused") from None
        except InvalidURI as exc:
            raise DaemonUnreachable(url, "invalid URL") from exc
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            raise DaemonUnreachable(url, transport_reason(exc)) from exc
