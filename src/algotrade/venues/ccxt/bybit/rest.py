"""Bybit v5 REST through ccxt: signing and transport by ``ccxt.async_support.bybit``, the
endpoints, error mapping, rate limiting and retries here.

ccxt signs each request as docs/v5/guide says (``X-BAPI-*`` headers, HMAC-SHA256 over
timestamp + key + recvWindow + query or body) and sends it to the configured base URL (every
entry of ``exchange.urls['api']`` points there). Only ccxt's raw v5 endpoints are used, not its
unified methods: those return floats (money here is exact), call account endpoints on their
own (``is_unified_enabled``, currencies) and hide the retCodes idempotency depends on.
Replies are parsed with ``Decimal`` for any JSON number.

Errors (``errors.py``, codes as docs/v5/error and docs/v5/rate-limit define them): retCode
10006 / HTTP 429 → ``RateLimited`` until ``X-Bapi-Limit-Reset-Timestamp`` (the endpoint pauses
until then); retCode 429/10429 (system busy: "please retry") → ``RateLimited`` for a second;
HTTP 403 (the IP rate limit was breached: wait at least 10 minutes) and retCode 10018 (the
retired "exceeded the IP rate limit") → every endpoint pauses ``ip_ban_backoff_s``; 110072 →
``DuplicateClientId``; 110001 → ``OrderUnknown``; 110008/110010 → ``OrderFinished``; key,
secret, permission, bound-IP and expiry codes → ``AuthFailed``; 10009 (access restricted for
this IP or region; earlier docs: "IP has been banned") → ``AccessRestricted``; a timeout, HTTP
5xx, retCode 10000/10016, a broken connection or an unreadable reply → ``OutcomeUnknown``; any
other retCode → ``VenueRefused``. Each key or access error says what the operator has to do.
Reads are retried (``max_retries``) after ``RateLimited`` (but not after an IP ban) and
``OutcomeUnknown``; writes only after ``RateLimited`` (not executed), never after
``OutcomeUnknown``; nothing else is retried.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt_async
from ccxt.base import errors as ccxt_errors

from algotrade.core.events import OrderSide
from algotrade.core.money import decimal_text
from algotrade.venues.ccxt.bybit import parse
from algotrade.venues.ccxt.bybit.config import BybitConfig
from algotrade.venues.ccxt.credentials import ApiCredentials
from algotrade.venues.ccxt.errors import (
    AccessRestricted,
    AuthFailed,
    DuplicateClientId,
    OrderFinished,
    OrderUnknown,
    OutcomeUnknown,
    PayloadError,
    RateLimited,
    VenueRefused,
)
from algotrade.venues.ccxt.model import (
    Balance,
    Candle,
    InstrumentInfo,
    PlaceRequest,
    VenueFill,
    VenueOrder,
    VenuePosition,
)
from algotrade.venues.ccxt.ratelimit import RateLimiter

__all__ = ["BybitRest", "api_error"]

_log = logging.getLogger("algotrade.venues.bybit.rest")
_RESET_HEADER = "x-bapi-limit-reset-timestamp"
# What each refused-credentials code means for the operator (docs/v5/error).
_AUTH_HINTS = {
    10003: "the API key is invalid for this network (mainnet, testnet and demo keys differ): "
    "check the key and venues.bybit.network",
    10004: "the signature was refused: check the API secret",
    10005: "the API key lacks a permission this request needs: enable it for the key on Bybit",
    10007: "user authentication failed: check the API key and secret",
    10010: "this machine's IP address is not among the API key's bound IP addresses: add it "
    "to the key on Bybit",
    33004: "the API key has expired: create a new one",
    -2015: "the API key has expired: create a new one",
}
_ACCESS_RESTRICTED = 10009
_RESTRICTED_HINT = (
    "Bybit refuses access from this IP address or region; the API key is not the problem and "
    "retrying does not help: contact Bybit support"
)
_IP_RATE_LIMIT = 10018  # struck from the error table; if sent, the IP ban of HTTP 403
# Refusals whose cause is on our side, with what the operator can do about it.
_REFUSAL_HINTS = {
    10002: "this machine's clock and Bybit's differ by more than the receive window: "
    "synchronise the clock (NTP) or raise venues.bybit.recv_window_ms",
}
_UNKNOWN_CODES = frozenset({10000, 10016})  # server timeout / server error: may have acted
# 429: "the trading service is experiencing a high server load. Please retry"; 10429:
# "system level frequency protection" (docs/v5/error).
_BUSY_CODES = frozenset({429, 10429})
_BUSY_RETRY_MS = 1000
_LEVERAGE_NOT_MODIFIED = 110043
_DAY_MS = 86_400_000
_WEEK_MS = 7 * _DAY_MS
_MAX_PAGES = 200  # a bound on cursor loops (20,000 rows of executions)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return str(value)
    return None


def api_error(code: int, message: str, headers: Mapping[str, Any] | None = None) -> Exception:
    """The error for a reply with ``retCode`` ``code`` (non-zero)."""
    text = f"Bybit {code}: {message}"
    if code == 10006:
        reset = _header(headers, _RESET_HEADER)
        retry_at = int(reset) if reset and reset.isdigit() else _now_ms() + 1000
        return RateLimited(text, retry_at_ms=retry_at)
    if code in _BUSY_CODES:  # the request was not processed: "please retry" (error docs)
        return RateLimited(text, retry_at_ms=_now_ms() + _BUSY_RETRY_MS)
    if code == _IP_RATE_LIMIT:
        return RateLimited(f"{text} (the IP rate limit: every request pauses)", retry_at_ms=-1)
    if code in _AUTH_HINTS:
        return AuthFailed(f"{text} ({_AUTH_HINTS[code]})")
    if code == _ACCESS_RESTRICTED:
        return AccessRestricted(f"{text} ({_RESTRICTED_HINT})")
    if code in _UNKNOWN_CODES:
        return OutcomeUnknown(text)
    if code == 110072:
        return DuplicateClientId(text)
    if code == 110001:
        return OrderUnknown(text, code=code)
    if code in (110008, 110010):
        return OrderFinished(text, code=code)
    hint = _REFUSAL_HINTS.get(code)
    return VenueRefused(f"{text} ({hint})" if hint else text, code=code)


class _CcxtBybit(ccxt_async.bybit):  # type: ignore[misc]
    """ccxt's Bybit with exact numbers and this package's error mapping."""

    on_json_response = staticmethod(lambda text: json.loads(text, parse_float=Decimal))

    def handle_errors(
        self,
        code: int,
        reason: str,
        url: str,
        method: str,
        headers: Any,
        body: str,
        response: Any,
        request_headers: Any,
        request_body: Any,
    ) -> None:
        if code == 429:
            reset = _header(headers, _RESET_HEADER)
            retry_at = int(reset) if reset and reset.isdigit() else _now_ms() + 1000
            raise RateLimited(f"Bybit HTTP 429 on {method} {url}", retry_at_ms=retry_at)
        if code == 403:  # docs/v5/rate-limit: "access too frequent", wait >= 10 minutes
            raise RateLimited(
                f"Bybit HTTP 403 (access too frequent: the IP rate limit) on {url}",
                retry_at_ms=-1,
            )
        if code == 401:
            ret = response.get("retCode") if isinstance(response, dict) else None
            if isinstance(ret, int) and ret:  # the retCode says which credential is wrong
                raise api_error(ret, str(response.get("retMsg", "")), headers)
            raise AuthFailed(f"Bybit HTTP 401 on {url}: {str(body)[:200]}")
        if code >= 500:
            raise OutcomeUnknown(f"Bybit HTTP {code} on {method} {url}")
        if not isinstance(response, dict):
            raise OutcomeUnknown(f"Bybit HTTP {code}: unreadable reply {str(body)[:120]!r}")
        ret = response.get("retCode", response.get("ret_code"))
        if ret in (0, "0"):
            return
        try:
            number = int(str(ret))
        except ValueError:
            raise OutcomeUnknown(f"Bybit reply without a retCode: {str(body)[:120]!r}") from None
        raise api_error(number, str(response.get("retMsg", "")), headers)


def _make_exchange(config: BybitConfig, credentials: ApiCredentials | None) -> Any:
    base = config.base_url
    settings: dict[str, Any] = {
        "enableRateLimit": False,  # ours: per endpoint, see ratelimit.py
        "timeout": int(config.request_timeout_s * 1000),
        "options": {"recvWindow": config.recv_window_ms, "adjustForTimeDifference": False},
    }
    if credentials is not None:
        settings["apiKey"] = credentials.api_key
        settings["secret"] = credentials.api_secret
    exchange = _CcxtBybit(settings)
    exchange.urls["api"] = dict.fromkeys(("spot", "futures", "v2", "public", "private"), base)
    return exchange


def _text(value: Decimal) -> str:
    return decimal_text(value)


class BybitRest:
    """Typed Bybit v5 endpoints for linear USDT perpetuals (one UID)."""

    def __init__(
        self,
        config: BybitConfig,
        credentials: ApiCredentials | None,
        *,
        limiter: RateLimiter | None = None,
        exchange: Any = None,
    ) -> None:
        self.config = config
        self.credentials = credentials
        self.limiter = limiter or RateLimiter(config.rate_limits, config.ip_requests_per_5s)
        self._exchange = exchange if exchange is not None else _make_exchange(config, credentials)
        self.stats: Counter[str] = Counter()

    async def close(self) -> None:
        await self._exchange.close()

    def counters(self) -> dict[str, int]:
        return {
            "http_requests": self.stats["requests"],
            "http_rate_limited": self.stats["rate_limited"],
            "http_failures": self.stats["failures"],
            "http_unknown_outcome": self.stats["unknown_outcome"],
            "http_waits": self.limiter.stats.waits,
        }

    # ------------------------------------------------------------------ transport
    async def call(
        self, method: str, path: str, params: dict[str, Any], *, private: bool, write: bool
    ) -> dict[str, Any]:
        """One request (with retries: see the module doc); the whole reply envelope."""
        attempt = 0
        while True:
            await self.limiter.acquire(path)
            self.stats["requests"] += 1
            try:
                reply = await self._request(method, path, params, private)
            except RateLimited as exc:
                self.stats["rate_limited"] += 1
                if exc.retry_at_ms < 0:  # HTTP 403 / 10018: the IP is banned for a while
                    until = _now_ms() + int(self.config.ip_ban_backoff_s * 1000)
                    self.limiter.pause_until(None, until)
                    exc.retry_at_ms = until
                    raise
                wait = self.limiter.pause_until(path, exc.retry_at_ms)
                _log.warning("%s %s: %s; waiting %.2fs", method, path, exc, wait)
                if attempt >= self.config.max_retries:
                    raise
            except OutcomeUnknown as exc:
                self.stats["unknown_outcome"] += 1
                if write or attempt >= self.config.max_retries:
                    raise
                _log.warning("%s %s: %s; retrying", method, path, exc)
                await asyncio.sleep(min(0.2 * 2**attempt, 5.0))
            except (VenueRefused, AuthFailed, AccessRestricted, DuplicateClientId, PayloadError):
                self.stats["failures"] += 1
                raise
            else:
                if not isinstance(reply, dict):
                    raise PayloadError(f"{path}: the reply is not a JSON object")
                return reply
            attempt += 1

    async def _request(self, method: str, path: str, params: dict[str, Any], private: bool) -> Any:
        api = ["private" if private else "public"]
        try:
            return await self._exchange.request(path.lstrip("/"), api, method, params)
        except (
            RateLimited,
            OutcomeUnknown,
            AuthFailed,
            AccessRestricted,
            VenueRefused,
            DuplicateClientId,
        ):
            raise
        except ccxt_errors.AuthenticationError as exc:
            raise AuthFailed(f"Bybit {path}: {exc}") from exc
        except ccxt_errors.RequestTimeout as exc:
            raise OutcomeUnknown(
                f"Bybit {path}: no reply within {self.config.request_timeout_s}s"
            ) from exc
        except ccxt_errors.BaseError as exc:  # unreachable, connection broken, 5xx …
            raise OutcomeUnknown(f"Bybit {path}: {type(exc).__name__}: {exc}") from exc

    async def _get(
        self, path: str, params: dict[str, Any], *, private: bool = True
    ) -> dict[str, Any]:
        return await self.call("GET", path, params, private=private, write=False)

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self.call("POST", path, body, private=True, write=True)

    async def _pages(self, path: str, params: dict[str, Any], *, private: bool = True) -> list[Any]:
        rows: list[Any] = []
        cursor = ""
        for _ in range(_MAX_PAGES):
            query = {**params, **({"cursor": cursor} if cursor else {})}
            page, cursor = parse.result_list(await self._get(path, query, private=private), path)
            rows.extend(page)
            if not cursor or not page:
                return rows
        _log.warning("%s: stopped after %d pages", path, _MAX_PAGES)
        return rows

    # ------------------------------------------------------------------ market
    async def instruments(self) -> list[InstrumentInfo]:
        rows = await self._pages(
            "/v5/market/instruments-info",
            {"category": self.config.category, "limit": "1000"},
            private=False,
        )
        return [parse.instrument(row) for row in rows]

    async def candles(
        self, symbol: str, interval: str, start_ms: int | None, end_ms: int, limit: int
    ) -> list[Candle]:
        params = {
            "category": self.config.category,
            "symbol": symbol,
            "interval": interval,
            **({} if start_ms is None else {"start": str(start_ms)}),
            "end": str(end_ms),
            "limit": str(min(max(limit, 1), 1000)),
        }
        reply = await self._get("/v5/market/kline", params, private=False)
        rows, _ = parse.result_list(reply, "/v5/market/kline")
        candles = [parse.candle_row(row, symbol, interval) for row in rows]
        return sorted(candles, key=lambda c: c.open_ms)

    # ------------------------------------------------------------------ trading
    async def place(self, request: PlaceRequest) -> str:
        body: dict[str, Any] = {
            "category": self.config.category,
            "symbol": request.symbol,
            "side": "Buy" if request.side is OrderSide.BUY else "Sell",
            "orderType": request.order_type,
            "qty": _text(request.qty),
            "orderLinkId": request.link_id,
            "positionIdx": 0,
        }
        if request.order_type == "Limit":
            assert request.price is not None
            body["price"] = _text(request.price)
            body["timeInForce"] = request.tif
        if request.reduce_only:
            body["reduceOnly"] = True
        reply = await self._post("/v5/order/create", body)
        result = reply.get("result")
        if not isinstance(result, dict) or not result.get("orderId"):
            raise OutcomeUnknown("/v5/order/create: the reply has no orderId")
        return str(result["orderId"])

    async def amend(
        self, symbol: str, link_id: str, qty: Decimal | None, price: Decimal | None
    ) -> None:
        body: dict[str, Any] = {
            "category": self.config.category,
            "symbol": symbol,
            "orderLinkId": link_id,
        }
        if qty is not None:
            body["qty"] = _text(qty)
        if price is not None:
            body["price"] = _text(price)
        await self._post("/v5/order/amend", body)

    async def cancel(self, symbol: str, link_id: str) -> None:
        body = {"category": self.config.category, "symbol": symbol, "orderLinkId": link_id}
        await self._post("/v5/order/cancel", body)

    async def set_leverage(self, symbol: str, leverage: Decimal) -> None:
        text = _text(leverage)
        body = {
            "category": self.config.category,
            "symbol": symbol,
            "buyLeverage": text,
            "sellLeverage": text,
        }
        try:
            await self._post("/v5/position/set-leverage", body)
        except VenueRefused as exc:
            if exc.code != _LEVERAGE_NOT_MODIFIED:
                raise

    # ------------------------------------------------------------------ queries
    async def find_order(self, symbol: str, link_id: str) -> VenueOrder | None:
        """By orderLinkId: /v5/order/realtime first (open and recent closed orders), then
        /v5/order/history (docs: after a venue restart closed orders are only there)."""
        params = {"category": self.config.category, "symbol": symbol, "orderLinkId": link_id}
        for path in ("/v5/order/realtime", "/v5/order/history"):
            rows, _ = parse.result_list(await self._get(path, params), path)
            found = [parse.order(row) for row in rows]
            found = [o for o in found if o.link_id == link_id]
            if found:
                return max(found, key=lambda o: o.updated_ms)
        return None

    async def open_orders(self) -> list[VenueOrder]:
        rows = await self._pages(
            "/v5/order/realtime",
            {
                "category": self.config.category,
                "settleCoin": self.config.settle_coin,
                "limit": "50",
            },
        )
        return [parse.order(row) for row in rows]

    async def fills_since(self, start_ms: int) -> list[VenueFill]:
        """Executions since ``start_ms``, oldest first."""
        return await self._executions({}, start_ms)

    async def fills_of_order(self, symbol: str, order_id: str, since_ms: int) -> list[VenueFill]:
        """The executions of one order (placed at or after ``since_ms``), oldest first."""
        return await self._executions({"symbol": symbol, "orderId": order_id}, since_ms)

    async def _executions(self, scope: dict[str, str], start_ms: int) -> list[VenueFill]:
        """/v5/execution/list in windows of at most 7 days (the endpoint's limit; without a
        window it answers the last 7 days only), from ``start_ms`` (at most a year back)."""
        now = _now_ms()
        start = max(start_ms, now - 365 * _DAY_MS)
        fills: list[VenueFill] = []
        while start <= now:
            end = min(start + _WEEK_MS - 1, now + 1000)
            params = {
                "category": self.config.category,
                **scope,
                "startTime": str(start),
                "endTime": str(end),
                "limit": "100",
            }
            fills.extend(parse.fill(row) for row in await self._pages("/v5/execution/list", params))
            start = end + 1
        unique = {f.exec_id: f for f in fills}
        return sorted(unique.values(), key=lambda f: (f.time_ms, f.exec_id))

    async def positions(self) -> tuple[int, list[VenuePosition]]:
        params = {
            "category": self.config.category,
            "settleCoin": self.config.settle_coin,
            "limit": "200",
        }
        reply = await self._get("/v5/position/list", params)
        rows, cursor = parse.result_list(reply, "/v5/position/list")
        at_ms = int(str(reply.get("time") or _now_ms()))
        if cursor:
            rows = rows + await self._pages("/v5/position/list", {**params, "cursor": cursor})
        return at_ms, [parse.position(row) for row in rows]

    async def balance(self) -> Balance | None:
        reply = await self._get(
            "/v5/account/wallet-balance",
            {"accountType": self.config.account_type, "coin": self.config.settle_coin},
        )
        rows, _ = parse.result_list(reply, "/v5/account/wallet-balance")
        at_ms = int(str(reply.get("time") or _now_ms()))
        for row in rows:
            found = parse.balance(row, self.config.settle_coin, at_ms)
            if found is not None:
                return found
        return None
