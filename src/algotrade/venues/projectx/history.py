"""``algotrade fetch-data --venue projectx``: historical bars from ``History/retrieveBars``.

The gateway answers at most 20,000 bars per request, newest first, within the requested
window; the download walks forward in windows of at most that many bar lengths and yields
each window's bars oldest first. Requests are charged to the transport's ``retrieveBars``
budget (``bars_requests`` per ``bars_window_s``), so a long download waits instead of being
throttled. Symbols are contract names (``EPZ25``) or ids (``CON.F.US.EP.Z25``) of the
gateway's available contracts; credentials come from the environment as for the daemon;
``--api-url`` points at another firm's gateway (there is no testnet: practice accounts use
the same gateway).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from algotrade.core.errors import InputError
from algotrade.core.timeutil import datetime_to_ns
from algotrade.venues.projectx.config import ProjectXConfig, load_credentials
from algotrade.venues.projectx.contracts import ContractBook, load_contracts
from algotrade.venues.projectx.factory import bar_unit_of
from algotrade.venues.projectx.http import MAX_BARS, ProjectXHttp
from algotrade.venues.projectx.schemas import BarUnit
from algotrade.venues.projectx.transport import GatewayTransport
from algotrade.venues.registry import HistoryCandle, HistoryOptions

__all__ = ["Candle", "ProjectXHistory", "history"]

NS_PER_MS = 1_000_000


@dataclass(frozen=True, slots=True)
class Candle:
    open_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


class ProjectXHistory:
    """A ``registry.HistorySource`` over one logged-in gateway client."""

    def __init__(self, http: ProjectXHttp, *, live: bool = False) -> None:
        self._http = http
        self._live = live
        self._book = ContractBook()

    async def symbols(self) -> list[str]:
        self._book.replace(await load_contracts(self._http, live=self._live))
        contracts = self._book.contracts()
        return [c.name for c in contracts]  # candles() also takes a contract id

    async def candles(
        self, symbol: str, interval: str, start_ms: int, end_ms: int
    ) -> AsyncIterator[Sequence[HistoryCandle]]:
        if not len(self._book):
            await self.symbols()
        contract = self._book.resolve(symbol)
        unit, number, seconds = bar_unit_of(interval)
        window_ms = seconds * 1000 * (MAX_BARS - 1)
        start = start_ms
        while start < end_ms:
            stop = min(end_ms, start + window_ms)
            bars = await self._http.retrieve_bars(
                contract.id,
                start=_utc(start),
                end=_utc(stop - 1),
                unit=BarUnit(unit),
                unit_number=number,
                limit=MAX_BARS,
                live=self._live,
                include_partial_bar=False,
            )
            page = sorted(
                (
                    Candle(datetime_to_ns(b.t) // NS_PER_MS, b.o, b.h, b.l, b.c, Decimal(b.v))
                    for b in bars
                ),
                key=lambda c: c.open_ms,
            )
            page = [c for c in page if start <= c.open_ms < stop]
            if page:
                yield page
            start = stop


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


@asynccontextmanager
async def history(options: HistoryOptions) -> AsyncIterator[ProjectXHistory]:
    if options.testnet:
        raise InputError(
            "--testnet: ProjectX has no testnet (practice accounts use the same gateway); "
            "use --api-url for another firm's gateway"
        )
    credentials = load_credentials()
    if credentials is None:
        raise InputError(
            "--venue projectx: set ALGOTRADE_PROJECTX_USERNAME and ALGOTRADE_PROJECTX_API_KEY "
            "(or their _FILE variants): the gateway has no public data"
        )
    config = ProjectXConfig(api_url=options.api_url) if options.api_url else ProjectXConfig()
    async with ProjectXHttp(GatewayTransport(config, credentials)) as http:
        yield ProjectXHistory(http)
