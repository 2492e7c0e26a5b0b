"""The bar catalog (cold tier): Parquet partitions under ``<data_dir>/catalog``."""

from algotrade.data.catalog.coverage import Coverage
from algotrade.data.catalog.layout import SeriesKey
from algotrade.data.catalog.refs import parse_refs
from algotrade.data.catalog.store import AppendResult, Catalog

__all__ = ["AppendResult", "Catalog", "Coverage", "SeriesKey", "parse_refs"]
