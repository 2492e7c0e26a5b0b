"""``HlHttp``: the REST transport to Hyperliquid's ``/info`` and ``/exchange`` endpoints.

Every request is charged against one weight budget per minute (``AsyncLimiter``), with the
weights Hyperliquid documents:

- ``/exchange``: ``1 + floor(batch_length / 40)`` (``batch_length``: orders or cancels sent).
- ``/info``: 2 for ``l2Book``, ``allMids``, ``clearinghouseState``, ``orderStatus``,
  ``spotClearinghouseState``, ``exchangeStatus``; 60 for ``userRole``; 20 for anything else;
  plus, charged after the reply, 1 per 20 items returned by ``userFills``,
  ``userFillsByTime``, ``historicalOrders``, ``recentTrades``, ``fundingHistory`` and
  ``userFunding``, and 1 per 60 candles returned by ``candleSnapshot``.

Failures, by what the caller should do:

- HTTP 429: exponential backoff with jitter (``Retry-After`` wins when given), up to
  ``config.max_retries`` retries, then ``HlRateLimited``. A 429 means the request was not
  processed, so exchange requests are retried too.
- 5xx and transport errors on ``/info``: retried the same way, then ``HlRequestFailed``.
- On ``/exchange``, a failure to connect (nothing was sent) is retried like ``/info``, but a
  timeout, a broken connection or a 5xx after the request went out raises
  ``HlRequestTimeout`` at once: the action may have been applied, and only a lookup by cloid
  can tell.
- At most ``config.max_in_flight`` requests are on the wire at once; the rest wait their turn
  (``QueuedHttpClient``). One that waited ``config.queue_timeout_s`` in vain raises
  ``HlRequestFailed`` at once ("not sent: waited …"), not retried: it never left.
- Any other 4xx: ``HlBadRequest`` with the status and an excerpt of the body.
- A body that is not JSON: ``HlPayloadError``.

Request bodies are never logged: exchange bodies carry signatures.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import httpx
from aiolimiter import AsyncLimiter

from algotrade.venues.hyperliquid.config import HyperliquidConfig
from algotrade.venues.hyperliquid.errors import (
    HlBadRequest,
    HlPayloadError,
    HlRateLimited,
    HlRequestFailed,
    HlRequestTimeout,
)
from algotrade.venues.live.excerpts import body_excerpt, describe_error
from algotrade.venues.live.http_queue import QueuedHttpClient, RequestNotSent
from algotrade.venues.live.lifecycle import AsyncClosing

__all__ = [
    "EXCHANGE_PATH",
    "INFO_PATH",
    "HlHttp",
    "HlHttpStats",
    "WeightLimiter",
    "exchange_weight",
    "info_items_weight",
    "info_weight",
]

_log = logging.getLogger(__name__)

INFO_PATH = "/info"
EXCHANGE_PATH = "/exchange"

LIGHT_INFO_WEIGHT = 2
DEFAULT_INFO_WEIGHT = 20
EXCHANGE_BATCH_STEP = 40
_LIGHT_INFO = frozenset(
    {
        "l2Book",
        "allMids",
        "clearinghouseState",
        "orderStatus",
        "spotClearinghouseState",
        "exchangeStatus",
    }
)
_SPECIAL_INFO = {"userRole": 60}
_ITEMS_PER_WEIGHT = {
    "userFills": 20,
    "userFillsByTime": 20,
    "historicalOrders": 20,
    "recentTrades": 20,
    "fundingHistory": 20,
    "userFunding": 20,
    "candleSnapshot": 60,
}

BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 30.0
RETRY_AFTER_MAX_S = 60.0  # the weight budget refills over a minute; never wait longer
_NOT_CONNECTED = (httpx.ConnectError, httpx.ConnectTimeout)


def info_weight(request_type: str) -> int:
    """Weight charged before an ``/info`` request of this ``type``."""
    if request_type in _LIGHT_INFO:
        return LIGHT_INFO_WEIGHT
    return _SPECIAL_INFO.get(request_type, DEFAULT_INFO_WEIGHT)


def info_items_weight(request_type: str, items: int) -> int:
    """Extra weight charged after an ``/info`` reply of ``items`` elements."""
    per = _ITEMS_PER_WEIGHT.get(request_type)
    return items // per if per else 0


def exchange_weight(batch_length: int) -> int:
    """Weight of an ``/exchange`` action carrying ``batch_length`` orders or cancels."""
    return 1 + max(0, batch_length) // EXCHANGE_BATCH_STEP


class WeightLimiter(Protocol):
    """What ``HlHttp`` needs of a rate limiter (``aiolimiter.AsyncLimiter`` fits)."""

    async def acquire(self, amount: float = 1) -> None: ...


@dataclass(slots=True)
class HlHttpStats:
    """Counters for metrics. ``requests`` counts HTTP attempts, retries included."""

    requests: int = 0
    info_requests: int = 0
    exchange_requests: int = 0
    weight: int = 0
    retries: int = 0
    rate_limited: int = 0  # 429 replies
    server_errors: int = 0  # 5xx replies
    transport_errors: int = 0
    failures: int = 0  # calls that ended in an exception
    by_type: dict[str, int] = field(default_factory=dict)  # "info:l2Book" -> attempts


class HlHttp(AsyncClosing):
    """POSTs JSON to ``{base_url}/info`` and ``{base_url}/exchange`` within the weight budget.

    The constructor does no I/O; ``start()`` opens the connection pool and ``close()`` ends
    it (or use ``async with``). ``transport``, ``limiter``, ``sleep`` and ``rng`` are for tests.
    """

    def __init__(
        self,
        config: HyperliquidConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        limiter: WeightLimiter | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        rng: random.Random | None = None,
        backoff_base_s: float | None = None,
        backoff_max_s: float | None = None,
    ) -> None:
        self.config = config
        self.stats = HlHttpStats()
        self._transport = transport
        self._limiter: WeightLimiter = limiter or AsyncLimiter(config.weight_per_minute, 60)
        self._sleep = sleep or asyncio.sleep
        self._rng = rng or random.Random()
        self._backoff_base_s = BACKOFF_BASE_S if backoff_base_s is None else backoff_base_s
        self._backoff_max_s = BACKOFF_MAX_S if backoff_max_s is None else backoff_max_s
        self._client: QueuedHttpClient | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self._client is None:
            self._client = QueuedHttpClient(
                self.config.base_url,
                self.config,
                timeout_s=self.config.request_timeout_s,
                transport=self._transport,
                headers={"Content-Type": "application/json"},
            )

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    stop = close

    @property
    def started(self) -> bool:
        return self._client is not None

    # ------------------------------------------------------------------ requests

    async def info(self, request: Mapping[str, Any]) -> Any:
        """POST ``request`` (which has a ``type``) to ``/info``; the decoded JSON reply."""
        request_type = str(request.get("type", ""))
        if not request_type:
            raise ValueError("an info request needs a 'type'")
        reply = await self._post(
            INFO_PATH, request, weight=info_weight(request_type), label=f"info:{request_type}"
        )
        if isinstance(reply, list):
            extra = info_items_weight(request_type, len(reply))
            if extra:
                await self._charge(extra)
        return reply

    async def exchange(self, body: Mapping[str, Any], *, batch_length: int = 1) -> Any:
        """POST a signed ``body`` (``action``, ``nonce``, ``signature``, ``vaultAddress``)
        to ``/exchange``; the decoded JSON reply (``{"status": "ok"|"err", ...}``)."""
        action = body.get("action")
        action_type = action.get("type", "?") if isinstance(action, Mapping) else "?"
        return await self._post(
            EXCHANGE_PATH,
            body,
            weight=exchange_weight(batch_length),
            label=f"exchange:{action_type}",
        )

    # ------------------------------------------------------------------ internals

    def _require_client(self) -> QueuedHttpClient:
        if self._client is None:
            raise RuntimeError("HlHttp is not started: call 'await start()' or use 'async with'")
        return self._client

    async def _charge(self, weight: int) -> None:
        # aiolimiter refuses an amount above its capacity; a request that heavy takes it all.
        await self._limiter.acquire(min(weight, self.config.weight_per_minute))
        self.stats.weight += weight

    async def _post(self, path: str, payload: Mapping[str, Any], *, weight: int, label: str) -> Any:
        client = self._require_client()
        is_exchange = path == EXCHANGE_PATH
        attempt = 0
        while True:
            await self._charge(weight)
            self._count(label, is_exchange)
            retry_after: float | None = None
            try:
                response = await client.post(path, json=payload)
            except RequestNotSent as exc:
                self.stats.failures += 1
                raise HlRequestFailed(f"{label}: {exc}") from exc
            except _NOT_CONNECTED as exc:
                self.stats.transport_errors += 1
                error: Exception = HlRequestFailed(
                    f"{label}: cannot connect to {client.base_url.join(path)}: "
                    f"{describe_error(exc)}"
                )
                error.__cause__ = exc
            except httpx.TransportError as exc:
                self.stats.transport_errors += 1
                if is_exchange:
                    self.stats.failures += 1
                    raise HlRequestTimeout(
                        f"{label}: no reply ({describe_error(exc)}); the action may have been "
                        "applied: resolve by cloid before retrying"
                    ) from exc
                error = HlRequestFailed(f"{label}: request failed: {describe_error(exc)}")
                error.__cause__ = exc
            else:
                status = response.status_code
                _log.debug("hyperliquid %s -> HTTP %d", label, status)
                if 200 <= status < 300:
                    return self._decode(response, label)
                excerpt = body_excerpt(response)
                if status == 429:
                    self.stats.rate_limited += 1
                    retry_after = _retry_after(response)
                    error = HlRateLimited(f"{label}: rate limited (HTTP 429): {excerpt}")
                elif status >= 500:
                    self.stats.server_errors += 1
                    if is_exchange:
                        self.stats.failures += 1
                        raise HlRequestTimeout(
                            f"{label}: HTTP {status} from the exchange endpoint: {excerpt}; "
                            "the action may have been applied: resolve by cloid before retrying"
                        )
                    retry_after = _retry_after(response)
                    error = HlRequestFailed(f"{label}: HTTP {status}: {excerpt}")
                else:
                    self.stats.failures += 1
                    raise HlBadRequest(f"{label}: HTTP {status}: {excerpt}", status=status)
            if attempt >= self.config.max_retries:
                self.stats.failures += 1
                raise _with_attempts(error, attempt + 1)
            delay = self._delay(attempt, retry_after)
            attempt += 1
            self.stats.retries += 1
            _log.info(
                "hyperliquid %s: %s; retry %d/%d in %.2fs",
                label,
                error,
                attempt,
                self.config.max_retries,
                delay,
            )
            await self._sleep(delay)

    def _count(self, label: str, is_exchange: bool) -> None:
        self.stats.requests += 1
        if is_exchange:
            self.stats.exchange_requests += 1
        else:
            self.stats.info_requests += 1
        self.stats.by_type[label] = self.stats.by_type.get(label, 0) + 1

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), RETRY_AFTER_MAX_S)
        ceiling = min(self._backoff_max_s, self._backoff_base_s * 2.0**attempt)
        # "Equal jitter": at least half the exponential step, so retries still spread out.
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def _decode(self, response: httpx.Response, label: str) -> Any:
        try:
            return response.json()
        except ValueError:
            self.stats.failures += 1
            raise HlPayloadError(
                f"{label}: reply is not JSON (HTTP {response.status_code}): "
                f"{body_excerpt(response)}"
            ) from None


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), if any."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _with_attempts(error: Exception, attempts: int) -> Exception:
    error.args = (f"{error.args[0]} (gave up after {attempts} attempts)", *error.args[1:])
    return error
