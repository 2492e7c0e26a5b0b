"""Backtest results as JSON: exact decimals as strings, timestamps as ISO-8601 UTC.

``write_json`` streams the file: the text is exactly ``json.dumps(result_to_dict(result),
indent=1) + "\\n"`` (a test holds it to that), but a 1M-bar run never holds that dict (a list
of a million ``[time, value]`` lists) nor the 70 MB string in memory, and the equity points are
formatted a chunk at a time by polars instead of by the pure-Python indenting encoder
(``json.dumps`` with ``indent`` never uses the C encoder): 16 s and 1 GB became well under a
second and a few MB.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from json.encoder import encode_basestring_ascii  # the C escaper json.dumps itself uses
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt
import polars as pl

from algotrade.atomic_file import atomic_text_file
from algotrade.backtest.benchmark import benchmark_metrics
from algotrade.backtest.result import BacktestResult
from algotrade.core.events import Liquidity, OrderFilled, OrderSide
from algotrade.core.money import decimal_text
from algotrade.core.timeutil import NS_PER_SECOND, ns_to_iso
from algotrade.core.trades import ClosedTrade

IsoUnit = Literal["s", "ms"]
T = TypeVar("T")
# Rows formatted at once: few enough that the text never raises a 1M-bar run's peak memory,
# many enough that polars' per-call cost stays small (a fill's text is ~10x an equity point's).
EQUITY_CHUNK_ROWS = 32_768
RECORD_CHUNK_ROWS = 8_192
# polars formats these float64s exactly like ``float.__repr__`` (json's own float text) and
# timestamps from 1970 on like numpy's ISO strings; outside (exponent notation below 1e-4,
# nan/inf, stamps before 1970) a chunk takes the plain Python path instead. int64 ns end in
# 2262, so four-digit years are the only ones there are.
_PLAIN_FLOAT_MIN = 1e-4
_PLAIN_FLOAT_MAX = 1e16
_EQUITY_POINT = '  [\n   "{}Z",\n   {}\n  ]'  # one [time, value] pair at json indent=1, depth 2

FILL_KEYS = ("timestamp", "symbol", "side", "qty", "price", "fee", "liquidity", "order_id")
TRADE_KEYS = (
    "symbol",
    "direction",
    "qty",
    "entry_time",
    "exit_time",
    "entry_price",
    "exit_price",
    "gross_pnl",
    "fees",
    "net_pnl",
)


def iso_times(ts: npt.NDArray[np.int64]) -> list[str]:
    """Vectorised ns → ISO-8601 ``Z`` (whole seconds when every stamp allows it)."""
    if ts.size == 0:
        return []
    text = np.datetime_as_string(ts.astype("datetime64[ns]"), unit=_iso_unit(ts))
    return [t + "Z" for t in text.tolist()]


def _iso_unit(ts: npt.NDArray[np.int64]) -> IsoUnit:
    return "s" if bool(np.all(ts % NS_PER_SECOND == 0)) else "ms"


def fill_row(fill: OrderFilled) -> tuple[str, ...]:
    """A fill's JSON values, in ``FILL_KEYS`` order."""
    return (
        ns_to_iso(fill.ts),
        fill.symbol,
        fill.side.value,
        decimal_text(fill.qty),
        decimal_text(fill.price),
        decimal_text(fill.fee),
        fill.liquidity.value,
        fill.client_order_id,
    )


def trade_row(trade: ClosedTrade) -> tuple[str, ...]:
    """A closed trade's JSON values, in ``TRADE_KEYS`` order."""
    return (
        trade.symbol,
        trade.direction,
        decimal_text(trade.qty),
        ns_to_iso(trade.entry_ts),
        ns_to_iso(trade.exit_ts),
        decimal_text(trade.entry_price),
        decimal_text(trade.exit_price),
        decimal_text(trade.gross_pnl),
        decimal_text(trade.fees),
        decimal_text(trade.net_pnl),
    )


def _summary(result: BacktestResult) -> dict[str, Any]:
    """Everything but the long lists (fills, trades, equity), in the file's key order."""
    return {
        "simulated_data": result.synthetic,
        "strategy": result.strategy,
        "params": result.params,
        "symbols": result.symbols,
        "metrics": result.metrics,
        "benchmark": (result.benchmark_metrics or benchmark_metrics(result)) or None,
    }


