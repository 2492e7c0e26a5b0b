"""Python clients of the daemon's API: ``AlgoTradeClient`` (sync) and ``AsyncAlgoTradeClient``.

Both return parsed JSON. An error answer raises ``ApiError`` (status, code, message); a daemon
that cannot be reached raises ``DaemonUnreachable``. The async client also streams live events
from ``/ws`` with ``watch``.

A bot's orders, fills and equity come in pages, oldest first, as the API serves them; with
``newest_first=True`` the clients count the page from the newest record instead (see
``_newest_first``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Generator, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import TracebackType
from typing import Any, Generic, Self, TypeVar, cast
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from algotrade.core.errors import AlgoTradeError, RetryableError

API_KEY_HEADER = "X-API-Key"
# Snapshots of many bots can exceed websockets' 1 MiB default frame limit.
MAX_WS_MESSAGE_BYTES = 16 * 1024 * 1024
_WS_UNAUTHORIZED = 4401


class ClientError(AlgoTradeError):
    """Root of the errors the clients raise."""


class ApiError(ClientError):
    """The daemon answered with an error: ``str`` is ``"409 conflict: bot 'x' exists"``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class DaemonUnreachable(ClientError, RetryableError):
    """No answer from the daemon (refused, timed out, connection broken)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot reach the daemon at {url}: {reason}")
        self.url = url
        self.reason = reason


class StreamClosedError(ClientError):
    """The daemon closed the event stream, e.g. 1013 when the client read too slowly."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"event stream closed by the daemon: {code} {reason}".rstrip())
        self.code = code
        self.reason = reason


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _transport_reason(exc: BaseException) -> str:
    # httpx's timeouts often carry no text; the class name still says what happened.
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})"
    return _one_line(str(exc)) or type(exc).__name__


