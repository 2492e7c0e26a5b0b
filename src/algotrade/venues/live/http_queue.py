"""A venue connection's REST client: a bounded number of requests on the wire, the rest queued.

Many bots ordering at once on a venue that answers slowly used to take every connection of
httpx's pool (100), and the requests behind them failed when the pool's timeout ran out
(``httpx.PoolTimeout``), reported as if the venue could not be reached. Here a request waits
for one of ``max_in_flight`` slots, first come first served, for at most ``queue_timeout_s``;
the pool holds as many connections as there are slots, so a request with a slot never waits
for a connection. A request that could not be sent in time raises ``RequestNotSent`` saying
why: it never left, so the venue did nothing with it.

This bounds how many requests are outstanding at once, not how often they go: the venue's
documented rate limits stay with each client's limiter, which charges a request before it
queues here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import BaseModel, Field

__all__ = ["QueuedHttpClient", "RequestNotSent", "RequestQueueSettings"]

DEFAULT_MAX_IN_FLIGHT = 32
DEFAULT_QUEUE_TIMEOUT_S = 30.0


class RequestQueueSettings(BaseModel):
    """The request queue's settings, part of each live venue's config section."""

    max_in_flight: int = Field(
        default=DEFAULT_MAX_IN_FLIGHT,
        ge=1,
        le=1000,
        description="REST requests sent at once (one connection each); the rest wait their turn",
    )
    queue_timeout_s: float = Field(
        default=DEFAULT_QUEUE_TIMEOUT_S,
        gt=0,
        le=600,
        description="how long a REST request waits for its turn before it fails unsent",
    )


class RequestNotSent(Exception):
    """The request was never sent: no slot (or connection) came free in time."""


class QueuedHttpClient:
    """``post`` to ``base_url`` with at most ``settings.max_in_flight`` requests outstanding.

    The constructor opens nothing (httpx connects on the first request); ``aclose`` ends the
    pool. ``in_flight``, ``waiting``, ``queued`` (requests that had to wait for a slot) and
    ``not_sent`` are for status and tests."""

    def __init__(
        self,
        base_url: str,
        settings: RequestQueueSettings,
        *,
        timeout_s: float,
        headers: Mapping[str, str],
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        slots = settings.max_in_flight
        self._client = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(max_connections=slots, max_keepalive_connections=slots),
            transport=transport,
            headers=dict(headers),
        )
        self._slots = asyncio.Semaphore(slots)
        self.max_in_flight = slots
        self.queue_timeout_s = settings.queue_timeout_s
        self.in_flight = 0
        self.waiting = 0
        self.queued = 0
        self.not_sent = 0

    @property
    def base_url(self) -> httpx.URL:
        return self._client.base_url

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        """``httpx.AsyncClient.post`` once a slot is free; ``RequestNotSent`` when none came
        free within ``queue_timeout_s``. httpx's own errors pass through."""
        await self._take_slot()
        self.in_flight += 1
        try:
            return await self._client.post(path, **kwargs)
        except httpx.PoolTimeout as exc:
            # Not expected (a slot is a connection), but never to be told as "cannot connect".
            self.not_sent += 1
            raise RequestNotSent(
                f"not sent: no free connection in the pool ({self.in_flight} requests in flight)"
            ) from exc
        finally:
            self.in_flight -= 1
            self._slots.release()

    async def _take_slot(self) -> None:
        if not self._slots.locked():
            await self._slots.acquire()
            return
        self.queued += 1
        self.waiting += 1
        try:
            async with asyncio.timeout(self.queue_timeout_s):
                await self._slots.acquire()
        except TimeoutError:
            self.not_sent += 1
            raise RequestNotSent(
                f"not sent: waited {self.queue_timeout_s:g} s for its turn: {self.in_flight} "
                f"requests in flight (at most {self.max_in_flight} at once), "
                f"{self.waiting - 1} more waiting; the venue is answering slowly or too much is "
                "asked of it at once"
            ) from None
        finally:
            self.waiting -= 1

    async def aclose(self) -> None:
        await self._client.aclose()
