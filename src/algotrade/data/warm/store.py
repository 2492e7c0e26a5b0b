"""``WarmStore``: the PostgreSQL (TimescaleDB when present) tier of market data, by URL.

Each call opens its own connection (psycopg 3, autocommit: every ``transaction()`` block is
one real transaction) and closes it, so a store is cheap to create, safe to pickle into a
worker process (only the URL is kept) and never holds a connection between backtests.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import polars as pl
import psycopg
from psycopg import sql

from algotrade.core.errors import ConfigError, DataError, RetryableError
from algotrade.data.bars import VALUE_COLUMNS, BarData
from algotrade.data.catalog import Catalog, SeriesKey
from algotrade.data.warm.copy_binary import decode
from algotrade.data.warm.schema import (
    BARS_TABLE,
    SERIES_TABLE,
    SchemaStatus,
    check_version,
    ensure_schema,
    observe,
)
from algotrade.data.warm.sync import (
    Progress,
    SeriesSync,
    SyncResult,
    read_series,
    select_series,
    sync_series,
)
from algotrade.data.warm.url import WarmUrl, parse_url

CONNECT_TIMEOUT_S = 10
SCAN_SCHEMA = {"symbol": pl.String, "ts": pl.Int64, **dict.fromkeys(VALUE_COLUMNS, pl.Float64)}
# Server-side: PostgreSQL streams the rows of one series in primary-key order as binary COPY.
_READ = (
    f"COPY (SELECT ts_ns, {', '.join(VALUE_COLUMNS)} FROM {BARS_TABLE}"
    ' WHERE venue = {venue} AND symbol = {symbol} AND "interval" = {interval}'
    " AND ts_ns >= {start} AND ts_ns < {end} ORDER BY ts_ns) TO STDOUT (FORMAT binary)"
)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True, slots=True)
class WarmSeries:
    """One series stored in the warm tier (``market_series``)."""

    key: SeriesKey
    first_ns: int
    last_ns: int
    rows: int


class WarmStore:
    """Bars in PostgreSQL at ``url`` (``postgresql://user@host:port/database``); ``option``
    names the setting in errors (``--to`` for ``algotrade data sync``)."""

    def __init__(self, url: str, *, option: str = "--to") -> None:
        self._url: WarmUrl = parse_url(url, option)
        self.option = option
        self.note: str | None = None  # set by ensure_schema: why there is no hypertable

    @property
    def shown(self) -> str:
        """The URL without its password."""
        return self._url.shown

    @property
    def address(self) -> str:
        return self._url.address

    @contextmanager
    def connect(self) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
        """An autocommit connection; ``ConfigError`` naming the option and the address when
        the server cannot be reached or refuses us."""
        try:
            connection = psycopg.connect(
                self._url.conninfo,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_S,
                application_name="algotrade-warm",
            )
        except psycopg.Error as exc:
            raise ConfigError(
                f"{self.option}: cannot connect to PostgreSQL at {self.address}: {_first_line(exc)}"
            ) from None
        with connection:
            yield connection

    # -- schema ----------------------------------------------------------------------------

    def ensure_schema(self) -> str:
        """Create the tables if missing (idempotent); ``"hypertable"`` or ``"table"``."""
        return self.schema_status().storage.value

    def schema_status(self) -> SchemaStatus:
        with self.connect() as connection:
            status = ensure_schema(connection, f"{self.option} {self.address}")
        self.note = status.note
        return status

    # -- writing ---------------------------------------------------------------------------

    def sync_from(
        self,
        catalog: Catalog,
        venue: str | None = None,
        symbols: Sequence[str] | None = None,
        interval: str | None = None,
        start_ns: int | None = None,
        end_ns: int | None = None,
        *,
        progress: Progress | None = None,
    ) -> SyncResult:
        """Copy the catalog's bars in ``[start_ns, end_ns)`` of the chosen series (None: all)
        into ``market_bars``, one transaction per series; creates the schema first."""
        chosen = select_series(catalog, venue, symbols, interval)
        status = self.schema_status()
        done: list[SeriesSync] = []
        with self.connect() as connection:
            for index, coverage in enumerate(chosen):
                key = coverage.key
                if progress is not None:
                    progress(index, len(chosen), key, None)
                frame = read_series(catalog, key, start_ns, end_ns)
                try:
                    done.append(sync_series(connection, key, frame))
                except psycopg.Error as exc:
                    raise RetryableError(
                        f"{self.option} {self.address}: copying {key} failed and was rolled "
                        f"back ({len(done)} series before it are stored): {_first_line(exc)}"
                    ) from exc
                if progress is not None:
                    progress(index, len(chosen), key, done[-1])
        return SyncResult.of(done, status.storage.value)

    # -- reading ---------------------------------------------------------------------------

    def series(self, venue: str | None = None) -> list[WarmSeries]:
        """Every series stored (of ``venue``), sorted by venue, symbol and interval; [] when
        the tables were never created."""
        with self.connect() as connection:
            if not self._readable(connection):
                return []
            rows = connection.execute(
                f'SELECT venue, symbol, "interval", first_ns, last_ns, row_count FROM '
                f"{SERIES_TABLE} WHERE %(venue)s::text IS NULL OR venue = %(venue)s "
                'ORDER BY venue, symbol, "interval"',
                {"venue": venue},
            ).fetchall()
        return [
            WarmSeries(SeriesKey(str(row[0]), str(row[1]), str(row[2])), *map(_int, row[3:]))
            for row in rows
        ]

    def scan(
        self,
        venue: str,
        symbols: Sequence[str],
        interval: str,
        start_ns: int | None = None,
        end_ns: int | None = None,
    ) -> pl.LazyFrame:
        """Like ``Catalog.scan``: columns ``symbol, ts, open, high, low, close, volume`` of
        bars opening in ``[start_ns, end_ns)``, symbol by symbol in the order given (as the
        catalog does), each in time order; an unknown series gives no rows. The rows are read
        when called (one server-side binary COPY per symbol); the lazy frame only wraps them,
        so both tiers can be used alike."""
        frames = []
        with self.connect() as connection:
            if not self._readable(connection):
                return pl.LazyFrame(schema=SCAN_SCHEMA)
            for symbol in dict.fromkeys(symbols):
                key = SeriesKey(venue, symbol, interval)
                try:
                    frame = self._read(connection, key, start_ns, end_ns)
                except psycopg.Error as exc:
                    raise RetryableError(
                        f"{self.option} {self.address}: reading {key} failed: {_first_line(exc)}"
                    ) from exc
                if frame.height:
                    frames.append(frame.select(pl.lit(symbol).alias("symbol"), pl.all()))
        if not frames:
            return pl.LazyFrame(schema=SCAN_SCHEMA)
        return pl.concat(frames, how="vertical", rechunk=True).lazy()

    def load(
        self,
        venue: str,
        symbols: Sequence[str],
        interval: str,
        start_ns: int | None = None,
        end_ns: int | None = None,
    ) -> BarData:
        """The bars of ``scan`` for the engine, validated like a file (the database may have
        been written by others); ``DataError`` naming the symbols it lacks."""
        frame = self.scan(venue, symbols, interval, start_ns, end_ns).collect()
        present = set(frame["symbol"].unique().to_list())
        absent = [symbol for symbol in symbols if symbol not in present]
        if absent:
            raise DataError(
                f"PostgreSQL {self.address}: no {interval} bars of {venue}:{','.join(absent)} "
                "in the requested range; 'algotrade data sync --to …' copies them from the "
                "catalog"
            )
        return BarData.from_frame(frame, f"PostgreSQL {self.address} {venue} {interval} bars")

    def _readable(self, connection: psycopg.Connection[tuple[object, ...]]) -> bool:
        observed = observe(connection)
        check_version(observed, f"{self.option} {self.address}")
        return observed.bars_exists

    def _read(
        self,
        connection: psycopg.Connection[tuple[object, ...]],
        key: SeriesKey,
        start_ns: int | None,
        end_ns: int | None,
    ) -> pl.DataFrame:
        query = sql.SQL(_READ).format(
            venue=sql.Literal(key.venue),
            symbol=sql.Literal(key.symbol),
            interval=sql.Literal(key.interval),
            start=sql.Literal(_INT64_MIN if start_ns is None else start_ns),
            end=sql.Literal(_INT64_MAX if end_ns is None else end_ns),
        )
        buffer = bytearray()
        with connection.cursor() as cursor, cursor.copy(query) as copy:
            for block in copy:
                buffer += block
        return decode(buffer, f"PostgreSQL {self.address} {key}")


def _int(value: object) -> int:
    assert isinstance(value, int)  # bigint columns
    return value


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
