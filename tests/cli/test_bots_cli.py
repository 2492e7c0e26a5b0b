"""``algotrade bots`` against a real daemon process over real HTTP and WebSocket.

One daemon serves the whole module. Most commands run in-process (``CliRunner`` on the real
``algotrade`` app); the real console entry point runs as a subprocess for a one-line error and
for ``watch``, which streams until Ctrl-C (SIGINT here). Subprocesses are few: each one spends
about two seconds importing the CLI.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from algotrade.cli.bots_render import message_lines, parse_value
from algotrade.cli.main import app
from testkit.api_harness import ADMIN_KEY, TRADER_KEY, running_server
from testkit.daemon_process import DaemonProcess, wait_until
from testkit.fake_bot_service import FakeBotService

pytestmark = pytest.mark.slow

RUNNER = CliRunner()
# Wide tables (nothing elided) and no key from the developer's own shell.
CLI_ENV: dict[str, str | None] = {
    "COLUMNS": "200",
    "ALGOTRADE_API_KEY": None,
    "ALGOTRADE_DAEMON_URL": None,
}
SUBPROCESS_ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith("ALGOTRADE_")},
    "PYTHONUNBUFFERED": "1",
}
SIM_FLAGS = [
    "--strategy", "ma_crossover",
    "-p", "fast=2", "-p", "slow=5", "-p", "qty=1",
    "--feed-option", "tick_seconds=0.02", "--feed-option", "volatility=0.01",
    "--capital", "100000", "--commission", "0.001",
]  # fmt: skip


def sim_bot(bot_id: str, seed: int) -> dict[str, Any]:
    return {
        "bot_id": bot_id,
        "symbol": f"SIM-{seed}",
        "strategy": "ma_crossover",
        "params": {"fast": 2, "slow": 5, "qty": 1},
        "feed_options": {"seed": seed, "tick_seconds": 0.02, "volatility": 0.01},
        "initial_capital": "100000",
    }


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    process = DaemonProcess(tmp_path_factory.mktemp("bots-cli") / "data")
    process.start()
    try:
        yield process
    finally:
        process.kill()


def cli(url: str, *args: str, key: str | None = None) -> Result:
    prefix = ["bots", "--daemon-url", url] + (["--api-key", key] if key else [])
    return RUNNER.invoke(app, [*prefix, *args], env=CLI_ENV)


def ok(result: Result) -> str:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return result.stdout


def ok_json(result: Result) -> Any:
    return json.loads(ok(result))


def assert_one_line_error(code: int, stderr: str, expected_code: int, *needles: str) -> str:
    assert code == expected_code, stderr
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "algotrade", "bots", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=SUBPROCESS_ENV,
    )


class LineReader:
    """Reads a process's stdout on a thread, so the test can wait with a timeout."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        self.lines: queue.Queue[str] = queue.Queue()
        stream = proc.stdout
        threading.Thread(target=lambda: [self.lines.put(x) for x in stream], daemon=True).start()

    def until(self, predicate: Any, timeout: float) -> list[str]:
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            seen.append(line)
            if predicate(line):
                return seen
        raise AssertionError(f"no matching line within {timeout} s; got {seen[-5:]}")


# -- unit: option values -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2", 2),
        ("0.5", 0.5),
        ("true", True),
        ("false", False),
        ("ma_crossover", "ma_crossover"),
        ("007", "007"),
        ("NaN", "NaN"),
        ("null", "null"),
        ("[1, 2]", "[1, 2]"),
        ("0.1234567890123456789", "0.1234567890123456789"),  # a float would round it
    ],
)
def test_param_values_are_json_numbers_and_bools_else_text(text: str, value: object) -> None:
    parsed = parse_value(text)
    assert parsed == value
    assert type(parsed) is type(value)


# -- against the daemon --------------------------------------------------------------------


