"""SIGTERM while the daemon starts: a real daemon process whose stored live bot (running,
``auto_resume``) resumes on a Hyperliquid venue that refuses connections or never answers, and
a ``[[bots]]`` entry (``auto_resume``) whose first start, at start-up or at a reload, waits on
its venue when the daemon is told to stop.

The start-up (restoring the bots, resuming them) used to run to its end before the stop was
looked at: the resume waited for the venue's retries to give up (10-19 s after SIGTERM here),
then the bot was stored in ``error`` and never resumed again. Now a stop cuts the start-up
short: exit 0 within about 2 s (0.1-0.9 s measured), and the bot stays as it was stored, so
the next start resumes it.
"""

from __future__ import annotations

import json
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from algotrade.store.store import Store
from testkit.daemon_process import DaemonProcess, free_port, wait_until
from testkit.fake_hyperliquid import FakeHyperliquid
from testkit.live_daemon_session import LiveDaemonSession, live_bot_spec

SCRIPTED = Path(__file__).parents[1] / "testkit" / "strategies" / "scripted.py"
STOPPED_WITHIN_S = 2.5  # the target is ~2 s; a little room for a machine busy with other tests

pytestmark = pytest.mark.skipif(
    sys.platform != "linux", reason="reads the process's signal handlers from /proc"
)


@pytest.fixture
def stalled_port() -> Iterator[int]:
    """A port that takes connections (the kernel's backlog) and never answers a request."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield int(listener.getsockname()[1])


def handles_sigterm(pid: int) -> bool:
    """Whether the process has installed a SIGTERM handler (its ``SigCgt`` mask)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signal.SIGTERM - 1) & 1)
    return False


def hyperliquid_session(tmp_path: Path, venue_port: int) -> LiveDaemonSession:
    """Daemons whose Hyperliquid venue is at ``venue_port`` (no credentials: it is never
    reached anyway)."""
    url = f"127.0.0.1:{venue_port}"
    settings = f'api_url = "http://{url}"\nws_url = "ws://{url}/ws"\n'
    return LiveDaemonSession(tmp_path, "hyperliquid", settings, {})


def session_with_a_running_live_bot(tmp_path: Path, venue_port: int) -> LiveDaemonSession:
    """A stored live bot that was running when its daemon stopped, and opted in to resume."""
    session = hyperliquid_session(tmp_path, venue_port)
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    with Store(f"sqlite:///{data_dir / 'algotrade.db'}") as store:
        store.insert_bot(live_bot(), state="running")
    return session


def live_bot() -> dict[str, Any]:
    return live_bot_spec("keen", "BTC", "hyperliquid", SCRIPTED, [], auto_resume=True)


def pid_of(daemon: DaemonProcess) -> int:
    assert daemon.proc is not None
    return int(daemon.proc.pid)


def stored_state(tmp_path: Path) -> tuple[str, list[str]]:
    """The stored bot's state and the levels of its event log."""
    with Store(f"sqlite:///{tmp_path / 'data' / 'algotrade.db'}") as store:
        record = store.get_bot("keen")
        assert record is not None
        return record.state, [line.level for line in store.events("keen").items]


def signalled_while_starting(
    daemon: DaemonProcess, moment: Callable[[DaemonProcess], bool], what: str
) -> tuple[int, float]:
    daemon.launch()
    proc = daemon.proc
    assert proc is not None
    try:
        wait_until(lambda: moment(daemon) or proc.poll() is not None, 30, what)
        assert proc.poll() is None, daemon.stderr()
        assert not daemon.healthy()  # still starting: the API does not answer yet
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        return code, time.monotonic() - sent
    finally:
        daemon.kill()


def test_sigterm_while_resuming_on_a_refusing_venue_stops_at_once(tmp_path: Path) -> None:
    dead = free_port()  # nobody listens: every connection is refused, then retried
    session = session_with_a_running_live_bot(tmp_path, dead)
    daemon = session.daemon()
    refused = f"cannot connect to http://127.0.0.1:{dead}/info"

    code, took = signalled_while_starting(
        daemon, lambda d: refused in d.stderr(), "the resume's first refused connection"
    )

    stderr = daemon.stderr()
    assert code == 0, stderr
    assert took < STOPPED_WITHIN_S, f"exit {took:.1f} s after SIGTERM"
    assert "Traceback" not in stderr
    assert "stop requested while starting" in stderr
    # Not failed: stored as it was (running, auto_resume), so the next start resumes it.
    assert stored_state(tmp_path) == ("running", [])


def test_sigterm_as_soon_as_handled_stops_a_start_stalled_on_its_venue(
    tmp_path: Path, stalled_port: int
) -> None:
    session = session_with_a_running_live_bot(tmp_path, stalled_port)
    daemon = session.daemon()

    code, took = signalled_while_starting(
        daemon, lambda d: handles_sigterm(pid_of(d)), "the SIGTERM handler"
    )

    stderr = daemon.stderr()
    assert code == 0, stderr
    assert took < STOPPED_WITHIN_S, f"exit {took:.1f} s after SIGTERM"
    assert "Traceback" not in stderr
    assert stored_state(tmp_path) == ("running", [])


