"""The TUI's link to the daemon: a WebSocket subscription kept alive, and the caller's role.

``LiveStream.run`` subscribes with ``AsyncAlgoTradeClient.watch`` and hands every message to a
callback; when the daemon goes away (refused, killed, restarting, 1013 too slow) it reports
"disconnected", waits (backoff doubling from 0.5 s to 10 s) and subscribes again. The daemon
sends a snapshot on every subscribe, so a reconnect refreshes the data by itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from algotrade.client import ApiError, AsyncAlgoTradeClient, ClientError

logger = logging.getLogger("algotrade.tui")

FIRST_RETRY_SECONDS = 0.5
MAX_RETRY_SECONDS = 10.0
ADMIN = "admin"
TRADER = "trader"


@dataclass(frozen=True, slots=True)
class LinkState:
    connected: bool
    reason: str = ""  # why not connected (one line)
    retry_in: float = 0.0


class LiveStream:
    """One subscription (``topics`` of ``bot_id``), re-established until ``stop``."""

    def __init__(
        self,
        client: AsyncAlgoTradeClient,
        topics: Iterable[str],
        on_message: Callable[[dict[str, Any]], None],
        on_state: Callable[[LinkState], None],
        bot_id: str = "*",
        *,
        first_retry: float = FIRST_RETRY_SECONDS,
        max_retry: float = MAX_RETRY_SECONDS,
    ) -> None:
        self.client = client
        self.topics = tuple(topics)
        self.bot_id = bot_id
        self.on_message = on_message
        self.on_state = on_state
        self.first_retry = first_retry
        self.max_retry = max_retry
        self.connected = False
        self._stopped = False

    def stop(self) -> None:
        self._stopped = True

    async def run(self) -> None:
        delay = self.first_retry
        while not self._stopped:
            reason = "the daemon closed the stream"
            try:
                async for message in self.client.watch(self.topics, self.bot_id):
                    if not self.connected:
                        self.connected = True
                        delay = self.first_retry
                        self.on_state(LinkState(True))
                    self._deliver(message)
                    if self._stopped:
                        return
            except ApiError as exc:
                if exc.status == 404 and self.bot_id != "*":
                    # The bot is gone: nothing to come back for.
                    self._report(f"{exc.status} {exc.code}: {exc.message}", 0.0)
                    return
                reason = f"{exc.status} {exc.code}: {exc.message}"
            except ClientError as exc:
                reason = str(exc)
            except (OSError, ValueError) as exc:  # a broken frame or socket under the client
                reason = f"{type(exc).__name__}: {exc}"
            self._report(reason, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_retry)

    def _deliver(self, message: dict[str, Any]) -> None:
        # A message the screen cannot show must not end the stream (or the app): log it.
        try:
            self.on_message(message)
        except Exception:
            logger.exception("TUI could not show a %s message", message.get("topic", "?"))

    def _report(self, reason: str, retry_in: float) -> None:
        self.connected = False
        logger.info("stream %s/%s: %s", ",".join(self.topics), self.bot_id, reason)
        self.on_state(LinkState(False, " ".join(reason.split()), retry_in))


async def detect_role(client: AsyncAlgoTradeClient) -> str:
    """``admin`` or ``trader``, as ``GET /api/session`` says for this key (``admin`` when the
    daemon has auth disabled). Raises ``ApiError`` 401 for a bad key and ``DaemonUnreachable``
    when there is no daemon; an answer without a known role counts as ``trader`` (read-only
    is the safe side)."""
    session: Any = await client.session()
    role = session.get("role") if isinstance(session, dict) else None
    return str(role) if role in (ADMIN, TRADER) else TRADER
