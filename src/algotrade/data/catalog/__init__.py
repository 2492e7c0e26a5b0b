"""The bar catalog (cold tier): Parquet partitions under ``<data_dir>/catalog``.

The names below load on first use (PEP 562): ``from algotrade.data.catalog.layout import
SeriesKey`` must not pull in polars and pyarrow with ``store`` — the daemon validates series
names at start-up and reads the catalog only when a job or a recorder needs it.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from algotrade.data.catalog.coverage import Coverage
    from algotrade.data.catalog.layout import SeriesKey
    from algotrade.data.catalog.refs import parse_refs
    from algotrade.data.catalog.store import AppendResult, Catalog

__all__ = ["AppendResult", "Catalog", "Coverage", "SeriesKey", "parse_refs"]

_HOMES = {
    "AppendResult": "store",
    "Catalog": "store",
    "Coverage": "coverage",
    "SeriesKey": "layout",
    "parse_refs": "refs",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later lookups skip this function
    return value