def _error_from_response(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
        error = body["error"]
        return ApiError(response.status_code, str(error["code"]), _one_line(str(error["message"])))
    except (ValueError, KeyError, TypeError):
        # Not our error shape (a proxy in between, or not the daemon at all).
        return ApiError(response.status_code, "http_error", response.reason_phrase or "error")


def _parse(response: httpx.Response) -> Any:
    if response.is_error:
        raise _error_from_response(response)
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise ApiError(response.status_code, "bad_response", "the answer is not JSON") from None


def _json_body(data: Mapping[str, Any]) -> bytes:
    # Decimal as exact text, which BotConfig accepts: floats would round money.
    def default(value: object) -> str:
        if isinstance(value, Decimal):
            return str(value)
        raise TypeError(f"cannot send a {type(value).__name__} as JSON")

    return json.dumps(dict(data), default=default).encode()


def _bot_path(bot_id: str, suffix: str = "") -> str:
    return f"/api/bots/{quote(bot_id, safe='')}{suffix}"


def _headers(api_key: str | None) -> dict[str, str]:
    return {API_KEY_HEADER: api_key} if api_key else {}


T = TypeVar("T")
_Obj = dict[str, Any]
_Objs = list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class _Req(Generic[T]):
    """One API call, built once and executed by either client; ``T`` is what it answers."""

    method: str
    path: str
    params: dict[str, int] | None = None
    body: Mapping[str, Any] | None = None
    text: bool = False  # answer is plain text (metrics), not JSON

    def kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if self.params is not None:
            kwargs["params"] = self.params
        if self.body is not None:
            kwargs["content"] = _json_body(self.body)
            kwargs["headers"] = {"Content-Type": "application/json"}
        return kwargs

    def parse(self, response: httpx.Response) -> T:
        if self.text and not response.is_error:
            return cast(T, response.text)
        return cast(T, _parse(response))


def _obj(method: str, path: str, body: Mapping[str, Any] | None = None) -> _Req[_Obj]:
    return _Req(method, path, body=body)


def _objs(path: str) -> _Req[_Objs]:
    return _Req("GET", path)


def _delete(path: str) -> _Req[None]:
    return _Req("DELETE", path)


def _page(bot_id: str, what: str, offset: int, limit: int) -> _Req[_Obj]:
    return _Req("GET", _bot_path(bot_id, f"/{what}"), params={"offset": offset, "limit": limit})


# A call made of several requests, written once for both clients: the generator yields each
# request, receives its answer, and returns the result (see ``_run`` of each client).
_Steps = Generator[_Req[Any], Any, T]


def _newest_first(bot_id: str, what: str, offset: int, limit: int) -> _Steps[_Obj]:
    """A page of a bot's ``what`` (orders, fills, equity) counted from the newest record: the
    ``offset`` newest are skipped, then up to ``limit`` records, newest first.

    The API pages oldest first; the total in its answer locates the wanted window, which a
    second request fetches (unless the first answer holds it). A record stored between the two
    requests shifts the window by one: the page is still a consecutive run of records.
    """
    probe = yield _page(bot_id, what, 0, 1)
    total = int(probe["total"])
    end = max(total - offset, 0)  # oldest-first index just past the newest record wanted
    start = max(end - limit, 0)
    if end <= len(probe["items"]):
        items = probe["items"][start:end]
    else:
        page = yield _page(bot_id, what, start, end - start)
        items, total = page["items"], int(page["total"])
    return {
        "items": items[::-1],
        "total": total,
        "offset": offset,
        "limit": limit,
        "order": "newest_first",
    }


def _records(bot_id: str, what: str, offset: int, limit: int, newest_first: bool) -> _Steps[_Obj]:
    if newest_first:
        return (yield from _newest_first(bot_id, what, offset, limit))
    page: _Obj = yield _page(bot_id, what, offset, limit)
    return page


def _control(bot_id: str, command: str) -> _Req[_Obj]:
    return _Req("PUT", _bot_path(bot_id, f"/{command}"))


_LIST_BOTS: _Req[_Objs] = _Req("GET", "/api/bots")
_HEALTH: _Req[_Obj] = _Req("GET", "/api/health")
_VERSION: _Req[_Obj] = _Req("GET", "/api/version")
_METRICS: _Req[str] = _Req("GET", "/metrics", text=True)


class AlgoTradeClient:
    """Blocking client; use as a context manager or call ``close()``."""

    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 10) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url, headers=_headers(api_key), timeout=timeout
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _do(self, req: _Req[T]) -> T:
        try:
            response = self._http.request(req.method, req.path, **req.kwargs())
        except httpx.TransportError as exc:
            raise DaemonUnreachable(self.base_url, _transport_reason(exc)) from exc
        return req.parse(response)

    def _run(self, steps: _Steps[T]) -> T:
        request = next(steps)
        while True:
            try:
                request = steps.send(self._do(request))
            except StopIteration as done:
                return cast(T, done.value)

    def list_bots(self) -> list[dict[str, Any]]:
        return self._do(_LIST_BOTS)

    def get_bot(self, bot_id: str) -> dict[str, Any]:
        """``{"config": {...}, "status": {...}}``."""
        return self._do(_obj("GET", _bot_path(bot_id)))

    def create_bot(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Create a (stopped) bot from a BotConfig-shaped mapping; answers its status."""
        return self._do(_obj("POST", "/api/bots", body=config))

    def delete_bot(self, bot_id: str) -> None:
        self._do(_delete(_bot_path(bot_id)))

    def start_bot(self, bot_id: str) -> dict[str, Any]:
        return self._do(_control(bot_id, "start"))

    def stop_bot(self, bot_id: str) -> dict[str, Any]:
        return self._do(_control(bot_id, "stop"))

    def pause_bot(self, bot_id: str) -> dict[str, Any]:
        return self._do(_control(bot_id, "pause"))

    def resume_bot(self, bot_id: str) -> dict[str, Any]:
        return self._do(_control(bot_id, "resume"))

    def update_config(self, bot_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Change some config fields; answers the whole new config."""
        return self._do(_obj("PATCH", _bot_path(bot_id, "/config"), body=changes))

    def orders(
        self, bot_id: str, offset: int = 0, limit: int = 100, *, newest_first: bool = False
    ) -> dict[str, Any]:
        """``{"items": [...], "total", "offset", "limit"}``, oldest first; with
        ``newest_first`` the ``offset`` counts from the newest (and ``"order"`` says so)."""
        return self._run(_records(bot_id, "orders", offset, limit, newest_first))

    def fills(
        self, bot_id: str, offset: int = 0, limit: int = 100, *, newest_first: bool = False
    ) -> dict[str, Any]:
        return self._run(_records(bot_id, "fills", offset, limit, newest_first))

    def equity(
        self, bot_id: str, offset: int = 0, limit: int = 100, *, newest_first: bool = False
    ) -> dict[str, Any]:
        """Equity snapshots: ``timestamp``, ``equity``, ``cash``, PnL and fees."""
        return self._run(_records(bot_id, "equity", offset, limit, newest_first))

    def positions(self, bot_id: str) -> list[dict[str, Any]]:
        return self._do(_objs(_bot_path(bot_id, "/positions")))

    def health(self) -> dict[str, Any]:
        return self._do(_HEALTH)

    def version(self) -> dict[str, Any]:
        """``{"version": "..."}``."""
        return self._do(_VERSION)

    def metrics_text(self) -> str:
        """The Prometheus exposition text."""
        return self._do(_METRICS)

    # -- account risk (/api/risk) ------------------------------------------------------------

    @staticmethod
    def _risk_path(what: str, **query: str | int | bool | list[str] | None) -> str:
        """``/api/risk/<what>?...``: None values left out, lists repeated, bools as true/false."""
        parts: list[str] = []
        for key, value in query.items():
            for item in value if isinstance(value, list) else [value]:
                if item is None:
                    continue
                text = ("true" if item else "false") if isinstance(item, bool) else str(item)
                parts.append(f"{key}={quote(text, safe='')}")
        return f"/api/risk/{what}" + ("?" + "&".join(parts) if parts else "")

    def risk_accounts(self) -> list[dict[str, Any]]:
        """Every guarded account's risk snapshot: balance, equity, daily PnL, positions,
        lockouts, rules."""
        return self._do(_objs(self._risk_path("accounts")))

    def risk_account(self, account_id: str) -> dict[str, Any]:
        """One account's risk snapshot; ``ApiError`` 404 for an unknown account."""
        return self._do(_obj("GET", self._risk_path(f"accounts/{quote(account_id, safe='')}")))

    def risk_lockouts(
        self,
        account_id: str | None = None,
        *,
        active_only: bool = True,
        offset: int = 0,
        limit: int = 100,
    ) -> dict[str, Any]:
        """A page of lockouts, oldest first: ``{"items", "total", "offset", "limit"}``;
        ``active_only=False`` includes cleared ones."""
        path = self._risk_path(
            "lockouts", account_id=account_id, active_only=active_only, offset=offset, limit=limit
        )
        return self._do(_obj("GET", path))

    def risk_enforcements(
        self,
        account_id: str | None = None,
        *,
        kinds: Iterable[str] | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> dict[str, Any]:
        """A page of the risk log, oldest first; ``kinds`` keeps only those (breach, lockout,
        enforcement, alert, expiry, reset, unlock, ...)."""
        path = self._risk_path(
            "enforcements",
            account_id=account_id,
            kind=None if kinds is None else list(kinds),
            offset=offset,
            limit=limit,
        )
        return self._do(_obj("GET", path))

    def risk_audit(self, offset: int = 0, limit: int = 100) -> dict[str, Any]:
        """A page of the audit trail (unlocks, rule changes), oldest first."""
        return self._do(_obj("GET", self._risk_path("audit", offset=offset, limit=limit)))

    def risk_unlock(self, account_id: str, reason: str, rule: str | None = None) -> dict[str, Any]:
        """Clear the account's lockouts (of ``rule`` only, when given); admin key only.
        Answers ``{"account_id", "cleared": [rule, ...]}``."""
        path = self._risk_path(f"accounts/{quote(account_id, safe='')}/unlock")
        body: dict[str, Any] = (
            {"reason": reason} if rule is None else {"reason": reason, "rule": rule}
        )
        return self._do(_obj("POST", path, body=body))

    def venues(self) -> list[dict[str, Any]]:
        """Each connected live venue: connection, last reconciliation, blocked symbols,
        alerts and counters (empty when no bot uses a live venue)."""
        return self._do(_objs("/api/venues"))

    def reconcile_venue(self, venue: str) -> dict[str, Any]:
        """Reconcile a live venue now (admin key); answers its state afterwards."""
        return self._do(_obj("POST", f"/api/venues/{quote(venue, safe='')}/reconcile"))

    def risk_set_rules(
        self, rules: Mapping[str, Mapping[str, Any]], account_id: str | None = None
    ) -> dict[str, Any]:
        """Change rule parameters (``{rule: {param: value}}``) of one account, or of all when
        ``account_id`` is None; admin key only. Answers ``{"account_id", "applied"}``."""
        body = {"account_id": account_id, "rules": {k: dict(v) for k, v in rules.items()}}
        return self._do(_obj("PUT", self._risk_path("rules"), body=body))


class AsyncAlgoTradeClient:
    """Asyncio client: the same calls as ``AlgoTradeClient``, plus ``watch`` for live events."""

    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 10) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._timeout = timeout
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=_headers(api_key), timeout=timeout
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

    async def _do(self, req: _Req[T]) -> T:
        try:
            response = await self._http.request(req.method, req.path, **req.kwargs())
        except httpx.TransportError as exc:
            raise DaemonUnreachable(self.base_url, _transport_reason(exc)) from exc
        return req.parse(response)

    async def _run(self, steps: _Steps[T]) -> T:
        request = next(steps)
        while True:
            try:
                request = steps.send(await self._do(request))
            except StopIteration as done:
                return cast(T, done.value)

    async def list_bots(self) -> list[dict[str, Any]]:
        return await self._do(_LIST_BOTS)

    async def get_bot(self, bot_id: str) -> dict[str, Any]:
        return await self._do(_obj("GET", _bot_path(bot_id)))

    async def create_bot(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return await self._do(_obj("POST", "/api/bots", body=config))

    async def delete_bot(self, bot_id: str) -> None:
        await self._do(_delete(_bot_path(bot_id)))

    async def start_bot(self, bot_id: str) -> dict[str, Any]:
        return await self._do(_control(bot_id, "start"))

    async def stop_bot(self, bot_id: str) -> dict[str, Any]:
        return await self._do(_control(bot_id, "stop"))

    async def pause_bot(self, bot_id: str) -> dict[str, Any]:
        return await self._do(_control(bot_id, "pause"))

    async def resume_bot(self, bot_id: str) -> dict[str, Any]:
        return await self._do(_control(bot_id, "resume"))

    async def update_config(self, bot_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        return await self._do(_obj("PATCH", _bot_path(bot_id, "/config"), body=changes))

    async def orders(
        self, bot_id: str, offset: int = 0, limit: int = 100, *, newest_first: bool = False
    ) -> dict[str, Any]:
        return await self._run(_records(bot_id, "orders", offset, limit, newest_first))

    async def fills(
        self, bot_id: str, offset: int = 0, limit: int = 100, *, newest_first: bool = False
    ) -> dict[str, Any]:
        return await self._run(_records(bot_id, "fills", offset, limit, newest_first))

    async def equity(
        self, bot_id: str, offset: int = 0, limit: int = 100, *, newest_first: bool = False
    ) -> dict[str, Any]:
        return await self._run(_records(bot_id, "equity", offset, limit, newest_first))

    async def positions(self, bot_id: str) -> list[dict[str, Any]]:
        return await self._do(_objs(_bot_path(bot_id, "/positions")))

    async def health(self) -> dict[str, Any]:
        return await self._do(_HEALTH)

    async def version(self) -> dict[str, Any]:
        return await self._do(_VERSION)

    async def metrics_text(self) -> str:
        return await self._do(_METRICS)

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
                additional_headers=_headers(self._api_key),
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
            raise DaemonUnreachable(url, _transport_reason(exc)) from exc

    # -- account risk (/api/risk): the calls of ``AlgoTradeClient`` -----------------------------

    async def risk_accounts(self) -> list[dict[str, Any]]:
        return await self._do(_objs(AlgoTradeClient._risk_path("accounts")))

    async def risk_account(self, account_id: str) -> dict[str, Any]:
        path = AlgoTradeClient._risk_path(f"accounts/{quote(account_id, safe='')}")
        return await self._do(_obj("GET", path))

    async def risk_lockouts(
        self,
        account_id: str | None = None,
        *,
        active_only: bool = True,
        offset: int = 0,
        limit: int = 100,
    ) -> dict[str, Any]:
        path = AlgoTradeClient._risk_path(
            "lockouts", account_id=account_id, active_only=active_only, offset=offset, limit=limit
        )
        return await self._do(_obj("GET", path))

    async def risk_enforcements(
        self,
        account_id: str | None = None,
        *,
        kinds: Iterable[str] | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> dict[str, Any]:
        path = AlgoTradeClient._risk_path(
            "enforcements",
            account_id=account_id,
            kind=None if kinds is None else list(kinds),
            offset=offset,
            limit=limit,
        )
        return await self._do(_obj("GET", path))

    async def risk_audit(self, offset: int = 0, limit: int = 100) -> dict[str, Any]:
        path = AlgoTradeClient._risk_path("audit", offset=offset, limit=limit)
        return await self._do(_obj("GET", path))

    async def risk_unlock(
        self, account_id: str, reason: str, rule: str | None = None
    ) -> dict[str, Any]:
        path = AlgoTradeClient._risk_path(f"accounts/{quote(account_id, safe='')}/unlock")
        body: dict[str, Any] = (
            {"reason": reason} if rule is None else {"reason": reason, "rule": rule}
        )
        return await self._do(_obj("POST", path, body=body))

    async def risk_set_rules(
        self, rules: Mapping[str, Mapping[str, Any]], account_id: str | None = None
    ) -> dict[str, Any]:
        body = {"account_id": account_id, "rules": {k: dict(v) for k, v in rules.items()}}
        return await self._do(_obj("PUT", AlgoTradeClient._risk_path("rules"), body=body))
