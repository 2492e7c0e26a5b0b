"""Dashboard sessions against a real daemon process over real HTTP (httpx on 127.0.0.1):
sign-in → cookie, a cookie-authorised read, a forged cross-origin change refused, sign-out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from testkit.daemon_process import DaemonProcess

ADMIN_KEY = "session-admin-key-0123456789"
TRADER_KEY = "session-trader-key-0123456789"
KEYS_ENV = {"ALGOTRADE_API_KEYS": f"admin:{ADMIN_KEY},trader:{TRADER_KEY}"}
COOKIE = "algotrade_session"
BOT = {
    "bot_id": "sess-1",
    "symbol": "SIM-1",
    "strategy": "ma_crossover",
    "params": {"fast": 2, "slow": 5, "qty": 1},
    "feed": "sim",
    "feed_options": {"seed": 1, "tick_seconds": 0.05},
    "venue": "paper",
    "initial_capital": "100000",
}


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[DaemonProcess]:
    process = DaemonProcess(tmp_path / "data", env=KEYS_ENV, api_key=ADMIN_KEY).start()
    try:
        process.ok("POST", "/api/bots", json=BOT)
        yield process
    finally:
        code, _, stderr = process.terminate()
        assert code == 0, stderr
        for secret in (ADMIN_KEY, TRADER_KEY):
            assert secret not in stderr


def test_sign_in_read_forged_change_and_sign_out(daemon: DaemonProcess) -> None:
    own = {"Origin": daemon.url}
    with httpx.Client(base_url=daemon.url, timeout=10) as browser:
        signed_in = browser.post("/api/session", json={"api_key": ADMIN_KEY}, headers=own)
        assert signed_in.status_code == 200, signed_in.text
        assert signed_in.json()["role"] == "admin"
        set_cookie = signed_in.headers["set-cookie"]
        assert "HttpOnly" in set_cookie
        assert "SameSite=Strict" in set_cookie
        assert "Secure" not in set_cookie  # plain http on loopback
        token = browser.cookies[COOKIE]
        cookie = {"Cookie": f"{COOKIE}={token}"}
        browser.cookies.clear()

        # Reads with the cookie alone.
        bots = httpx.get(f"{daemon.url}/api/bots", headers=cookie, timeout=10)
        assert bots.status_code == 200
        assert [bot["bot_id"] for bot in bots.json()] == ["sess-1"]

        # A page elsewhere makes the browser send the cookie: refused, nothing started.
        forged = httpx.put(
            f"{daemon.url}/api/bots/sess-1/start",
            headers={**cookie, "Origin": "https://evil.example"},
            timeout=10,
        )
        assert forged.status_code == 403
        assert forged.json() == {
            "error": {"code": "forbidden", "message": "cross-origin request refused"}
        }
        forged_create = httpx.post(
            f"{daemon.url}/api/bots",
            json={**BOT, "bot_id": "sess-evil"},
            headers={**cookie, "Origin": "https://evil.example"},
            timeout=10,
        )
        assert forged_create.status_code == 403
        state = daemon.ok("GET", "/api/bots/sess-1")["status"]["state"]
        assert state == "stopped"
        assert [bot["bot_id"] for bot in daemon.ok("GET", "/api/bots")] == ["sess-1"]

        # The same change from the daemon's own page works.
        started = httpx.put(
            f"{daemon.url}/api/bots/sess-1/start", headers={**cookie, **own}, timeout=10
        )
        assert started.status_code == 200, started.text

        # Sign-out ends the session on the daemon: the old cookie no longer reads anything.
        signed_out = httpx.delete(f"{daemon.url}/api/session", headers={**cookie, **own})
        assert signed_out.status_code == 204
        assert "Max-Age=0" in signed_out.headers["set-cookie"]
        after = httpx.get(f"{daemon.url}/api/bots", headers=cookie, timeout=10)
        assert after.status_code == 401


def test_wrong_keys_are_slowed_down(daemon: DaemonProcess) -> None:
    url = f"{daemon.url}/api/session"
    for n in range(5):  # distinct keys: the same wrong key counts once
        assert httpx.post(url, json={"api_key": f"wrong-key-wrong-key-{n:02d}"}).status_code == 401
    locked = httpx.post(url, json={"api_key": TRADER_KEY})
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) >= 1
    assert locked.json()["error"]["code"] == "too_many_requests"
    assert httpx.get(f"{daemon.url}/api/health").status_code == 200  # probes unaffected
