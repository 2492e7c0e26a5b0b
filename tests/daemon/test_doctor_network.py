"""Doctor's network checks: the API port, venues' REST base URLs and the clock against them.

Venues point at local servers (no internet): a closed port, a server that never answers, and a
small HTTP server whose ``Date`` header the test sets.
"""

from __future__ import annotations

import http.server
import socket
import time
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest

from algotrade.daemon.doctor import Finding, Level
from algotrade.daemon.doctor_network import check_port, check_venues, configured_venues
from algotrade.daemon.settings import DaemonSettings, load_settings
from testkit.daemon_process import DaemonProcess, free_port
from testkit.http_stub import serving


class _Venue(http.server.BaseHTTPRequestHandler):
    status = 404  # a base URL's root: any answer proves it is reachable
    skew_s: float | None = 0.0  # None: no Date header at all

    def do_GET(self) -> None:
        self.send_response_only(self.status)
        if self.skew_s is not None:
            self.send_header("Date", formatdate(time.time() + self.skew_s, usegmt=True))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def venue_server() -> Iterator[type[_Venue]]:
    class Handler(_Venue):
        pass

    with serving(Handler) as url:
        Handler.url = url  # type: ignore[attr-defined]
        yield Handler


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield int(listener.getsockname()[1])


def settings_with(tmp_path: Path, toml: str) -> DaemonSettings:
    config = tmp_path / "config.toml"
    config.write_text(toml)
    return load_settings(config, {}, {"daemon": {"data_dir": tmp_path / "data"}})


def bybit(url: str, extra: str = "") -> str:
    return f'[venues.bybit]\nrest_url = "{url}"\n{extra}'


def lines(findings: list[Finding]) -> list[str]:
    return [finding.line() for finding in findings]


# -- venues -----------------------------------------------------------------------------------


def test_no_venue_configured(tmp_path: Path) -> None:
    assert lines(check_venues(settings_with(tmp_path, ""), 1.0)) == [
        "ok    venues: none configured (paper trading and simulated feeds only)"
    ]


def test_a_reachable_venue_with_a_good_clock(tmp_path: Path, venue_server: Any) -> None:
    reached, clock = check_venues(settings_with(tmp_path, bybit(venue_server.url)), 2.0)
    assert reached.level is Level.OK
    assert reached.line().startswith(f"ok    venue bybit: {venue_server.url} reachable (")
    assert clock.level is Level.OK
    assert clock.line().startswith("ok    clock bybit: local clock ")


@pytest.mark.parametrize(
    ("skew", "extra", "level", "text"),
    [
        (3.0, "", Level.WARN, "behind bybit (above 1 s); fix: sync the clock"),
        (-3.0, "", Level.WARN, "ahead of bybit (above 1 s)"),
        (3.0, "recv_window_ms = 2000\n", Level.FAIL, "beyond its receive window (2 s)"),
        (30.0, "", Level.FAIL, "behind bybit, beyond its receive window (5 s)"),
    ],
)
def test_clock_skew_against_the_date_header(
    tmp_path: Path, venue_server: Any, skew: float, extra: str, level: Level, text: str
) -> None:
    venue_server.skew_s = skew
    _, clock = check_venues(settings_with(tmp_path, bybit(venue_server.url, extra)), 2.0)
    assert clock.level is level, clock
    assert text in clock.line()
    measured = float(clock.line().split("local clock ")[1].split(" s ")[0])
    assert abs(measured - abs(skew)) <= 1.0


def test_skew_limit_without_a_receive_window(tmp_path: Path, venue_server: Any) -> None:
    # Hyperliquid's settings name no receive window: the fixed limit (5 s) applies.
    venue_server.skew_s = -8.0
    toml = f'[venues.hyperliquid]\napi_url = "{venue_server.url}"\n'
    _, clock = check_venues(settings_with(tmp_path, toml), 2.0)
    assert clock.level is Level.FAIL
    assert "ahead of hyperliquid, beyond 5 s" in clock.line()


def test_no_date_header_and_a_server_error(tmp_path: Path, venue_server: Any) -> None:
    venue_server.skew_s = None
    venue_server.status = 503
    reached, clock = check_venues(settings_with(tmp_path, bybit(venue_server.url)), 2.0)
    assert reached.level is Level.WARN
    assert "answers HTTP 503" in reached.line()
    assert clock.level is Level.WARN
    assert "no usable Date header; skew not measured" in clock.line()


def test_unreachable_venues_fail_within_one_timeout(tmp_path: Path, silent_port: int) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    silent = f"http://127.0.0.1:{silent_port}"
    toml = bybit(closed) + f'[venues.projectx]\napi_url = "{silent}"\n'
    started = time.monotonic()
    findings = check_venues(settings_with(tmp_path, toml), 1.0)
    elapsed = time.monotonic() - started
    assert elapsed < 1.9  # side by side, and the silent one gives up after its timeout
    assert [f.level for f in findings] == [Level.FAIL, Level.FAIL]
    assert f"venue bybit: {closed} unreachable (ConnectError" in findings[0].line()
    assert f"venue projectx: {silent} unreachable (no answer within 1 s)" in findings[1].line()
    assert "fix: check the network, DNS" in findings[1].line()


def test_venues_named_by_bots_are_checked_with_their_defaults(tmp_path: Path) -> None:
    toml = (
        "[[bots]]\nbot_id = 'a'\nstrategy = 'ma_crossover'\nsymbol = 'BTC/USDT'\n"
        "interval = '1m'\nfeed = 'bybit'\nvenue = 'paper'\n"
    )
    venues = configured_venues(settings_with(tmp_path, toml))
    assert list(venues) == ["bybit"]  # paper is the daemon's own, not a registry entry
    assert venues["bybit"].base_url == "https://api.bybit.com"  # not requested by this test


# -- the API port -----------------------------------------------------------------------------


def test_a_free_port_and_one_held_by_another_program(tmp_path: Path, silent_port: int) -> None:
    port = free_port()
    free = check_port(settings_with(tmp_path, f"[api]\nport = {port}\n"), 1.0)
    assert free.line() == f"ok    port: 127.0.0.1:{port} is free"

    held = check_port(settings_with(tmp_path, f"[api]\nport = {silent_port}\n"), 0.5)
    assert held.level is Level.FAIL
    assert held.line() == (
        f"FAIL  port: 127.0.0.1:{silent_port} is in use by a program that is not an algotrade "
        "daemon; fix: stop that program or set api.port / --port"
    )


@pytest.mark.slow
def test_a_port_held_by_a_running_daemon(tmp_path: Path) -> None:
    daemon = DaemonProcess(tmp_path / "data").start()
    try:
        ours = check_port(settings_with(tmp_path, f"[api]\nport = {daemon.port}\n"), 2.0)
        assert ours.level is Level.OK, ours
        assert daemon.proc is not None
        assert f"held by this install's daemon (pid {daemon.proc.pid}, running)" in ours.line()

        other = tmp_path / "other"
        other.mkdir()
        config = other / "config.toml"
        config.write_text(f"[api]\nport = {daemon.port}\n")
        elsewhere = load_settings(config, {}, {"daemon": {"data_dir": other / "data"}})
        theirs = check_port(elsewhere, 2.0)
        assert theirs.level is Level.WARN
        assert "held by another algotrade daemon" in theirs.line()
        assert "give this install another api.port" in theirs.line()
    finally:
        assert daemon.terminate()[0] == 0
