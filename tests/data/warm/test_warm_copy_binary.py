"""The binary COPY codec on its own: the exact bytes PostgreSQL documents, and back."""

from __future__ import annotations

import struct

import polars as pl
import pytest
from warm_factories import bars, bits

from algotrade.core.errors import DataError
from algotrade.data.warm.copy_binary import decode, encode


def test_one_row_is_the_documented_layout() -> None:
    frame = pl.DataFrame(
        {
            "ts": [1_700_000_000_123_456_789],
            "open": [0.1 + 0.2],
            "high": [1e-300],
            "low": [-0.0],
            "close": [5e-324],
            "volume": [2.0**63],
        }
    )
    row = struct.pack(">h", 6) + struct.pack(">iq", 8, 1_700_000_000_123_456_789)
    for value in (0.1 + 0.2, 1e-300, -0.0, 5e-324, 2.0**63):
        row += struct.pack(">id", 8, value)
    expected = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0) + row + struct.pack(">h", -1)
    assert b"".join(encode(frame)) == expected


@pytest.mark.parametrize("chunk_rows", [1, 7, 1000])
def test_round_trip_is_bit_exact_whatever_the_chunking(chunk_rows: int) -> None:
    frame = bars(100)
    frame = frame.with_columns(
        pl.Series("ts", [-(2**62), 1, *range(3, 100), 2**63 - 2], dtype=pl.Int64)
    )
    blocks = list(encode(frame, chunk_rows))
    assert len(blocks) == 2 + -(-100 // chunk_rows)  # header, the chunks, trailer
    back = decode(b"".join(blocks), "test")
    assert back.schema == frame.schema
    assert bits(back) == bits(frame)


def test_empty_frame_round_trips() -> None:
    frame = bars(0)
    assert decode(b"".join(encode(frame)), "t").height == 0


def test_a_header_extension_is_skipped() -> None:
    data = b"".join(encode(bars(3)))
    extended = data[:11] + struct.pack(">ii", 0, 4) + b"abcd" + data[19:]
    assert bits(decode(extended, "t")) == bits(bars(3))


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"not copy data at all", "not a PostgreSQL binary COPY stream"),
        (b"".join(encode(bars(2)))[:-5], "truncated"),
    ],
)
def test_garbage_is_a_data_error_naming_the_source(data: bytes, problem: str) -> None:
    with pytest.raises(DataError, match=f"^db BTC: .*{problem}"):
        decode(data, "db BTC")


def test_a_null_field_is_refused() -> None:
    data = bytearray(b"".join(encode(bars(2))))
    # The first row's open field claims NULL (length -1) while its 8 bytes stay: the stream
    # has the right size, only the field is wrong.
    offset = 19 + 2 + 12
    data[offset : offset + 4] = struct.pack(">i", -1)
    with pytest.raises(DataError, match="NULL"):
        decode(bytes(data), "db")
