"""The bar recorder's buffer, flushes, retries and compaction, against a real catalog in a
temporary directory (flushes are called explicitly: no thread timing in these tests)."""

from __future__ import annotations

import errno
import logging
from pathlib import Path

import polars as pl
import pytest

from algotrade.core.events import Bar
from algotrade.daemon.recorder import BarRecorder, CatalogWriter
from algotrade.daemon.recorder_buffer import Batch, RecordBuffer
from algotrade.data.catalog import AppendResult, Catalog, SeriesKey
from algotrade.data.catalog.layout import partition_files, period_dirs, series_dir

MINUTE = 60_000_000_000
T0 = 1_717_200_000 * 1_000_000_000  # 2024-06-01 00:00 UTC, a whole minute
VENUE = "somevenue"


def bar(i: int, symbol: str = "BTC", close: float | None = None) -> Bar:
    price = 100.0 + i if close is None else close
    return Bar(symbol, T0 + i * MINUTE, price, price + 1, price - 1, price, float(i))


class SpyCatalog:
    """A real catalog that counts appends and can be told to fail the next ones."""

    def __init__(self, root: Path) -> None:
        self.inner = Catalog(root)
        self.root = root
        self.appends: list[tuple[SeriesKey, int]] = []
        self.failures: list[BaseException] = []

    def append(self, key: SeriesKey, frame: pl.DataFrame) -> AppendResult:
        if self.failures:
            raise self.failures.pop(0)
        self.appends.append((key, frame.height))
        return self.inner.append(key, frame)

    def compact(self, key: SeriesKey | None = None) -> int:
        return self.inner.compact(key)


def recorder_on(catalog: CatalogWriter, **options: float) -> BarRecorder:
    return BarRecorder(lambda: catalog, **options)  # type: ignore[arg-type]


def stored(catalog: Catalog, symbol: str = "BTC", interval: str = "1m") -> pl.DataFrame:
    return catalog.scan(VENUE, [symbol], interval).collect()


@pytest.fixture
def spy(tmp_path: Path) -> SpyCatalog:
    return SpyCatalog(tmp_path / "catalog")


def test_bars_of_bots_sharing_a_series_are_written_once_per_flush(spy: SpyCatalog) -> None:
    recorder = recorder_on(spy)
    seen: list[Bar] = []
    first = recorder.tap(VENUE, "BTC", "1m", seen.append)
    second = recorder.tap(VENUE, "BTC", "1m", seen.append)
    other = recorder.tap(VENUE, "ETH", "1m", seen.append)
    for i in range(3):
        first(bar(i))
        second(bar(i))  # the same bar, delivered to the second bot of the series
        other(bar(i, "ETH"))
    assert len(seen) == 9  # every bot still gets every bar
    status = recorder.status()
    assert (status["buffered_rows"], status["buffered_series"]) == (6, 2)
    assert status["duplicate_deliveries"] == 3

    assert recorder.flush() == 6
    assert sorted((k.symbol, n) for k, n in spy.appends) == [("BTC", 3), ("ETH", 3)]
    assert stored(spy.inner)["ts"].to_list() == [T0 + i * MINUTE for i in range(3)]
    assert stored(spy.inner)["close"].to_list() == [100.0, 101.0, 102.0]
    status = recorder.status()
    assert (status["rows_recorded"], status["buffered_rows"], status["flushes"]) == (6, 0, 1)
    assert status["last_flush_at"] is not None
    assert status["last_error"] is None

    spy.appends.clear()
    assert recorder.flush() == 0  # nothing buffered: no append at all
    assert spy.appends == []