def test_create_from_flags_then_list_and_show(daemon: DaemonProcess) -> None:
    created = ok_json(
        cli(daemon.url, "create", "--json", "--id", "flags", "--symbol", "SIM-F", *SIM_FLAGS,
            "--interval", "5m", "--auto-resume")
    )  # fmt: skip
    assert created["bot_id"] == "flags"
    assert created["state"] == "stopped"
    assert created["simulated"] is True

    config = ok_json(cli(daemon.url, "show", "flags", "--json"))["config"]
    assert config["params"] == {"fast": 2, "slow": 5, "qty": 1}
    assert config["feed_options"] == {"tick_seconds": 0.02, "volatility": 0.01}
    assert config["initial_capital"] == "100000"
    assert config["commission"] == "0.001"
    assert config["interval"] == "5m"
    assert config["auto_resume"] is True

    human = ok(cli(daemon.url, "show", "flags"))
    assert "SIMULATED" in human
    assert "ma_crossover" in human

    table = ok(cli(daemon.url, "list"))
    row = next(line for line in table.splitlines() if " flags " in line)
    assert "stopped" in row
    assert "SIM" in row
    assert "100000" in row
    listed = ok_json(cli(daemon.url, "--json", "list"))  # the group's --json works too
    assert "flags" in {bot["bot_id"] for bot in listed}


@pytest.mark.parametrize("suffix", ["json", "toml", "yaml"])
def test_create_from_file_with_flag_override(
    daemon: DaemonProcess, tmp_path: Path, suffix: str
) -> None:
    texts = {
        "json": json.dumps(sim_bot("from-file", 7)),
        "toml": 'bot_id = "from-file"\nsymbol = "SIM-7"\nstrategy = "ma_crossover"\n'
        "params = { fast = 2, slow = 5, qty = 1 }\nfeed_options = { tick_seconds = 0.02 }\n",
        "yaml": "bot_id: from-file\nsymbol: SIM-7\nstrategy: ma_crossover\n"
        "params: {fast: 2, slow: 5, qty: 1}\nfeed_options: {tick_seconds: 0.02}\n",
    }
    path = tmp_path / f"bot.{suffix}"
    path.write_text(texts[suffix])
    bot_id = f"file-{suffix}"
    out = ok(cli(daemon.url, "create", "--file", str(path), "--id", bot_id, "-p", "qty=2"))
    assert f"created bot '{bot_id}' stopped (SIM)" in out
    config = ok_json(cli(daemon.url, "show", bot_id, "--json"))["config"]
    assert config["symbol"] == "SIM-7"
    assert config["params"] == {"fast": 2, "slow": 5, "qty": 2}


def test_create_a_live_bot_needs_mode_live(daemon: DaemonProcess) -> None:
    # Validation only (the bot is never started: no venue is reachable from this test).
    result = cli(daemon.url, "create", "--id", "hl", "--symbol", "BTC", "--strategy",
                 "ma_crossover", "--feed", "hyperliquid", "--venue", "hyperliquid")  # fmt: skip
    assert_one_line_error(result.exit_code, result.stderr, 2, "422 validation_error", "mode 'live'")
    created = ok_json(
        cli(daemon.url, "create", "--json", "--id", "hl", "--symbol", "BTC", "--strategy",
            "ma_crossover", "--feed", "hyperliquid", "--venue", "hyperliquid", "--mode", "live")
    )  # fmt: skip
    assert created["simulated"] is False
    config = ok_json(cli(daemon.url, "show", "hl", "--json"))["config"]
    assert (config["feed"], config["venue"], config["mode"]) == ("hyperliquid",) * 2 + ("live",)


def test_bad_config_file_is_one_line_exit_2(daemon: DaemonProcess, tmp_path: Path) -> None:
    path = tmp_path / "bot.toml"
    path.write_text('bot_id = "x\n')
    result = cli(daemon.url, "create", "--file", str(path))
    assert_one_line_error(result.exit_code, result.stderr, 2, "bot.toml", "line 1")
    result = cli(daemon.url, "create", "--id", "x", "--symbol", "S", "--strategy", "nope")
    assert_one_line_error(result.exit_code, result.stderr, 2, "422 invalid_config", "'nope'")


def test_unknown_strategy_parameter_lists_the_valid_ones(daemon: DaemonProcess) -> None:
    result = cli(daemon.url, "create", "--id", "typo", "--symbol", "S", "--strategy", "rsi",
                 "-p", "perod=10")  # fmt: skip
    line = assert_one_line_error(result.exit_code, result.stderr, 2, "422 invalid_config")
    assert line.endswith(
        "strategy rsi: unknown parameter 'perod'; valid parameters: period, oversold, "
        "exit_level, overbought, qty, long_only"
    )
    assert daemon.call("GET", "/api/bots/typo").status_code == 404  # nothing was created


