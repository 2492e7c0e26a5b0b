"""``algotrade fetch-data`` against a small local /info server: paging, resume, bad input.

The command runs in-process through the real entry point (``algotrade.cli.main.main``) so the
retry backoff can be shrunk; the server is a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from algotrade.data.loader import load_bars
from algotrade.venues.hyperliquid.info import interval_ms

T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z
MINUTE = 60_000
NS_PER_MS = 1_000_000


@dataclass
class VenueState:
    first_ms: int = T0 - 10 * MINUTE  # history starts a little before the range asked for
    last_ms: int = T0 + 30 * 24 * 60 * MINUTE
    fail_after_pages: int | None = None  # answer 500 once this many pages were served
    pages_served: int = 0
    candle_requests: list[dict[str, Any]] = field(default_factory=list)


def price(open_ms: int) -> float:
    return 100 + (open_ms // MINUTE) % 7


def candles(state: VenueState, req: dict[str, Any]) -> list[dict[str, Any]]:
    step = interval_ms(req["interval"])
    start = max(req["startTime"], state.first_ms)
    t = -(-start // step) * step  # first grid time at or after start
    out = []
    while t <= min(req["endTime"], state.last_ms) and len(out) < 5000:
        o = price(t)
        out.append(
            {
                "t": t,
                "T": t + step - 1,
                "s": req["coin"],
                "i": req["interval"],
                "o": str(o),
                "c": str(o + 0.5),
                "h": str(o + 1),
                "l": str(o - 1),
                "v": str((t // MINUTE) % 5),
                "n": 3,
            }
        )
        t += step
    return out


def make_handler(state: VenueState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            assert self.path == "/info"
            if body["type"] == "meta":
                universe = [{"name": n, "szDecimals": 3, "maxLeverage": 20} for n in ("BTC", "ETH")]
                self.reply(200, {"universe": universe})
            elif body["type"] == "candleSnapshot":
                state.candle_requests.append(body["req"])
                limit = state.fail_after_pages
                if limit is not None and state.pages_served >= limit:
                    self.reply(500, "internal error")
                    return
                state.pages_served += 1
                self.reply(200, candles(state, body["req"]))
            else:
                self.reply(422, "unknown request")

        def reply(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode() if status == 200 else str(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@pytest.fixture
def venue() -> Iterator[tuple[str, VenueState]]:
    state = VenueState()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("algotrade.venues.hyperliquid.http.BACKOFF_BASE_S", 0.001)
    monkeypatch.setattr("algotrade.venues.hyperliquid.http.BACKOFF_MAX_S", 0.002)


def algotrade(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str]:
    from algotrade.cli.main import main

    monkeypatch.setattr(sys, "argv", ["algotrade", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    return code, capsys.readouterr().err


def fetch_args(url: str, out: Path, *extra: str) -> list[str]:
    return [
        "fetch-data",
        "--venue",
        "hyperliquid",
        "--symbol",
        "BTC",
        "--interval",
        "1m",
        "--start",
        "2024-01-01",
        "--end",
        "2024-01-08",
        "--out",
        str(out),
        "--api-url",
        url,
        *extra,
    ]


def test_fetch_pages_resumes_after_a_failure_and_loads(
    venue: tuple[str, VenueState],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, state = venue
    out = tmp_path / "BTC-1m.parquet"
    partial = tmp_path / "BTC-1m.parquet.partial"
    expected = 7 * 24 * 60  # 10080 one-minute bars: three pages of at most 5000

    state.fail_after_pages = 1  # the venue breaks after the first page
    code, err = algotrade(monkeypatch, capsys, *fetch_args(url, out))
    assert code == 1, err
    assert "HTTP 500" in err
    assert "rerun the same command to resume" in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()
    assert len(list(partial.glob("page-*.parquet"))) == 1
    first_attempts = len(state.candle_requests)
    assert first_attempts == 1 + 1 + 5  # page 1, then page 2 tried 1 + max_retries times

    state.fail_after_pages = None
    code, err = algotrade(monkeypatch, capsys, *fetch_args(url, out))
    assert code == 0, err
    resumed = state.candle_requests[first_attempts:]
    assert resumed[0]["startTime"] == T0 + 4999 * MINUTE + 1  # after the last stored candle
    assert len(resumed) == 2  # 5000 more, then the short last page
    assert not partial.exists()
    assert f"wrote {expected:,} BTC 1m bars" in err

    bars = load_bars([out])
    assert len(bars) == expected
    assert bars.symbols == ["BTC"]
    assert bars.start_ns == T0 * NS_PER_MS
    assert bars.end_ns == (T0 + (expected - 1) * MINUTE) * NS_PER_MS
    frame = bars.frame
    assert frame["ts"].diff().drop_nulls().unique().to_list() == [MINUTE * NS_PER_MS]
    row = frame.row(5000, named=True)
    assert row["open"] == price(T0 + 5000 * MINUTE)
    assert row["close"] == row["open"] + 0.5


def test_fetch_hourly_csv_in_one_page(
    venue: tuple[str, VenueState],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, state = venue
    out = tmp_path / "eth.csv"
    args = fetch_args(url, out, "--interval", "1h")
    args[args.index("BTC")] = "ETH"
    code, err = algotrade(monkeypatch, capsys, *args)
    assert code == 0, err
    bars = load_bars([f"ETH={out}"])
    assert len(bars) == 7 * 24
    assert out.read_text().startswith("timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,")
    assert len(state.candle_requests) == 1


def test_nothing_in_range_is_bad_input(
    venue: tuple[str, VenueState],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, state = venue
    state.first_ms = state.last_ms = T0 + 365 * 24 * 60 * MINUTE
    out = tmp_path / "x.parquet"
    code, err = algotrade(monkeypatch, capsys, *fetch_args(url, out))
    assert code == 2
    assert "no BTC 1m candles" in err
    assert not out.exists()
    assert not (tmp_path / "x.parquet.partial").exists()


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (("--start", "2024-01-08"), "--start"),
        (("--start", "yesterday"), "--start"),
        (("--end", "2024-13-01"), "--end"),
        (("--interval", "7m"), "--interval"),
        (("--venue", "binance"), "--venue"),
        (("--symbol", "DOGE"), "--symbol"),
        (("--out", "missing-dir/x.parquet"), "--out"),
        (("--out", "x.json"), "--out"),
    ],
)
def test_bad_input_exits_2_naming_the_option(
    venue: tuple[str, VenueState],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    change: tuple[str, str],
    needle: str,
) -> None:
    url, _ = venue
    args = fetch_args(url, tmp_path / "x.parquet")
    option, value = change
    args[args.index(option) + 1] = str(tmp_path / value) if option == "--out" else value
    code, err = algotrade(monkeypatch, capsys, *args)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert needle in lines[0]
    assert not list(tmp_path.glob("*.partial"))


def test_unfinished_download_of_other_options_is_refused(
    venue: tuple[str, VenueState],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, state = venue
    out = tmp_path / "btc.parquet"
    state.fail_after_pages = 1
    code, _ = algotrade(monkeypatch, capsys, *fetch_args(url, out))
    assert code == 1
    state.fail_after_pages = None
    code, err = algotrade(monkeypatch, capsys, *fetch_args(url, out, "--interval", "5m"))
    assert code == 2
    assert "--out" in err
    assert "unfinished download" in err
    assert (tmp_path / "btc.parquet.partial").is_dir()  # left for the original command
