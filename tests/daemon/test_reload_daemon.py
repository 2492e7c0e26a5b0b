"""Live reload against a real daemon process: SIGHUP, ``POST /api/reload`` and a watched file
each reload; a changed parameter reaches the running bot, a new entry becomes a bot, a broken
source changes nothing and says why (API, log, WebSocket), keys rotate at once, a port change
needs a restart."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from testkit.daemon_process import DaemonProcess, free_port, wait_until

pytestmark = pytest.mark.slow

ADMIN_KEY = "reload-admin-key-0123456789"
NEW_ADMIN_KEY = "reload-rotated-key-0123456789"
TRADER_KEY = "reload-trader-key-0123456789"

BOT = """
[[bots]]
bot_id = "{bot_id}"
symbol = "SIM-BTC"
strategy = "ma_crossover"
params = {{ fast = {fast}, slow = 20, qty = 0.01 }}
interval = "1m"
feed = "sim"
feed_options = {{ seed = 1, start_price = 60000, volatility = 0.001, tick_seconds = 0.2 }}
auto_resume = true
"""
ACCOUNTS = "accounts:\n  - id: paper\n    starting_balance: 10000\n"
RULES = "defaults:\n  max_contracts:\n    limit: {limit}\n"


def bot(bot_id: str = "a", fast: int = 5) -> str:
    return BOT.format(bot_id=bot_id, fast=fast)


class Setup:
    """A config file, its risk files and a keys file (ALGOTRADE_API_KEYS_FILE) in ``tmp_path``."""

    def __init__(self, tmp_path: Path, head: str = "") -> None:
        self.dir = tmp_path
        self.config = tmp_path / "daemon.toml"
        self.accounts = tmp_path / "accounts.yaml"
        self.rules = tmp_path / "risk.yaml"
        self.keys = tmp_path / "api-keys"
        self.accounts.write_text(ACCOUNTS, encoding="utf-8")
        self.rules.write_text(RULES.format(limit=5), encoding="utf-8")
        self.write_keys(f"admin:{ADMIN_KEY}", f"trader:{TRADER_KEY}")
        self.head = (
            f'[risk]\naccounts_file = "{self.accounts}"\nrules_file = "{self.rules}"\n' + head
        )

    def write_keys(self, *entries: str) -> None:
        self.keys.write_text(",".join(entries) + "\n", encoding="utf-8")  # ALGOTRADE_API_KEYS
        self.keys.chmod(0o600)

    def write(self, body: str, head: str | None = None) -> None:
        text = (self.head if head is None else head) + body
        # Written whole and renamed: the watch never sees a half-written file.
        temporary = self.config.with_suffix(".tmp")
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(self.config)

    def daemon(
        self, body: str, cls: type[DaemonProcess] = DaemonProcess, port: int | None = None
    ) -> DaemonProcess:
        self.write(body)
        env = {"ALGOTRADE_API_KEYS_FILE": str(self.keys)}
        process = cls(self.dir / "data", port, "--config", str(self.config), env=env)
        process.env.pop("ALGOTRADE_API_KEYS", None)  # both set is an error
        process.api_key = ADMIN_KEY
        return process.start(timeout=60)


def config_of(daemon: DaemonProcess, bot_id: str) -> dict[str, Any]:
    detail = daemon.ok("GET", f"/api/bots/{bot_id}")
    return dict(detail["config"])


def status_of(daemon: DaemonProcess, bot_id: str) -> dict[str, Any]:
    return dict(daemon.ok("GET", f"/api/bots/{bot_id}")["status"])


def reloads(daemon: DaemonProcess) -> list[dict[str, Any]]:
    return list(daemon.ok("GET", "/api/reload")["reloads"])


def daemon_log(daemon: DaemonProcess) -> str:
    return (daemon.data_dir / "logs" / "daemon.log").read_text(encoding="utf-8")


def stop(daemon: DaemonProcess) -> None:
    code, _, stderr = daemon.terminate()
    assert code == 0, stderr


@contextmanager
def ws_connect(daemon: DaemonProcess, key: str) -> Iterator[ClientConnection]:
    url = daemon.url.replace("http://", "ws://") + f"/ws?token={key}"
    with connect(url, open_timeout=10) as ws:
        ws.send(json.dumps({"op": "subscribe", "topics": ["logs"], "bot_id": "*"}))
        yield ws


def next_reload_event(ws: ClientConnection, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        if frame.get("type") == "event" and frame["data"].get("kind") == "reload":
            return dict(frame["data"])
    raise AssertionError("no reload event on the WebSocket")


def test_api_and_sighup_reload_a_changed_parameter_and_an_added_bot(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    daemon = setup.daemon(bot("a", fast=5))
    try:
        wait_until(lambda: status_of(daemon, "a")["state"] == "running", 30, "bot a running")
        started = status_of(daemon, "a")["started_at"]
        setup.write(bot("a", fast=7) + bot("b"))
        answer = daemon.ok("POST", "/api/reload")
        assert answer["outcome"] == "applied", answer
        assert answer["source"] == "api"
        assert answer["actor"].startswith("admin key ")
        assert answer["bots"]["updated"] == {"a": ["params"]}
        assert answer["bots"]["created"] == ["b"]
        assert config_of(daemon, "a")["params"]["fast"] == 7
        # The running bot took it: it was stopped, updated and started again.
        assert status_of(daemon, "a")["state"] == "running"
        assert status_of(daemon, "a")["started_at"] != started
        assert {b["bot_id"] for b in daemon.ok("GET", "/api/bots")} == {"a", "b"}
        wait_until(lambda: status_of(daemon, "b")["state"] == "running", 30, "b auto-resumed")

        setup.write(bot("a", fast=9) + bot("b"))
        assert daemon.proc is not None
        daemon.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: config_of(daemon, "a")["params"]["fast"] == 9, 20, "SIGHUP reload")
        latest = reloads(daemon)[0]
        assert (latest["source"], latest["actor"], latest["outcome"]) == (
            "signal",
            "SIGHUP",
            "applied",
        )
        assert "reload #2 (signal: SIGHUP) applied" in daemon_log(daemon)
    except BaseException:
        daemon.kill()
        raise
    stop(daemon)


def test_a_file_change_reloads_when_watch_is_on(tmp_path: Path) -> None:
    watch = "[reload]\nwatch = true\nwatch_interval_s = 0.1\ndebounce_s = 0.2\n"
    setup = Setup(tmp_path, head=watch)
    daemon = setup.daemon(bot("a", fast=5))
    try:
        setup.write(bot("a", fast=6))
        wait_until(lambda: config_of(daemon, "a")["params"]["fast"] == 6, 20, "the file reload")
        latest = reloads(daemon)[0]
        assert latest["source"] == "file"
        assert latest["actor"] == f"changed: {setup.config}"
        # The risk file is watched too: new limits apply at once.
        setup.rules.write_text(RULES.format(limit=3), encoding="utf-8")
        wait_until(lambda: len(reloads(daemon)) == 2, 20, "the risk file reload")
        assert reloads(daemon)[0]["changed"] == ["risk rules of paper (max_contracts)"]
        account = daemon.ok("GET", "/api/risk/accounts/paper")
        assert account["rules"]["max_contracts"]["limit"] == "3"
    except BaseException:
        daemon.kill()
        raise
    stop(daemon)


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        ("toml", "daemon.toml line"),
        ("bot", "bots[0] (bot_id 'a'): unknown field 'colour'"),
        ("risk", "risk.yaml"),
    ],
)
def test_a_broken_source_changes_nothing_and_says_why(
    tmp_path: Path, broken: str, message: str
) -> None:
    setup = Setup(tmp_path)
    daemon = setup.daemon(bot("a", fast=5))
    try:
        with ws_connect(daemon, ADMIN_KEY) as ws:
            # Valid changes next to the broken one: none of them may be applied.
            body = bot("a", fast=8) + bot("b")
            if broken == "toml":
                body += "[api\n"
            elif broken == "bot":
                body = body.replace('bot_id = "a"', 'bot_id = "a"\ncolour = "red"')
            else:
                setup.rules.write_text(RULES.format(limit=-1), encoding="utf-8")
            setup.write(body, head=setup.head + '[logging]\nlevel = "DEBUG"\n')
            answer = daemon.call("POST", "/api/reload")
            assert answer.status_code == 422, answer.text
            error = answer.json()["error"]
            assert error["code"] == "invalid_config"
            assert message in error["message"]
            assert "\n" not in error["message"]
            event = next_reload_event(ws)
            assert event["level"] == "error"
            assert event["data"]["outcome"] == "rejected"
            assert event["data"]["error"] == error["message"]
        assert config_of(daemon, "a")["params"]["fast"] == 5
        assert [b["bot_id"] for b in daemon.ok("GET", "/api/bots")] == ["a"]
        log = daemon_log(daemon)
        assert f"rejected: {error['message']}; the running config stays" in log
        assert " DEBUG " not in log  # the level did not change either
        assert reloads(daemon)[0]["outcome"] == "rejected"
        account = daemon.ok("GET", "/api/risk/accounts/paper")
        assert account["rules"]["max_contracts"]["limit"] == "5"
    except BaseException:
        daemon.kill()
        raise
    stop(daemon)


def test_rotated_keys_work_at_once_and_a_trader_cannot_reload(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    daemon = setup.daemon(bot("a"))
    try:
        refused = httpx.post(
            f"{daemon.url}/api/reload", headers={"X-API-Key": TRADER_KEY}, timeout=10
        )
        assert refused.status_code == 403
        assert reloads(daemon) == []
        setup.write_keys(f"admin:{NEW_ADMIN_KEY}", f"trader:{TRADER_KEY}")
        answer = daemon.ok("POST", "/api/reload")
        assert answer["keys"].startswith("API keys: 1 added, 1 removed")
        assert ADMIN_KEY not in json.dumps(answer)
        assert NEW_ADMIN_KEY not in json.dumps(answer)
        old = httpx.get(f"{daemon.url}/api/bots", headers={"X-API-Key": ADMIN_KEY}, timeout=10)
        assert old.status_code == 401
        new = httpx.get(f"{daemon.url}/api/bots", headers={"X-API-Key": NEW_ADMIN_KEY}, timeout=10)
        assert new.status_code == 200
        for secret in (ADMIN_KEY, NEW_ADMIN_KEY):
            assert secret not in daemon_log(daemon)
    except BaseException:
        daemon.kill()
        raise
    daemon.api_key = NEW_ADMIN_KEY
    stop(daemon)


def test_an_open_websocket_of_a_removed_key_is_closed(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    daemon = setup.daemon(bot("a"))
    try:
        with ws_connect(daemon, TRADER_KEY) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "subscribed"
            setup.write_keys(f"admin:{ADMIN_KEY}")
            daemon.ok("POST", "/api/reload")
            close = None
            deadline = time.monotonic() + 10
            while close is None and time.monotonic() < deadline:
                try:
                    ws.recv(timeout=0.5)
                except TimeoutError:
                    continue
                except ConnectionClosed as exc:
                    close = exc.rcvd
            # Closed like a new connection with that key would be refused.
            assert close is not None, "the socket of the removed key stayed open"
            assert close.code == 4401
    except BaseException:
        daemon.kill()
        raise
    stop(daemon)


class _PortFromFileDaemon(DaemonProcess):
    """A daemon whose port comes from the config file (``--port`` would win over a reload)."""

    def launch(self) -> None:
        self.close_logs()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._stdout = (self.data_dir.parent / "daemon.out").open("a")
        self._stderr_path = self.data_dir.parent / "daemon.err"
        self._stderr = self._stderr_path.open("a")
        self._stderr_offset = self._stderr_path.stat().st_size
        self.launched_at = time.monotonic()
        command = [sys.executable, "-m", "algotrade", "daemon", "--data-dir", str(self.data_dir)]
        self.proc = subprocess.Popen(
            [*command, *self.extra],
            stdout=self._stdout,
            stderr=self._stderr,
            text=True,
            env=self.env,
            stdin=subprocess.DEVNULL,
        )


def test_a_port_change_needs_a_restart_and_the_rest_applies(tmp_path: Path) -> None:
    port, other = free_port(), free_port()
    setup = Setup(tmp_path)
    setup.head += f"[api]\nport = {port}\n"
    daemon = setup.daemon(bot("a", fast=5), cls=_PortFromFileDaemon, port=port)
    try:
        setup.write(bot("a", fast=7), head=setup.head.replace(f"port = {port}", f"port = {other}"))
        answer = daemon.ok("POST", "/api/reload")
        assert answer["outcome"] == "applied"
        assert answer["needs_restart"] == [f"api.port ({port} → {other})"]
        assert config_of(daemon, "a")["params"]["fast"] == 7  # the rest of the reload applied
        assert daemon.healthy()  # still on the old port
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{other}/api/health", timeout=2)
        assert f"needs restart: api.port ({port} → {other})" in daemon_log(daemon)
    except BaseException:
        daemon.kill()
        raise
    stop(daemon)