def result_to_dict(result: BacktestResult) -> dict[str, Any]:
    """The JSON document as Python objects (small results, universes and tests; a single
    backtest's file is streamed by ``write_json`` without building this)."""
    values = [_finite(v) for v in np.round(result.equity, 8).tolist()]
    equity = [[t, v] for t, v in zip(iso_times(result.equity_ts), values, strict=True)]
    return {
        **_summary(result),
        "fills": [dict(zip(FILL_KEYS, fill_row(f), strict=True)) for f in result.fills],
        "trades": [dict(zip(TRADE_KEYS, trade_row(t), strict=True)) for t in result.trades],
        "equity": equity,
    }


def write_json(result: BacktestResult, path: Path) -> Path:
    """Write atomically (a reader never sees half a file), creating missing parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_text_file(path) as handle:
        handle.writelines(json_text(result))
    return path


def json_text(result: BacktestResult) -> Iterator[str]:
    """``json.dumps(result_to_dict(result), indent=1) + "\\n"``, piece by piece."""
    yield "{"
    for key, value in _summary(result).items():
        nested = json.dumps(value, indent=1).replace("\n", "\n ")  # one level deeper
        yield f"\n {encode_basestring_ascii(key)}: {nested},"
    number = _DecimalTexts()
    yield '\n "fills": '
    yield from _records_text(result.fills, lambda fills: _fills_text(fills, number))
    yield ',\n "trades": '
    yield from _records_text(result.trades, lambda trades: _trades_text(trades, number))
    yield ',\n "equity": '
    yield from _equity_points(np.asarray(result.equity_ts), np.asarray(result.equity))
    yield "\n}\n"


class _DecimalTexts(dict[Decimal, str]):
    """``decimal_text`` memoised for one file: prices, quantities and fees repeat a lot, and a
    dict lookup costs a tenth of formatting. Equal decimals (``1``, ``1.0``) share one text, as
    ``decimal_text`` drops exponents and trailing zeros."""

    def __missing__(self, value: Decimal) -> str:
        text = self[value] = decimal_text(value)
        return text


def _records_text(items: Sequence[T], chunk_text: Callable[[Sequence[T]], str]) -> Iterator[str]:
    """A list of objects at depth 1 (``json.dumps(indent=1)`` layout), a chunk at a time."""
    if not items:
        yield "[]"
        return
    yield "[\n"
    for start in range(0, len(items), RECORD_CHUNK_ROWS):
        text = chunk_text(items[start : start + RECORD_CHUNK_ROWS])
        yield text if start == 0 else ",\n" + text
    yield "\n ]"


# The two writers below spell out ``fill_row``/``trade_row`` with their keys as JSON text: the
# per-value work of a generic encoder was most of the time. Decimal and time texts hold only
# digits, "-", ".", ":", "T" and "Z", which JSON never escapes; free text goes through the
# escaper. A test holds the output to ``json.dumps(result_to_dict(...), indent=1)``.


def _fills_text(fills: Sequence[OrderFilled], number: _DecimalTexts) -> str:
    quote = encode_basestring_ascii
    enum_text = {member: quote(member.value) for member in (*OrderSide, *Liquidity)}
    times = iso_texts([fill.ts for fill in fills])
    return ",\n".join(
        f'  {{\n   "timestamp": "{time}",\n   "symbol": {quote(fill.symbol)},\n'
        f'   "side": {enum_text[fill.side]},\n   "qty": "{number[fill.qty]}",\n'
        f'   "price": "{number[fill.price]}",\n   "fee": "{number[fill.fee]}",\n'
        f'   "liquidity": {enum_text[fill.liquidity]},\n'
        f'   "order_id": {quote(fill.client_order_id)}\n  }}'
        for fill, time in zip(fills, times, strict=True)
    )


def _trades_text(trades: Sequence[ClosedTrade], number: _DecimalTexts) -> str:
    quote = encode_basestring_ascii
    entries = iso_texts([trade.entry_ts for trade in trades])
    exits = iso_texts([trade.exit_ts for trade in trades])
    return ",\n".join(
        f'  {{\n   "symbol": {quote(trade.symbol)},\n'
        f'   "direction": {quote(trade.direction)},\n   "qty": "{number[trade.qty]}",\n'
        f'   "entry_time": "{entry}",\n   "exit_time": "{exit_}",\n'
        f'   "entry_price": "{number[trade.entry_price]}",\n'
        f'   "exit_price": "{number[trade.exit_price]}",\n'
        f'   "gross_pnl": "{number[trade.gross_pnl]}",\n   "fees": "{number[trade.fees]}",\n'
        f'   "net_pnl": "{decimal_text(trade.net_pnl)}"\n  }}'
        for trade, entry, exit_ in zip(trades, entries, exits, strict=True)
    )


def iso_texts(stamps: Sequence[int]) -> list[str]:
    """``[ns_to_iso(ns) for ns in stamps]``, vectorised: whole seconds as ``…:SSZ``, others
    with 6 digits of microseconds (truncated), each stamp on its own."""
    ts = np.asarray(stamps, dtype=np.int64)
    if ts.size == 0:
        return []
    if int(ts.min()) < 0:  # before 1970: rare, and floor division is easy to get wrong
        return [ns_to_iso(ns) for ns in stamps]
    micro = (ts // 1000).astype("datetime64[us]")
    whole = np.datetime_as_string(micro, unit="s")
    fine = np.datetime_as_string(micro, unit="us")
    text = np.where(ts % NS_PER_SECOND == 0, whole, fine).tolist()
    return [t + "Z" for t in text]


def _equity_points(ts: npt.NDArray[np.int64], equity: npt.NDArray[np.float64]) -> Iterator[str]:
    """The equity curve's ``[time, value]`` pairs at depth 1, values rounded to 8 places."""
    if ts.size == 0:
        yield "[]"
        return
    unit = _iso_unit(ts)  # one unit for the whole curve, as ``iso_times`` picks it
    yield "[\n"
    for start in range(0, ts.size, EQUITY_CHUNK_ROWS):
        times = ts[start : start + EQUITY_CHUNK_ROWS]
        values = np.round(equity[start : start + EQUITY_CHUNK_ROWS], 8)
        text = _fast_points(times, values, unit) or _python_points(times, values, unit)
        yield text if start == 0 else ",\n" + text
    yield "\n ]"


