"""``algotrade tui --serve``: Chromium signs in to the TUI served in a browser.

A real daemon process, the real serve() in a subprocess spawning the real ``algotrade tui``
per browser session, Debian's Chromium via Playwright. xterm.js paints the terminal on a
canvas, so what the terminal shows is read from the bytes the page's WebSocket received
(exactly what xterm.js was given to paint), replayed on a small screen model.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from testkit.browser import TIMEOUT_MS, PageWatch, launch_chromium, require_chromium
from testkit.daemon_process import HTTP, DaemonProcess, free_port, wait_until

ADMIN_KEY = "tui-serve-admin-key-0123456789"
TRADER_KEY = "tui-serve-trader-key-0123456789"
KEYS_ENV = {"ALGOTRADE_API_KEYS": f"admin:{ADMIN_KEY},trader:{TRADER_KEY}"}
BOT_ID = "served-bot-1"
WS_UPGRADE = {
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}


class Screen:
    """The text a terminal shows after the escape sequences Textual writes (cursor moves,
    colours, modes); enough to find words on rows, not a full emulator."""

    _SEQUENCE = re.compile(
        r"\x1b\[([0-9;?<>=$]*)([A-Za-z@`$~])|\x1b\][^\x07]*\x07|\x1b[()][0-9A-B]"
    )

    def __init__(self) -> None:
        self.rows: dict[int, dict[int, str]] = {}
        self.row = self.column = 0

    def feed(self, data: str) -> None:
        position = 0
        for match in self._SEQUENCE.finditer(data):
            self._text(data[position : match.start()])
            position = match.end()
            if match.group(2) == "H":
                parts = [int(p) if p.isdigit() else 1 for p in (match.group(1) or "").split(";")]
                self.row = parts[0] - 1
                self.column = (parts[1] if len(parts) > 1 else 1) - 1
            elif match.group(2) == "J" and match.group(1) == "2":
                self.rows.clear()
        self._text(data[position:])

    def _text(self, text: str) -> None:
        for char in text:
            if char == "\n":
                self.row += 1
            elif char == "\r":
                self.column = 0
            elif char >= " ":
                self.rows.setdefault(self.row, {})[self.column] = char
                self.column += 1

    def lines(self) -> list[str]:
        result = []
        for row in sorted(self.rows):
            cells = self.rows[row]
            result.append("".join(cells.get(c, " ") for c in range(max(cells) + 1)).rstrip())
        return result

    def text(self) -> str:
        return "\n".join(self.lines())


def sim_bot(bot_id: str, seed: int) -> dict[str, Any]:
    return {
        "bot_id": bot_id,
        "symbol": f"SIM-{seed}",
        "strategy": "ma_crossover",
        "params": {"fast": 2, "slow": 5, "qty": 1},
        "feed": "sim",
        "feed_options": {"seed": seed, "tick_seconds": 0.05},
        "venue": "paper",
        "initial_capital": "100000",
    }


class ServeProcess:
    """``algotrade tui --serve`` in a subprocess; with ``max_apps``, serve() called directly
    (the command line has no option for the bound)."""

    def __init__(self, daemon_url: str, log_dir: Path, max_apps: int | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "algotrade", "tui", "--serve", "--port", str(self.port)]
        command += ["--daemon-url", daemon_url]
        if max_apps is not None:
            code = (
                "from algotrade.tui.serve import serve; "
                f"serve('127.0.0.1', {self.port}, {daemon_url!r}, max_apps={max_apps})"
            )
            command = [sys.executable, "-c", code]
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALGOTRADE_API_KEY")}
        self.log = (log_dir / f"serve-{self.port}.log").open("w")
        self.proc = subprocess.Popen(
            command,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        wait_until(self._answers, 20, "the TUI server to answer")

    def _answers(self) -> bool:
        assert self.proc.poll() is None, f"serve exited: {self.output()}"
        try:
            return HTTP.get(f"{self.url}/signin", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text()

    def descendants(self) -> set[int]:
        """Process ids below the server (the TUI processes and their shells)."""
        found: set[int] = set()
        todo = [self.proc.pid]
        while todo:
            pid = todo.pop()
            try:
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                found.add(child)
                todo.append(child)
        return found

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        return self.proc.returncode


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_chromium()
    with launch_chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    require_chromium()  # no daemon start just to skip afterwards
    process = DaemonProcess(
        tmp_path_factory.mktemp("tui-serve") / "data", env=KEYS_ENV, api_key=ADMIN_KEY
    ).start()
    try:
        process.ok("POST", "/api/bots", json=sim_bot(BOT_ID, 7))
        process.ok("PUT", f"/api/bots/{BOT_ID}/start")
        yield process
    finally:
        process.kill()


@pytest.fixture
def start_server(daemon: DaemonProcess, tmp_path: Path) -> Iterator[Callable[..., ServeProcess]]:
    servers: list[ServeProcess] = []

    def start(max_apps: int | None = None) -> ServeProcess:
        servers.append(ServeProcess(daemon.url, tmp_path, max_apps))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def open_terminal(browser: Any, server: ServeProcess, key: str) -> tuple[Any, Screen, PageWatch]:
    """Sign in through the page with ``key``; the page and the screen its terminal shows."""
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    watch = PageWatch(page)
    screen = Screen()

    def on_socket(socket: Any) -> None:
        def received(payload: bytes | str) -> None:
            if isinstance(payload, bytes):
                screen.feed(payload.decode("utf-8", "replace"))

        socket.on("framereceived", received)

    page.on("websocket", on_socket)
    page.goto(server.url)
    page.fill("[data-testid=api-key]", key)
    page.click("[data-testid=signin-submit]")
    return page, screen, watch


def wait_for_text(page: Any, screen: Screen, text: str, what: str, timeout: float = 30) -> None:
    """Poll the screen; Playwright's own wait lets it deliver the frames meanwhile (a
    time.sleep would hold them back)."""
    deadline = time.monotonic() + timeout
    while text not in screen.text():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out waiting for {what}; the terminal shows:\n{screen.text()}"
            )
        page.wait_for_timeout(100)


def test_chromium_signs_in_and_sees_the_bots_table(
    browser: Any, start_server: Callable[..., ServeProcess]
) -> None:
    server = start_server()
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    watch = PageWatch(page)

    page.goto(server.url)
    assert page.url.endswith("/signin")
    page.fill("[data-testid=api-key]", "not-a-key-of-this-daemon-000")
    with page.expect_response(lambda r: r.url.endswith("/signin")) as refused:
        page.click("[data-testid=signin-submit]")
    assert refused.value.status == 401
    assert "Wrong API key" in page.inner_text("[data-testid=signin-error]")
    context.close()

    page, screen, watch = open_terminal(browser, server, ADMIN_KEY)
    page.wait_for_selector("body.-first-byte")
    wait_for_text(page, screen, BOT_ID, "the bots table to list the bot")
    row = next(line for line in screen.lines() if BOT_ID in line)
    assert "SIM-7" in row or "running" in row.lower(), row
    assert page.evaluate("document.cookie") == ""  # HttpOnly: scripts cannot read it
    watch.assert_clean("401")
    page.context.close()


def test_websocket_without_a_session_or_from_another_site_is_refused(
    start_server: Callable[..., ServeProcess],
) -> None:
    server = start_server()
    with httpx.Client(base_url=server.url, timeout=10) as anonymous:
        assert anonymous.get("/ws", headers=WS_UPGRADE).status_code == 401
        assert anonymous.get("/", follow_redirects=False).headers["location"] == "/signin"

    with httpx.Client(base_url=server.url, timeout=10) as client:
        signed_in = client.post("/signin", data={"api_key": TRADER_KEY}, follow_redirects=False)
        assert signed_in.status_code == 303, signed_in.text
        cookie = signed_in.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie
        assert "Path=/" in cookie
        assert TRADER_KEY not in cookie
        foreign = {**WS_UPGRADE, "Origin": "http://evil.example"}
        assert client.get("/ws", headers=foreign).status_code == 403
        forged = client.post(
            "/signin", data={"api_key": TRADER_KEY}, headers={"Origin": "http://evil.example"}
        )
        assert forged.status_code == 403
    with httpx.Client(base_url=server.url, timeout=10) as stranger:
        stranger.cookies.set("algotrade_tui_session", "made-up.0000")
        assert stranger.get("/ws", headers=WS_UPGRADE).status_code == 401


def test_repeated_wrong_keys_get_429_before_the_daemon_locks_this_address_out(
    tmp_path: Path,
) -> None:
    """The server answers 429 + Retry-After before it has sent the daemon the 5 wrong keys
    after which the daemon would refuse every key from the server's address (the running
    TUIs included): the daemon still answers a good key afterwards."""
    own = DaemonProcess(tmp_path / "data", env=KEYS_ENV, api_key=ADMIN_KEY).start()
    server = ServeProcess(own.url, tmp_path)
    try:
        statuses = []
        with httpx.Client(base_url=server.url, timeout=10) as client:
            for attempt in range(6):
                wrong = client.post("/signin", data={"api_key": f"wrong-key-{attempt:020d}"})
                statuses.append(wrong.status_code)
                if wrong.status_code == 429:
                    break
            assert statuses == [401, 401, 401, 401, 429], statuses
            assert 1 <= int(wrong.headers["retry-after"]) <= 600
            assert "Too many wrong keys" in wrong.text
            slowed = client.post("/signin", data={"api_key": ADMIN_KEY})  # not even asked
            assert slowed.status_code == 429
        assert own.call("GET", "/api/version").status_code == 200
    finally:
        server.stop()
        own.kill()


def test_apps_are_bounded_and_ended_with_the_server(
    browser: Any, start_server: Callable[..., ServeProcess]
) -> None:
    server = start_server(max_apps=1)
    page, screen, _ = open_terminal(browser, server, ADMIN_KEY)
    wait_for_text(page, screen, BOT_ID, "the first TUI to show the bot")
    apps = server.descendants()
    assert apps, "no TUI process under the server"

    with httpx.Client(base_url=server.url, timeout=10) as client:
        client.post("/signin", data={"api_key": ADMIN_KEY})
        assert client.get("/ws", headers=WS_UPGRADE).status_code == 503

    assert server.stop() == 0
    alive = {pid for pid in apps if Path(f"/proc/{pid}").exists()}
    assert not alive, f"TUI processes left running after the server stopped: {alive}"
    page.context.close()


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting to be reaped is not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def test_tui_processes_end_when_the_server_is_killed(
    browser: Any, start_server: Callable[..., ServeProcess]
) -> None:
    server = start_server()
    page, screen, _ = open_terminal(browser, server, ADMIN_KEY)
    wait_for_text(page, screen, BOT_ID, "the TUI to show the bot")
    apps = server.descendants()
    assert apps, "no TUI process under the server"

    server.proc.send_signal(signal.SIGKILL)  # no chance to stop its children itself
    server.proc.wait(10)
    wait_until(lambda: not any(_running(pid) for pid in apps), 15, "the TUI processes to end")
    page.context.close()
