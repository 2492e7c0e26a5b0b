"""Bars to and from PostgreSQL's binary ``COPY`` format, column-wise with numpy.

A bar row of one series is ``ts_ns bigint`` and five ``double precision`` values: every
field has a fixed width, so a whole frame is one numpy record array with big-endian fields
(no Python object per row). Binary is bit-exact by construction (the float's 8 bytes, the
integer's 8 bytes) and measured faster than text (benchmarks/warm_ingest.py), which would
need a shortest-round-trip float repr per value.

Format (PostgreSQL docs, "COPY ... Binary Format"): an 11-byte signature, a 32-bit flags
field, a 32-bit header-extension length and that many bytes; each tuple is a 16-bit field
count and per field a 32-bit length (-1 for NULL) and the bytes; a 16-bit -1 ends the data.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

import numpy as np
import polars as pl

from algotrade.core.errors import DataError
from algotrade.data.bars import VALUE_COLUMNS

SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
HEADER = SIGNATURE + struct.pack(">ii", 0, 0)
TRAILER = struct.pack(">h", -1)
ROW_COLUMNS = ("ts", *VALUE_COLUMNS)  # the order of the staging table's / the query's columns

_FIELDS: list[tuple[str, str]] = [("count", ">i2")]
for _name, _kind in zip(ROW_COLUMNS, (">i8", *(">f8",) * len(VALUE_COLUMNS)), strict=True):
    _FIELDS += [(f"{_name}_len", ">i4"), (_name, _kind)]
ROW = np.dtype(_FIELDS)  # packed: 2 + 6 * (4 + 8) = 74 bytes
FIELD_WIDTH = 8

# Rows per COPY write: ~4.7 MB of bytes, large enough that per-call overhead vanishes and small
# enough that a big series never needs a second full copy of itself in memory.
CHUNK_ROWS = 65_536


def encode(frame: pl.DataFrame, chunk_rows: int = CHUNK_ROWS) -> Iterator[bytes]:
    """The binary COPY stream of ``frame`` (columns ``ts`` Int64, values Float64, no nulls):
    the header, one block per ``chunk_rows`` rows, the trailer."""
    yield HEADER
    for offset in range(0, frame.height, chunk_rows):
        chunk = frame.slice(offset, chunk_rows)
        rows = np.empty(chunk.height, dtype=ROW)
        rows["count"] = len(ROW_COLUMNS)
        for name in ROW_COLUMNS:
            rows[f"{name}_len"] = FIELD_WIDTH
            # numpy converts to big-endian on assignment: a byte swap, bit-exact.
            rows[name] = chunk[name].to_numpy()
        yield rows.tobytes()
    yield TRAILER


def decode(data: bytes | bytearray | memoryview, source: str) -> pl.DataFrame:
    """Columns ``ts, open, high, low, close, volume`` from a binary COPY stream of rows shaped
    like ``ROW``; ``DataError`` naming ``source`` when the stream is anything else."""
    view = memoryview(data)
    if len(view) < len(HEADER) + len(TRAILER) or bytes(view[: len(SIGNATURE)]) != SIGNATURE:
        raise DataError(f"{source}: not a PostgreSQL binary COPY stream")
    (extension,) = struct.unpack_from(">i", view, len(SIGNATURE) + 4)
    start = len(HEADER) + extension
    end = len(view) - len(TRAILER)
    if bytes(view[end:]) != TRAILER or (end - start) % ROW.itemsize:
        raise DataError(f"{source}: truncated binary COPY stream")
    rows = np.frombuffer(view[start:end], dtype=ROW)
    if rows.size and (
        not (rows["count"] == len(ROW_COLUMNS)).all()
        or not all((rows[f"{name}_len"] == FIELD_WIDTH).all() for name in ROW_COLUMNS)
    ):
        raise DataError(f"{source}: a row has a NULL or a value of the wrong type")
    return pl.DataFrame(
        {
            "ts": rows["ts"].astype(np.int64),
            **{name: rows[name].astype(np.float64) for name in VALUE_COLUMNS},
        },
        schema={"ts": pl.Int64, **dict.fromkeys(VALUE_COLUMNS, pl.Float64)},
    )