def test_sigterm_while_an_api_start_waits_on_its_venue_answers_503_and_exits_0(
    tmp_path: Path,
) -> None:
    # The same wait, asked for by a client once the daemon runs: the request held the API
    # server's stop, the bot's SHUTDOWN queued behind the start, and the daemon gave up after
    # 5.5 s with exit 1 and a 500 to the client.
    dead = free_port()
    daemon = hyperliquid_session(tmp_path, dead).daemon().start()
    refused = f"cannot connect to http://127.0.0.1:{dead}/info"
    try:
        daemon.ok("POST", "/api/bots", json=live_bot())
        with ThreadPoolExecutor(1) as pool:
            answer = pool.submit(daemon.call, "PUT", "/api/bots/keen/start", timeout=30)
            wait_until(lambda: refused in daemon.stderr(), 20, "the start's first retry")
            code, took, stderr = daemon.terminate()
            response = answer.result()
    finally:
        daemon.kill()
    assert code == 0, stderr
    assert took < STOPPED_WITHIN_S, f"exit {took:.1f} s after SIGTERM"
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "shutting_down"
    assert stored_state(tmp_path) == ("stopped", [])  # as created: its start never happened


def test_sigterm_before_the_handlers_ends_the_process_by_the_signal(tmp_path: Path) -> None:
    # Before the daemon opens its database (imports, checks, the lock) there is nothing to
    # flush: the signal's default action ends it at once (docs/daemon.md, "Stopping it").
    daemon = DaemonProcess(tmp_path / "data")
    daemon.launch()
    assert daemon.proc is not None
    assert not handles_sigterm(daemon.proc.pid)  # just spawned: not even Python runs yet
    daemon.proc.send_signal(signal.SIGTERM)
    assert daemon.proc.wait(timeout=10) == -signal.SIGTERM
    again = DaemonProcess(tmp_path / "data", daemon.port).start()  # nothing left in the way
    code, _, stderr = again.terminate()
    assert code == 0, stderr


def fake_venue_session(tmp_path: Path, venue: FakeHyperliquid) -> LiveDaemonSession:
    """Daemons trading for an account of ``venue`` (its agent's key in their environment)."""
    user, agent = Account.create(), Account.create()
    venue.add_account(user.address, [agent.address], balance=100_000)
    settings = f'api_url = "{venue.base_url}"\nws_url = "{venue.ws_url}"\n'
    env = {
        "ALGOTRADE_HYPERLIQUID_ACCOUNT_ADDRESS": user.address,
        "ALGOTRADE_HYPERLIQUID_PRIVATE_KEY": agent.key.hex(),
    }
    return LiveDaemonSession(tmp_path, "hyperliquid", settings, env)


def bots_entry(spec: dict[str, Any]) -> str:
    """``spec`` as a ``[[bots]]`` table (JSON's strings, numbers and arrays are TOML's too)."""
    lines = ["", "[[bots]]"]
    for key, value in spec.items():
        if isinstance(value, dict):
            inner = ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items())
            lines.append(f"{key} = {{ {inner} }}")
        else:
            lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


def state_after_a_start(session: LiveDaemonSession) -> str:
    """The bot's state once a new daemon has started (its resumes are done by then)."""
    daemon = session.daemon().start()
    try:
        return str(daemon.ok("GET", "/api/bots/keen")["status"]["state"])
    finally:
        code, _, stderr = daemon.terminate()
        assert code == 0, stderr


def test_a_configured_bot_whose_first_start_was_cut_short_runs_after_the_next_start(
    tmp_path: Path,
) -> None:
    # A new [[bots]] entry is created and started at start-up; its start waits on the venue
    # when SIGTERM comes. It was stored "stopped" (as created) and, no longer new at the next
    # start, was never started again: the config says auto_resume, the bot sat stopped.
    with FakeHyperliquid() as venue:
        session = fake_venue_session(tmp_path, venue)
        session.config.write_text(session.config.read_text() + bots_entry(live_bot()))
        venue.hold_replies()
        daemon = session.daemon()

        code, _ = signalled_while_starting(
            daemon, lambda d: venue.held > 0, "the new bot's start on its venue"
        )

        assert code == 0, daemon.stderr()
        venue.release_replies()
        assert state_after_a_start(session) == "running"


def test_a_bot_added_by_a_reload_whose_first_start_was_cut_short_runs_after_the_next_start(
    tmp_path: Path,
) -> None:
    with FakeHyperliquid() as venue:
        session = fake_venue_session(tmp_path, venue)
        daemon = session.daemon().start()
        try:
            venue.hold_replies()
            session.config.write_text(session.config.read_text() + bots_entry(live_bot()))
            assert daemon.proc is not None
            daemon.proc.send_signal(signal.SIGHUP)
            venue.wait_held(1)
            code, _, stderr = daemon.terminate()
        finally:
            daemon.kill()
        assert code == 0, stderr
        assert "Traceback" not in stderr
        venue.release_replies()
        assert state_after_a_start(session) == "running"