def test_start_pause_resume_stop_and_history(daemon: DaemonProcess) -> None:
    ok(cli(daemon.url, "create", "--id", "trader", "--symbol", "SIM-T", *SIM_FLAGS))
    assert ok_json(cli(daemon.url, "start", "trader", "--json"))["state"] == "running"
    wait_until(
        lambda: daemon.ok("GET", "/api/bots/trader/fills?limit=1")["total"] >= 4,
        timeout=20,
        what="fills of the sim bot",
    )
    assert ok(cli(daemon.url, "pause", "trader")).strip() == "bot 'trader' paused (SIM)"
    again = cli(daemon.url, "pause", "trader")  # 409: the bot's state forbids it
    assert_one_line_error(again.exit_code, again.stderr, 2, "409 invalid_state", "paused")
    assert ok_json(cli(daemon.url, "resume", "trader", "--json"))["state"] == "running"
    assert ok_json(cli(daemon.url, "stop", "trader", "--json"))["state"] == "stopped"

    oldest = ok_json(
        cli(daemon.url, "orders", "trader", "--oldest-first", "--limit", "2", "--json")
    )
    assert len(oldest["items"]) == 2
    assert oldest["total"] >= 4
    assert (oldest["offset"], oldest["limit"]) == (0, 2)
    assert oldest["items"][0]["client_order_id"] == "trader-1"
    every = ok_json(
        cli(daemon.url, "orders", "trader", "--oldest-first", "--limit", "1000", "--json")
    )
    ids = [order["client_order_id"] for order in every["items"]]
    assert len(ids) == every["total"]
    # Newest first by default: the last orders, the newest at the top.
    page = ok_json(cli(daemon.url, "orders", "trader", "--limit", "2", "--json"))
    assert [order["client_order_id"] for order in page["items"]] == ids[::-1][:2]
    assert (page["offset"], page["limit"], page["order"]) == (0, 2, "desc")
    fills = ok_json(cli(daemon.url, "fills", "trader", "--offset", "1", "--limit", "2", "--json"))
    all_fills = ok_json(cli(daemon.url, "fills", "trader", "--limit", "1000", "--json"))
    assert fills["items"] == all_fills["items"][1:3]
    assert {f["side"] for f in fills["items"]} <= {"buy", "sell"}

    orders_table = ok(cli(daemon.url, "orders", "trader", "--limit", "3"))
    assert ids[-1] in orders_table
    assert "trader-1 " not in orders_table
    assert "filled" in orders_table
    assert f"orders 1–3 of {every['total']}, newest first" in orders_table
    fills_table = ok(cli(daemon.url, "fills", "trader", "--limit", "1", "--oldest-first"))
    assert "trader-1" in fills_table
    assert "oldest first" in fills_table

    held = ok_json(cli(daemon.url, "positions", "trader", "--json"))
    status = daemon.ok("GET", "/api/bots/trader")["status"]
    assert {p["symbol"]: p["qty"] for p in held if p["qty"] != "0"} == status["position"]
    assert "SIM-T" in ok(cli(daemon.url, "positions", "trader"))


def test_delete_needs_yes_without_a_tty(daemon: DaemonProcess) -> None:
    daemon.ok("POST", "/api/bots", json=sim_bot("doomed", 3))
    refused = cli(daemon.url, "delete", "doomed")  # CliRunner's stdin is not a TTY
    assert_one_line_error(refused.exit_code, refused.stderr, 2, "--yes", "doomed")
    assert daemon.call("GET", "/api/bots/doomed").status_code == 200

    assert ok(cli(daemon.url, "delete", "doomed", "--yes")).strip() == "deleted bot 'doomed'"
    gone = cli(daemon.url, "show", "doomed")
    assert_one_line_error(gone.exit_code, gone.stderr, 2, "404 not_found: no bot 'doomed'")


