"""Bars by reference (``venue:SYMBOL,… interval [start, end)``) from a storage tier.

``source`` picks the tier: ``None`` or ``"catalog"`` reads the Parquet catalog under the data
directory (the cold tier); a ``postgresql://`` URL reads the warm tier. The warm tier's module
(and psycopg) is imported only when a URL is given, so catalog users never pay for it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from algotrade.core.errors import InputError
from algotrade.data.bars import BarData
from algotrade.data.catalog import Catalog, SeriesKey
from algotrade.data.intervals import interval_ns

if TYPE_CHECKING:
    import polars as pl

CATALOG_SOURCE = "catalog"
# SQLAlchemy spellings (postgresql+psycopg://) are accepted like the warm tier accepts them.
_POSTGRES_URL = re.compile(r"^postgres(?:ql)?(?:\+\w+)?://", re.IGNORECASE)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")


class BarSource(Protocol):
    """What both tiers offer (``Catalog`` and ``WarmStore``)."""

    def scan(
        self,
        venue: str,
        symbols: Sequence[str],
        interval: str,
        start_ns: int | None = None,
        end_ns: int | None = None,
    ) -> pl.LazyFrame: ...

    def load(
        self,
        venue: str,
        symbols: Sequence[str],
        interval: str,
        start_ns: int | None = None,
        end_ns: int | None = None,
    ) -> BarData: ...

    def series(self, venue: str | None = None) -> Sequence[_Listing]: ...


def is_warm_url(source: str | None) -> bool:
    return source is not None and _POSTGRES_URL.match(source.strip()) is not None


def open_source(source: str | None, *, data_dir: Path, option: str = "--source") -> BarSource:
    """The tier ``source`` names; ``InputError`` naming ``option`` for anything else."""
    if source is None or source.strip() == CATALOG_SOURCE:
        return Catalog.for_data_dir(data_dir)
    if is_warm_url(source):
        from algotrade.data.warm import WarmStore  # noqa: PLC0415 - psycopg only when asked

        store: BarSource = WarmStore(source.strip(), option=option)
        return store
    scheme = _SCHEME.match(source.strip())
    # Never echo the text: a mistyped URL may carry a password.
    shown = f"a URL with scheme {scheme.group(1)!r}" if scheme else "something else"
    raise InputError(
        f"{option}: expected 'catalog' or a postgresql://user@host:port/database URL, got {shown}"
    )


def _check_range(interval: str, start_ns: int | None, end_ns: int | None) -> None:
    interval_ns(interval, field="--interval")
    if start_ns is not None and end_ns is not None and start_ns >= end_ns:
        raise InputError("--start: must be before --end")


def load_reference(
    venue: str,
    symbols: Sequence[str],
    interval: str,
    start_ns: int | None,
    end_ns: int | None,
    *,
    data_dir: Path,
    source: str | None = None,
) -> BarData:
    """The bars of ``venue:symbols`` at ``interval`` opening in ``[start_ns, end_ns)``, from
    the tier ``source`` names; ``DataError`` naming the symbols that have none."""
    _check_range(interval, start_ns, end_ns)
    if not symbols:
        raise InputError("--symbols: no symbol given")
    tier = open_source(source, data_dir=data_dir)
    return tier.load(venue, list(symbols), interval, start_ns, end_ns)


def scan_reference(
    venue: str,
    symbols: Sequence[str],
    interval: str,
    start_ns: int | None,
    end_ns: int | None,
    *,
    data_dir: Path,
    source: str | None = None,
) -> pl.LazyFrame:
    """Like ``load_reference`` but lazy, and a symbol without bars is simply absent (callers
    that go on with the others, e.g. a universe backtest or a screen, report it)."""
    _check_range(interval, start_ns, end_ns)
    tier = open_source(source, data_dir=data_dir)
    return tier.scan(venue, list(symbols), interval, start_ns, end_ns)


def load_available(
    venue: str,
    symbols: Sequence[str],
    interval: str,
    start_ns: int | None,
    end_ns: int | None,
    *,
    data_dir: Path,
    source: str | None = None,
) -> dict[str, BarData]:
    """Each symbol's bars, for the symbols that have any (a universe goes on without the
    others and reports them). Bars from PostgreSQL are validated like a file's (others may
    have written them); the catalog validated its bars when they were appended."""
    frame = scan_reference(
        venue, symbols, interval, start_ns, end_ns, data_dir=data_dir, source=source
    ).collect()
    if frame.height == 0:
        return {}
    if is_warm_url(source):
        bars = BarData.from_frame(frame, f"PostgreSQL {venue} {interval} bars")
    else:
        bars = BarData.from_validated(frame)
    parts = bars.frame.partition_by("symbol", as_dict=True, maintain_order=True)
    return {str(key[0]): BarData(part) for key, part in parts.items()}


class _Listing(Protocol):
    @property
    def key(self) -> SeriesKey: ...

    @property
    def first_ns(self) -> int | None: ...

    @property
    def last_ns(self) -> int | None: ...


def stored_series(
    venue: str, interval: str, *, data_dir: Path, source: str | None = None
) -> dict[str, tuple[int, int]]:
    """First and last bar open time of every ``venue`` symbol with ``interval`` bars in the
    tier, by symbol (sorted)."""
    interval_ns(interval, field="--interval")
    tier = open_source(source, data_dir=data_dir)
    listing: Sequence[_Listing] = tier.series(venue)
    found = {
        item.key.symbol: (item.first_ns, item.last_ns)
        for item in listing
        if item.key.interval == interval and item.first_ns is not None and item.last_ns is not None
    }
    return {symbol: found[symbol] for symbol in sorted(found)}


def stored_symbols(
    venue: str, interval: str, *, data_dir: Path, source: str | None = None
) -> list[str]:
    """Every symbol of ``venue`` with ``interval`` bars in the tier (``--symbols all``),
    sorted."""
    return list(stored_series(venue, interval, data_dir=data_dir, source=source))
