"""Request authentication and rate limits, as docs/v5/guide and docs/v5/rate-limit describe.

REST: ``X-BAPI-SIGN`` = lowercase hex HMAC_SHA256(secret, timestamp + apiKey + recvWindow +
payload), payload being the query string exactly as sent (GET, "no need to sort") or the JSON
body exactly as sent (POST). The timestamp must satisfy
``server_time - recv_window <= timestamp < server_time + 1000``; recv_window defaults to 5000.

WebSocket (docs/v5/ws/connect#authentication): ``{"op": "auth", "args": [apiKey, expires,
signature]}`` with signature = hex HMAC_SHA256(secret, "GET/realtime" + expires) and expires
later than the server's time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import deque
from collections.abc import Mapping

from .wire import ApiError, RetCode

__all__ = [
    "DEFAULT_LIMITS",
    "RateLimiter",
    "rest_signature",
    "verify_rest",
    "verify_ws_auth",
    "ws_signature",
]

DEFAULT_RECV_WINDOW = 5000

#: Per-UID requests per second of docs/v5/rate-limit (UTA 2.0 Pro, linear).
DEFAULT_LIMITS: dict[str, int] = {
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


def rest_signature(
    secret: str, timestamp: str, api_key: str, recv_window: str, payload: str
) -> str:
    message = f"{timestamp}{api_key}{recv_window}{payload}"
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def ws_signature(secret: str, expires: int | str) -> str:
    return hmac.new(secret.encode(), f"GET/realtime{expires}".encode(), hashlib.sha256).hexdigest()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    return value if value else None


def verify_rest(
    headers: Mapping[str, str], payload: str, secrets: Mapping[str, str], now_ms: int
) -> str:
    """The API key of a correctly signed request, or ApiError with the documented retCode.

    ``headers`` must be case-insensitive (HTTP header names are)."""
    api_key = _header(headers, "x-bapi-api-key")
    timestamp = _header(headers, "x-bapi-timestamp")
    sign = _header(headers, "x-bapi-sign")
    if api_key is None or timestamp is None or sign is None:
        # docs/v5/error, HTTP 401: "Need to put authentication params in the request header"
        raise ApiError(
            RetCode.API_KEY,
            "missing X-BAPI-API-KEY, X-BAPI-TIMESTAMP or X-BAPI-SIGN header",
            http_status=401,
        )
    secret = secrets.get(api_key)
    if secret is None:
        raise ApiError(RetCode.API_KEY, http_status=401)
    recv_header = _header(headers, "x-bapi-recv-window")
    recv_text = recv_header if recv_header is not None else ""
    try:
        ts = int(timestamp)
        recv_window = int(recv_header) if recv_header is not None else DEFAULT_RECV_WINDOW
    except ValueError:
        raise ApiError(
            RetCode.PARAMS, "X-BAPI-TIMESTAMP and X-BAPI-RECV-WINDOW must be integers"
        ) from None
    if not now_ms - recv_window <= ts < now_ms + 1000:
        raise ApiError(
            RetCode.TIME_WINDOW,
            f"invalid request, please check your server timestamp or recv_window param. "
            f"req_timestamp[{ts}],server_timestamp[{now_ms}],recv_window[{recv_window}]",
        )
    expected = rest_signature(secret, timestamp, api_key, recv_text, payload)
    if not hmac.compare_digest(expected, sign.lower()):
        raise ApiError(RetCode.SIGN)
    return api_key


def verify_ws_auth(args: object, secrets: Mapping[str, str], now_ms: int) -> tuple[str | None, str]:
    """(api key, "") when ``args`` authenticates, else (None, reason)."""
    if not isinstance(args, list) or len(args) != 3:
        return None, "auth args must be [apiKey, expires, signature]"
    api_key, expires, signature = args
    if not isinstance(api_key, str) or api_key not in secrets:
        return None, "Invalid apikey"
    try:
        expires_ms = int(expires)
    except (TypeError, ValueError):
        return None, "Params Error: expires must be an integer (ms)"
    if expires_ms <= now_ms:
        return None, "Params Error: request expired"
    if not isinstance(signature, str) or not hmac.compare_digest(
        ws_signature(secrets[api_key], expires), signature.lower()
    ):
        return None, "Invalid sign"
    return api_key, ""


class RateLimiter:
    """A rolling window per (UID, path), as docs/v5/rate-limit describes (per second per UID)."""

    def __init__(self, limits: Mapping[str, int] = DEFAULT_LIMITS, window_ms: int = 1000) -> None:
        self._initial = (dict(limits), window_ms)
        self.limits = dict(limits)
        self.window_ms = window_ms
        self._hits: dict[tuple[str, str], deque[int]] = {}

    def reset(self) -> None:
        """Forget the counted requests and restore the limits given at construction."""
        self._hits.clear()
        self.limits = dict(self._initial[0])
        self.window_ms = self._initial[1]

    def hit(self, uid: str, path: str, now_ms: int) -> tuple[int, int, int, bool]:
        """(limit, remaining, reset timestamp, allowed); a refused request does not count."""
        limit = self.limits.get(path)
        if limit is None:
            return 0, 0, now_ms, True
        hits = self._hits.setdefault((uid, path), deque())
        while hits and hits[0] <= now_ms - self.window_ms:
            hits.popleft()
        if len(hits) >= limit:
            return limit, 0, hits[0] + self.window_ms, False
        hits.append(now_ms)
        return limit, limit - len(hits), now_ms, True