def test_delete_on_a_tty_asks_first(daemon: DaemonProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    from algotrade.cli import bots_cmd

    daemon.ok("POST", "/api/bots", json=sim_bot("asked", 4))
    # Only the TTY check is faked; the answer comes through click's prompt from the runner.
    monkeypatch.setattr(
        bots_cmd, "sys", SimpleNamespace(stdin=SimpleNamespace(isatty=lambda: True))
    )
    args = ["bots", "--daemon-url", daemon.url, "delete", "asked"]
    declined = RUNNER.invoke(app, args, input="n\n", env=CLI_ENV)
    assert declined.exit_code == 1
    assert "Delete bot 'asked'" in declined.stdout
    assert "aborted: bot 'asked' not deleted" in declined.stderr
    assert daemon.call("GET", "/api/bots/asked").status_code == 200
    confirmed = RUNNER.invoke(app, args, input="y\n", env=CLI_ENV)
    assert "deleted bot 'asked'" in ok(confirmed)
    assert daemon.call("GET", "/api/bots/asked").status_code == 404


def test_unknown_bot_from_the_real_entry_point(daemon: DaemonProcess) -> None:
    proc = spawn("--daemon-url", daemon.url, "show", "nope")
    stdout, stderr = proc.communicate(timeout=60)
    line = assert_one_line_error(proc.returncode, stderr, 2)
    assert line == "error: 404 not_found: no bot 'nope'"
    assert stdout == ""


def test_unreachable_daemon_and_bad_ids() -> None:
    with socket.socket() as bound:  # bound but not listening: connections are refused
        bound.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{bound.getsockname()[1]}"
        dead_url = f"http://{address}"
        for args in (["list"], ["watch"]):  # REST, and the WebSocket (ws://.../ws)
            result = cli(dead_url, *args)
            assert_one_line_error(result.exit_code, result.stderr, 1, address, "--daemon-url")
    bad_url = RUNNER.invoke(app, ["bots", "--daemon-url", "localhost:8080", "list"], env=CLI_ENV)
    assert_one_line_error(bad_url.exit_code, bad_url.stderr, 2, "--daemon-url")
    # Usage errors become one line in main(); here click's own handling shows them.
    bad_id = cli(dead_url, "start", "no/such")
    assert bad_id.exit_code == 2
    assert "'no/such' is not a bot id" in bad_id.stderr


def test_watch_streams_events_until_ctrl_c(daemon: DaemonProcess) -> None:
    daemon.ok("POST", "/api/bots", json=sim_bot("watched", 5))
    proc = spawn("--daemon-url", daemon.url, "watch", "watched", "--json",
                 "--topic", "status", "--topic", "fills")  # fmt: skip
    try:
        lines = LineReader(proc)
        first = json.loads(lines.until(lambda _: True, timeout=30)[0])
        assert first == {"type": "subscribed", "topics": ["status", "fills"], "bot_id": "watched"}
        daemon.ok("PUT", "/api/bots/watched/start")
        seen = lines.until(
            lambda line: (
                json.loads(line) | {"data": None}
                == {"type": "event", "topic": "fills", "bot_id": "watched", "data": None}
            ),
            timeout=20,
        )
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        _, stderr = proc.communicate(timeout=15)
        assert proc.returncode == 0, stderr
        assert "Traceback" not in stderr
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        daemon.ok("PUT", "/api/bots/watched/stop")
    messages = [json.loads(line) for line in seen]
    assert [(m["type"], m["topic"]) for m in messages[:2]] == [
        ("snapshot", "status"),
        ("snapshot", "fills"),
    ]
    assert any(m["type"] == "event" and m["topic"] == "status" for m in messages)
    fill = messages[-1]
    assert fill["data"]["side"] in ("buy", "sell")
    # Without --json the same message is one line (the human format, from a real event).
    [line] = message_lines(fill)
    data = fill["data"]
    assert f" fill   watched {data['side']} {data['qty']} SIM-5 @ {data['price']} " in line


def test_watch_of_an_unknown_bot_fails_at_once(daemon: DaemonProcess) -> None:
    result = cli(daemon.url, "watch", "ghost")
    assert_one_line_error(result.exit_code, result.stderr, 2, "not_found", "ghost")


# -- API keys (an in-thread server over the fake service: no second daemon needed) ---------


def test_api_key_errors_exit_1() -> None:
    with running_server(FakeBotService()) as server:
        missing = cli(server.base_url, "list")
        assert_one_line_error(missing.exit_code, missing.stderr, 1, "401", "--api-key")
        args = ["create", "--id", "k", "--symbol", "S", "--strategy", "ma_crossover"]
        read_only = cli(server.base_url, *args, key=TRADER_KEY)
        assert_one_line_error(read_only.exit_code, read_only.stderr, 1, "403 forbidden")
        assert "created bot 'k'" in ok(cli(server.base_url, *args, key=ADMIN_KEY))
        listed = RUNNER.invoke(
            app, ["bots", "--daemon-url", server.base_url, "list", "--json"],
            env={**CLI_ENV, "ALGOTRADE_API_KEY": TRADER_KEY},
        )  # fmt: skip
        assert [bot["bot_id"] for bot in ok_json(listed)] == ["k"]