def _fast_points(
    times: npt.NDArray[np.int64], values: npt.NDArray[np.float64], unit: IsoUnit
) -> str | None:
    """The chunk formatted by polars, or None when it holds a value polars would write
    differently from ``json.dumps``."""
    magnitude = np.abs(values)
    plain_floats = bool(
        np.all(np.isfinite(values))
        and np.all((magnitude == 0) | (magnitude >= _PLAIN_FLOAT_MIN))
        and np.all(magnitude < _PLAIN_FLOAT_MAX)
    )
    if not plain_floats or int(times.min()) < 0:
        return None
    stamp = "%Y-%m-%dT%H:%M:%S" if unit == "s" else "%Y-%m-%dT%H:%M:%S%.3f"
    # Handed over as memoryviews (read as sequences): polars' numpy path asks numpy.ma for a
    # mask, and importing numpy.ma costs a CLI run 0.1-0.2 s, more than reading 1M numbers.
    frame = pl.DataFrame(
        {
            "ts": pl.Series(np.ascontiguousarray(times).data, dtype=pl.Int64),
            "value": pl.Series(np.ascontiguousarray(values).data, dtype=pl.Float64),
        }
    )
    text = frame.select(
        pl.format(
            _EQUITY_POINT,
            pl.col("ts").cast(pl.Datetime("ns")).dt.strftime(stamp),
            pl.col("value").cast(pl.String),
        ).str.join(",\n")
    ).item()
    return str(text)


def _python_points(
    times: npt.NDArray[np.int64], values: npt.NDArray[np.float64], unit: IsoUnit
) -> str:
    stamps = np.datetime_as_string(times.astype("datetime64[ns]"), unit=unit).tolist()
    texts = (json.dumps(_finite(value)) for value in values.tolist())
    return ",\n".join(map(_EQUITY_POINT.format, stamps, texts))


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
