"""``GatewayTransport``: POSTs JSON to the ProjectX gateway with auth, limits and retries.

- Auth: ``Auth/loginKey`` on first use; the token is renewed with ``Auth/validate`` once it is
  within ``token_renew_margin_s`` of expiry (falling back to ``loginKey`` when validate fails),
  and once more on an HTTP 401 before the request is retried a single time.
- Rate limits, as documented: ``History/retrieveBars`` 30 requests / 30 s, every other endpoint
  200 / 60 s (two ``AsyncLimiter`` budgets; auth calls are charged to the general one).
- HTTP 429: exponential back-off with jitter (``Retry-After`` wins), up to ``max_retries``.
- 5xx and transport errors: retried on reads; on order actions (place, modify, cancel, close) a
  timeout, broken connection or 5xx after sending raises ``ProjectXRequestTimeout`` at once.
- At most ``max_in_flight`` requests on the wire at once, the rest wait their turn
  (``QueuedHttpClient``); one that waited ``queue_timeout_s`` in vain raises
  ``ProjectXRequestFailed`` ("not sent: waited …") at once: it never left.
- The envelope ``{success, errorCode, errorMessage}``: ``success: false`` raises
  ``ProjectXOrderRejected`` for order actions, ``ProjectXAuthError`` for auth, else
  ``ProjectXApiError``.

Request bodies and tokens are never logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from enum import Enum
from typing import Any, Protocol

import httpx
from aiolimiter import AsyncLimiter

from algotrade.venues.live.excerpts import body_excerpt, describe_error
from algotrade.venues.live.http_queue import QueuedHttpClient, RequestNotSent
from algotrade.venues.live.lifecycle import AsyncClosing
from algotrade.venues.projectx.auth import SessionToken
from algotrade.venues.projectx.config import ProjectXConfig, ProjectXCredentials
from algotrade.venues.projectx.errors import (
    ProjectXApiError,
    ProjectXAuthError,
    ProjectXBadRequest,
    ProjectXOrderRejected,
    ProjectXPayloadError,
    ProjectXRateLimited,
    ProjectXRequestFailed,
    ProjectXRequestTimeout,
)

__all__ = ["BARS_PATH", "GatewayTransport", "Kind", "Limiter"]

_log = logging.getLogger(__name__)

LOGIN_PATH = "/api/Auth/loginKey"
VALIDATE_PATH = "/api/Auth/validate"
BARS_PATH = "/api/History/retrieveBars"

BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 30.0
RETRY_AFTER_MAX_S = 60.0
_BODY_EXCERPT = 200
_NOT_CONNECTED = (httpx.ConnectError, httpx.ConnectTimeout)


class Kind(Enum):
    READ = "read"  # safe to resend
    ACTION = "action"  # changes orders/positions: never resent after it may have been applied
    AUTH = "auth"


class Limiter(Protocol):
    async def acquire(self, amount: float = 1) -> None: ...


def _encode(value: Any) -> Any:
    # Prices go out as JSON numbers; a float's shortest repr of a tick-quantized Decimal is
    # the same digits (6335.25 -> 6335.25).
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


class GatewayTransport(AsyncClosing):
    """The constructor does no I/O; ``start()`` opens the pool, ``close()`` ends it.
    ``transport``, the limiters, ``sleep``, ``clock`` and ``rng`` are for tests."""

    def __init__(
        self,
        config: ProjectXConfig,
        credentials: ProjectXCredentials,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        general_limiter: Limiter | None = None,
        bars_limiter: Limiter | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        clock: Callable[[], float] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self._credentials = credentials
        self._transport = transport
        self._general: Limiter = general_limiter or AsyncLimiter(
            config.general_requests, config.general_window_s
        )
        self._bars: Limiter = bars_limiter or AsyncLimiter(
            config.bars_requests, config.bars_window_s
        )
        self._sleep = sleep or asyncio.sleep
        self._clock = clock or time.time
        self._rng = rng or random.Random()
        self._client: QueuedHttpClient | None = None
        self._token: SessionToken | None = None
        self._auth_lock = asyncio.Lock()
        self._token_listeners: list[Callable[[], None]] = []
        self.logins = 0
        self.renewals = 0

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self._client is None:
            self._client = QueuedHttpClient(
                self.config.api_url,
                self.config,
                timeout_s=self.config.request_timeout_s,
                transport=self._transport,
                headers={"Content-Type": "application/json", "Accept": "application/json"},
            )

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    # ------------------------------------------------------------------ auth

    @property
    def token_expires_at(self) -> float | None:
        return None if self._token is None else self._token.expires_at

    @property
    def current_token(self) -> str | None:
        """The token held now (no renewal, no I/O); ``None`` before the first login."""
        return None if self._token is None else self._token.value

    def add_token_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` when the token is renewed before it expires (not after a
        refusal): the realtime hubs reconnect with the new one before theirs expires."""
        self._token_listeners.append(listener)

    def _set_token(self, token: SessionToken, *, notify: bool = False) -> None:
        changed = self._token is not None and self._token.value != token.value
        self._token = token
        if changed and notify:
            for listener in list(self._token_listeners):
                try:
                    listener()
                except Exception:  # a listener must not break authentication
                    _log.exception("projectx: a token listener failed")

    async def token(self) -> str:
        """A valid session token: logs in on first use, renews it when close to expiry."""
        async with self._auth_lock:
            if self._token is None:
                await self._login()
            elif self._token.due(self._clock(), self.config.token_renew_margin_s):
                await self._renew(proactive=True)
            assert self._token is not None
            return self._token.value

    async def refresh(self, stale: str | None = None) -> str:
        """Renew now (after a 401 or a refused hub connection). With ``stale``, skip it when
        another caller has already replaced that token."""
        async with self._auth_lock:
            if self._token is None:
                await self._login()
            elif stale is None or self._token.value == stale:
                await self._renew()
            assert self._token is not None
            return self._token.value

    async def _login(self) -> None:
        reply = await self._post(
            LOGIN_PATH,
            {"userName": self._credentials.username, "apiKey": self._credentials.api_key},
            kind=Kind.AUTH,
            bearer=None,
        )
        self._set_token(self._issued(reply.get("token"), LOGIN_PATH))
        self.logins += 1
        _log.info("projectx: logged in as %s", self._credentials.username)

    async def _renew(self, *, proactive: bool = False) -> None:
        assert self._token is not None
        try:
            reply = await self._post(VALIDATE_PATH, None, kind=Kind.AUTH, bearer=self._token.value)
            token = self._issued(reply.get("newToken"), VALIDATE_PATH)
            self._set_token(token, notify=proactive)
            self.renewals += 1
            _log.info("projectx: session token renewed")
        except ProjectXAuthError as exc:
            _log.warning("projectx: token renewal refused (%s); logging in again", exc)
            await self._login()

    def _issued(self, value: Any, path: str) -> SessionToken:
        if not isinstance(value, str) or not value:
            raise ProjectXPayloadError(f"{path}: the reply carries no token")
        return SessionToken.issued(
            value, now=self._clock(), lifetime_s=self.config.token_lifetime_s
        )

    # ------------------------------------------------------------------ requests

    async def call(self, path: str, body: Mapping[str, Any], *, kind: Kind) -> Mapping[str, Any]:
        """POST ``body`` to ``path`` with a valid token; the decoded reply (``success`` true)."""
        refreshed = False
        while True:
            token = await self.token()
            try:
                return await self._post(path, body, kind=kind, bearer=token)
            except _Unauthorized:
                if refreshed:
                    raise ProjectXAuthError(
                        f"{path}: HTTP 401 again after renewing the session token"
                    ) from None
                refreshed = True
                _log.info("projectx %s: HTTP 401; renewing the session token once", path)
                await self.refresh(stale=token)

    async def _post(
        self, path: str, body: Mapping[str, Any] | None, *, kind: Kind, bearer: str | None
    ) -> Mapping[str, Any]:
        client = self._require_client()
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        content = b"" if body is None else json.dumps(body, default=_encode).encode()
        limiter = self._bars if path == BARS_PATH else self._general
        attempt = 0
        while True:
            await limiter.acquire()
            retry_after: float | None = None
            try:
                response = await client.post(path, content=content, headers=headers)
            except RequestNotSent as exc:
                raise ProjectXRequestFailed(f"{path}: {exc}") from exc
            except _NOT_CONNECTED as exc:
                error: Exception = ProjectXRequestFailed(
                    f"{path}: cannot connect: {describe_error(exc)}"
                )
            except httpx.TransportError as exc:
                if kind is Kind.ACTION:
                    raise ProjectXRequestTimeout(
                        f"{path}: no reply ({describe_error(exc)}); the action may have been "
                        "applied: resolve by customTag before retrying"
                    ) from exc
                error = ProjectXRequestFailed(f"{path}: request failed: {describe_error(exc)}")
            else:
                status = response.status_code
                _log.debug("projectx %s -> HTTP %d", path, status)
                if 200 <= status < 300:
                    return self._envelope(path, response, kind)
                if status == 401:
                    if kind is Kind.AUTH:
                        raise ProjectXAuthError(f"{path}: HTTP 401: credentials or token refused")
                    raise _Unauthorized
                excerpt = body_excerpt(response)
                if status == 429:
                    retry_after = _retry_after(response)
                    error = ProjectXRateLimited(f"{path}: rate limited (HTTP 429): {excerpt}")
                elif status >= 500:
                    if kind is Kind.ACTION:
                        raise ProjectXRequestTimeout(
                            f"{path}: HTTP {status}: {excerpt}; the action may have been applied: "
                            "resolve by customTag before retrying"
                        )
                    error = ProjectXRequestFailed(f"{path}: HTTP {status}: {excerpt}")
                else:
                    raise ProjectXBadRequest(f"{path}: HTTP {status}: {excerpt}", status=status)
            if attempt >= self.config.max_retries:
                error.args = (f"{error.args[0]} (gave up after {attempt + 1} attempts)",)
                raise error
            delay = self._delay(attempt, retry_after)
            attempt += 1
            _log.info(
                "projectx %s: %s; retry %d/%d in %.2fs",
                path,
                error,
                attempt,
                self.config.max_retries,
                delay,
            )
            await self._sleep(delay)

    def _envelope(self, path: str, response: httpx.Response, kind: Kind) -> Mapping[str, Any]:
        try:
            payload = response.json(parse_float=Decimal)
        except ValueError:
            raise ProjectXPayloadError(
                f"{path}: reply is not JSON (HTTP {response.status_code}): {body_excerpt(response)}"
            ) from None
        if not isinstance(payload, Mapping):
            raise ProjectXPayloadError(f"{path}: reply is not a JSON object")
        if payload.get("success") is True:
            return payload
        code = payload.get("errorCode")
        code = code if isinstance(code, int) and not isinstance(code, bool) else -1
        text = " ".join(str(payload.get("errorMessage") or "no errorMessage").split())
        message = f"{path}: refused (errorCode {code}): {text[:_BODY_EXCERPT]}"
        if kind is Kind.AUTH:
            raise ProjectXAuthError(message)
        if kind is Kind.ACTION:
            order_id = payload.get("orderId")
            if not isinstance(order_id, int) or isinstance(order_id, bool) or order_id <= 0:
                order_id = None
            raise ProjectXOrderRejected(message, endpoint=path, error_code=code, order_id=order_id)
        raise ProjectXApiError(message, endpoint=path, error_code=code)

    def _require_client(self) -> QueuedHttpClient:
        if self._client is None:
            raise RuntimeError("the ProjectX client is not started: call 'await start()'")
        return self._client

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), RETRY_AFTER_MAX_S)
        ceiling = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2.0**attempt)
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)


class _Unauthorized(Exception):
    """Internal: HTTP 401 on an authenticated call (renew once, then retry)."""


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
