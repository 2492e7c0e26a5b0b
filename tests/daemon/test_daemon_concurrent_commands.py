"""Twenty requests at once on one bot of a real daemon (start, stop, pause, update, delete):
every one is answered with a documented status, none waits forever, and afterwards the id can
be created again."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from testkit.api_harness import ADMIN_KEY
from testkit.daemon_process import DaemonProcess

BOT = {
    "bot_id": "raced",
    "symbol": "SIM-BTC",
    "strategy": "ma_crossover",
    "params": {"fast": 2, "slow": 4},
    "feed_options": {"seed": 1, "tick_seconds": 0.01},
}
CALLS = [
    ("PUT", "/api/bots/raced/start"),
    ("PUT", "/api/bots/raced/stop"),
    ("PATCH", "/api/bots/raced/config"),
    ("DELETE", "/api/bots/raced"),
    ("PUT", "/api/bots/raced/pause"),
]
DOCUMENTED = {200, 204, 404, 409}


async def _race(url: str) -> list[tuple[str, str, int]]:
    async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": ADMIN_KEY}) as client:
        assert (await client.post("/api/bots", json=BOT)).status_code == 201
        assert (await client.put("/api/bots/raced/start")).status_code == 200

        async def call(method: str, path: str) -> tuple[str, str, int]:
            body = {"initial_capital": "5000"} if method == "PATCH" else None
            response = await client.request(method, path, json=body, timeout=10)
            return method, path, response.status_code

        return await asyncio.gather(*(call(*CALLS[i % len(CALLS)]) for i in range(20)))


def test_twenty_commands_at_once_are_all_answered(tmp_path: Path) -> None:
    daemon = DaemonProcess(
        tmp_path / "data", None, env={"ALGOTRADE_API_KEYS": f"admin:{ADMIN_KEY}"}, api_key=ADMIN_KEY
    ).start()
    try:
        for _ in range(3):  # delete, then the same id again
            answers = asyncio.run(_race(daemon.url))  # a hung request: ReadTimeout after 10 s
            assert {status for _, _, status in answers} <= DOCUMENTED, answers
            deletes = [status for method, _, status in answers if method == "DELETE"]
            assert deletes.count(204) == 1, answers
            assert daemon.call("GET", "/api/bots/raced").status_code == 404
        assert daemon.healthy()
    finally:
        code, _, stderr = daemon.terminate()
    assert code == 0, stderr
    assert "Traceback" not in stderr, stderr