def test_a_failed_write_is_logged_with_the_file_and_retried_next_flush(
    spy: SpyCatalog, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = recorder_on(spy)
    tap = recorder.tap(VENUE, "BTC", "1m", lambda _bar: None)
    for i in range(3):
        tap(bar(i))
    spy.failures.append(OSError(errno.ENOSPC, "No space left on device", "/x/delta-000001.parquet"))
    with caplog.at_level(logging.ERROR, "algotrade.daemon.recorder"):
        assert recorder.flush() == 0
    status = recorder.status()
    assert status["buffered_rows"] == 3  # kept, not dropped
    assert status["failed_writes"] == 1
    assert status["last_flush_at"] is None
    assert "/x/delta-000001.parquet" in status["last_error"]
    assert "No space left on device" in status["last_error"]
    assert "somevenue:BTC:1m: writing /x/delta-000001.parquet failed" in caplog.text
    assert "3 bars kept" in caplog.text
    assert stored(spy.inner).height == 0

    tap(bar(3))  # arrives while the failed batch waits
    tap(bar(1))  # a repeat of a kept bar: still buffered once
    assert recorder.flush() == 4
    assert stored(spy.inner)["ts"].to_list() == [T0 + i * MINUTE for i in range(4)]
    assert recorder.status()["buffered_rows"] == 0
    assert recorder.status()["last_flush_at"] is not None


def test_a_write_error_without_a_file_names_the_series_directory(spy: SpyCatalog) -> None:
    recorder = recorder_on(spy)
    recorder.record(VENUE, "BTC", "1m", [bar(0)])
    recorder.flush()  # opens the catalog
    recorder.record(VENUE, "BTC", "1m", [bar(1)])
    spy.failures.append(RuntimeError("parquet footer unreadable"))
    recorder.flush()
    where = series_dir(spy.root, SeriesKey(VENUE, "BTC", "1m"))
    assert str(where) in recorder.status()["last_error"]
    assert recorder.flush() == 1


def test_bars_the_catalog_would_refuse_are_refused_one_by_one(
    spy: SpyCatalog, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = recorder_on(spy)
    tap = recorder.tap(VENUE, "BTC", "1m", lambda _bar: None)
    nan = bar(1)._replace(close=float("nan"))
    misaligned = bar(2)._replace(ts=T0 + 2 * MINUTE + 1)
    inverted = bar(3)._replace(high=50.0)
    with caplog.at_level(logging.WARNING, "algotrade.daemon.recorder"):
        for each in (bar(0), nan, misaligned, inverted, bar(4)):
            tap(each)
    assert recorder.status()["rejected_rows"] == 3
    assert "not a multiple of the interval" in caplog.text
    assert recorder.flush() == 2  # the good bars of the series are not held back
    assert stored(spy.inner)["ts"].to_list() == [T0, T0 + 4 * MINUTE]


def test_warm_up_history_already_recorded_is_skipped_without_the_catalog(
    spy: SpyCatalog,
) -> None:
    recorder = recorder_on(spy)
    assert recorder.record(VENUE, "BTC", "1m", [bar(i) for i in range(5)]) == 5
    recorder.flush()
    # A second bot's warm-up overlaps what this daemon recorded; only the new bars go on.
    assert recorder.record(VENUE, "BTC", "1m", [bar(i) for i in range(2, 7)]) == 2
    tap = recorder.tap(VENUE, "BTC", "1m", lambda _bar: None)
    tap(bar(6))  # the same bar live, for a third bot
    tap(bar(7))
    assert recorder.status()["duplicate_deliveries"] == 4
    assert recorder.flush() == 3
    assert [n for _key, n in spy.appends] == [5, 3]
    assert stored(spy.inner)["ts"].to_list() == [T0 + i * MINUTE for i in range(8)]


def test_bars_recorded_before_a_restart_are_not_stored_twice(spy: SpyCatalog) -> None:
    before = recorder_on(spy)
    before.record(VENUE, "BTC", "1m", [bar(i) for i in range(5)])
    before.flush()
    after = recorder_on(spy)  # a new daemon: its feeds' warm-up repeats stored bars
    assert after.record(VENUE, "BTC", "1m", [bar(i) for i in range(3, 8)]) == 5
    assert after.flush() == 3
    status = after.status()
    assert (status["rows_recorded"], status["rows_already_stored"]) == (3, 2)
    assert stored(spy.inner)["ts"].to_list() == [T0 + i * MINUTE for i in range(8)]


def test_a_bar_that_differs_from_the_stored_one_keeps_the_stored_one(spy: SpyCatalog) -> None:
    first = recorder_on(spy)
    first.record(VENUE, "BTC", "1m", [bar(0)])
    first.flush()
    second = recorder_on(spy)  # after a restart, the venue now says otherwise
    second.record(VENUE, "BTC", "1m", [bar(0, close=150.0)])
    second.flush()
    assert second.status()["conflicts"] == 1
    assert stored(spy.inner)["close"].to_list() == [100.0]


def test_a_gap_in_delivery_never_hides_bars_from_a_later_warm_up(spy: SpyCatalog) -> None:
    recorder = recorder_on(spy)
    recorder.record(VENUE, "BTC", "1m", [bar(i) for i in range(3)])
    tap = recorder.tap(VENUE, "BTC", "1m", lambda _bar: None)
    tap(bar(10))  # the feed stopped and came back later: bars 3..9 were never delivered
    # A deeper warm-up now brings them: none may be taken for recorded.
    assert recorder.record(VENUE, "BTC", "1m", [bar(i) for i in range(11)]) == 7
    recorder.flush()
    assert stored(spy.inner)["ts"].to_list() == [T0 + i * MINUTE for i in range(11)]


def test_a_full_buffer_drops_new_bars_and_says_so(
    spy: SpyCatalog, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = recorder_on(spy, max_buffered_rows=2)
    spy.failures.append(OSError(errno.EIO, "I/O error"))
    recorder.record(VENUE, "BTC", "1m", [bar(0), bar(1)])
    recorder.flush()  # fails: both kept
    with caplog.at_level(logging.ERROR, "algotrade.daemon.recorder"):
        assert recorder.record(VENUE, "BTC", "1m", [bar(2)]) == 0
    assert recorder.status()["dropped_rows"] == 1
    assert "buffer is full" in caplog.text
    assert "I/O error" in caplog.text
    assert recorder.flush() == 2
    assert recorder.record(VENUE, "BTC", "1m", [bar(3)]) == 1  # room again


def test_recording_never_keeps_a_bar_from_its_bot(
    spy: SpyCatalog, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = recorder_on(spy)
    seen: list[Bar] = []
    tap = recorder.tap(VENUE, "BTC", "1m", seen.append)

    def broken(*_args: object) -> str:
        raise RuntimeError("bug")

    monkeypatch.setattr(recorder._buffer, "add", broken)
    with caplog.at_level(logging.ERROR, "algotrade.daemon.recorder"):
        tap(bar(0))
    assert seen == [bar(0)]
    assert "not buffered" in caplog.text


def test_compaction_merges_the_series_written_since_the_last_one(spy: SpyCatalog) -> None:
    recorder = recorder_on(spy)
    for i in range(3):  # three flushes: three delta files
        recorder.record(VENUE, "BTC", "1m", [bar(i)])
        recorder.flush()
    folder = period_dirs(series_dir(spy.root, SeriesKey(VENUE, "BTC", "1m")))[0]
    assert len(partition_files(folder)) == 3
    assert recorder.compact() == 2
    assert [p.name for p in partition_files(folder)] == ["data.parquet"]
    assert recorder.compact() == 0  # nothing written since
    coverage = spy.inner.coverage(SeriesKey(VENUE, "BTC", "1m"))
    assert coverage is not None
    assert (coverage.rows, coverage.gaps) == (3, ())
    assert recorder.status()["compacted_files"] == 2


async def test_close_flushes_and_compacts_on_the_writer_thread(spy: SpyCatalog) -> None:
    # A flush interval far longer than the test: only close() can have written the bars.
    recorder = recorder_on(spy, flush_seconds=3600.0)
    recorder.start()
    tap = recorder.tap(VENUE, "ETH", "1m", lambda _bar: None)
    for i in range(4):
        tap(bar(i, "ETH"))
    await recorder.close(timeout=30)
    frame = stored(spy.inner, "ETH")
    assert frame["ts"].to_list() == [T0 + i * MINUTE for i in range(4)]
    folder = period_dirs(series_dir(spy.root, SeriesKey(VENUE, "ETH", "1m")))[0]
    assert [p.name for p in partition_files(folder)] == ["data.parquet"]
    assert recorder.status()["buffered_rows"] == 0


async def test_close_without_a_thread_still_flushes(spy: SpyCatalog) -> None:
    recorder = recorder_on(spy)
    recorder.record(VENUE, "BTC", "1m", [bar(0)])
    await recorder.close(timeout=10)
    assert stored(spy.inner).height == 1


def test_the_catalog_is_opened_only_when_a_bar_is_written(tmp_path: Path) -> None:
    opened: list[Path] = []

    def open_catalog() -> CatalogWriter:
        opened.append(tmp_path)
        return Catalog(tmp_path / "catalog")

    recorder = BarRecorder(open_catalog)
    recorder.flush()
    assert opened == []
    assert not (tmp_path / "catalog").exists()
    recorder.record(VENUE, "BTC", "1m", [bar(0)])
    recorder.flush()
    assert opened == [tmp_path]


def test_a_restored_batch_counts_each_bar_once_and_its_first_delivery_wins() -> None:
    buffer = RecordBuffer(max_rows=10)
    series = (VENUE, "BTC", "1m")
    buffer.add(series, bar(0))
    buffer.add(series, bar(1))
    (batch,) = buffer.take()
    assert isinstance(batch, Batch)
    assert batch.ts == (T0, T0 + MINUTE)
    assert buffer.snapshot()[:2] == (0, 0)
    buffer.add(series, bar(1, close=999.0))  # a later delivery of a bar in the failed batch
    buffer.add(series, bar(2))
    assert buffer.restore(batch) == 2
    assert buffer.snapshot()[:2] == (3, 1)
    (again,) = buffer.take()
    assert again.ts == (T0, T0 + MINUTE, T0 + 2 * MINUTE)
    assert again.values[1][3] == 101.0  # the first delivery's close
