"""The warm tier: catalog bars in PostgreSQL (a TimescaleDB hypertable when the extension is
there), loaded with binary ``COPY`` and read back by URL. Imports psycopg: load it only where
a warm-tier URL is used."""

from algotrade.data.warm.schema import SCHEMA_VERSION, SchemaStatus, Storage
from algotrade.data.warm.store import WarmSeries, WarmStore
from algotrade.data.warm.sync import SeriesSync, SyncResult

__all__ = [
    "SCHEMA_VERSION",
    "SchemaStatus",
    "SeriesSync",
    "Storage",
    "SyncResult",
    "WarmSeries",
    "WarmStore",
]
