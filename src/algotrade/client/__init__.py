"""Python clients of the daemon's API: ``AlgoTradeClient`` (sync) and ``AsyncAlgoTradeClient``.

Both return parsed JSON. An error answer raises ``ApiError`` (status, code, message); a daemon
that cannot be reached raises ``DaemonUnreachable``. The async client also streams live events
from ``/ws`` with ``watch``.

A bot's orders, fills and equity come in pages, oldest first; with ``newest_first=True``
newest first, the offset counted from the newest (the API's ``order=desc``).

Layout: ``calls`` (every request, written once), ``sync`` and ``aio`` (the two clients that send
them), ``errors``.
"""

from __future__ import annotations

from algotrade.client.aio import MAX_WS_MESSAGE_BYTES, AsyncAlgoTradeClient
from algotrade.client.calls import API_KEY_HEADER
from algotrade.client.errors import (
    ApiError,
    ClientError,
    DaemonUnreachable,
    StreamClosedError,
    error_from_response,
)
from algotrade.client.sync import AlgoTradeClient

__all__ = [
    "API_KEY_HEADER",
    "MAX_WS_MESSAGE_BYTES",
    "AlgoTradeClient",
    "ApiError",
    "AsyncAlgoTradeClient",
    "ClientError",
    "DaemonUnreachable",
    "StreamClosedError",
    "error_from_response",
]
