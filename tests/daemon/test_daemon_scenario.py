"""Acceptance scenario: a real daemon process driven over real HTTP survives kill -9.

Start on a temp dir; create three paper bots on the sim feed; start two; wait for fills;
kill -9; restart; bots, orders, fills and positions are what was acknowledged before the kill
and the bots are stopped; start again; SIGTERM → exit code 0 within 10 s.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from testkit.daemon_process import DaemonProcess, wait_until

pytestmark = pytest.mark.slow


def bot(bot_id: str, seed: int) -> dict:
    return {
        "bot_id": bot_id,
        "symbol": f"SIM-{seed}",
        "strategy": "ma_crossover",
        "params": {"fast": 2, "slow": 5, "qty": 1},
        "feed": "sim",
        "feed_options": {"seed": seed, "tick_seconds": 0.02, "volatility": 0.01},
        "initial_capital": "100000",
        "commission": "0.001",
    }


def positions_from_fills(fills: list[dict]) -> dict[str, Decimal]:
    held: dict[str, Decimal] = {}
    for fill in fills:
        signed = Decimal(fill["qty"]) * (1 if fill["side"] == "buy" else -1)
        held[fill["symbol"]] = held.get(fill["symbol"], Decimal(0)) + signed
    return {s: q for s, q in held.items() if q}


def test_kill_restart_sigterm(tmp_path: Path) -> None:
    daemon = DaemonProcess(tmp_path / "data").start()
    try:
        for i, bot_id in enumerate(["alpha", "beta", "gamma"]):
            created = daemon.ok("POST", "/api/bots", json=bot(bot_id, i + 1))
            assert created["state"] == "stopped"
        for bot_id in ["alpha", "beta"]:
            assert daemon.ok("PUT", f"/api/bots/{bot_id}/start")["state"] == "running"
        wait_until(
            lambda: all(
                daemon.ok("GET", f"/api/bots/{b}/fills?limit=1")["total"] >= 4
                for b in ["alpha", "beta"]
            ),
            timeout=60,
            what="fills on both running bots",
        )
        acknowledged = {
            b: {
                "orders": daemon.all_pages(f"/api/bots/{b}/orders"),
                "fills": daemon.all_pages(f"/api/bots/{b}/fills"),
                "positions": daemon.ok("GET", f"/api/bots/{b}/positions"),
            }
            for b in ["alpha", "beta", "gamma"]
        }
    finally:
        daemon.kill()  # SIGKILL: no chance to flush anything

    daemon = DaemonProcess(tmp_path / "data", daemon.port).start()
    try:
        bots = {b["bot_id"]: b for b in daemon.ok("GET", "/api/bots")}
        assert set(bots) == {"alpha", "beta", "gamma"}
        assert all(b["state"] == "stopped" for b in bots.values())
        for bot_id, before in acknowledged.items():
            orders = {
                o["client_order_id"]: o for o in daemon.all_pages(f"/api/bots/{bot_id}/orders")
            }
            fills = daemon.all_pages(f"/api/bots/{bot_id}/fills")
            by_trade = {f["trade_id"]: f for f in fills}
            for fill in before["fills"]:  # every acknowledged fill survived, unchanged
                assert by_trade[fill["trade_id"]] == fill
            for order in before["orders"]:
                assert order["client_order_id"] in orders
                if order["status"] in ("filled", "cancelled", "rejected"):
                    assert orders[order["client_order_id"]] == order
            held = {
                p["symbol"]: Decimal(p["qty"])
                for p in daemon.ok("GET", f"/api/bots/{bot_id}/positions")
                if Decimal(p["qty"])
            }
            assert held == positions_from_fills(fills)
            if len(fills) == len(before["fills"]):
                seen = {
                    p["symbol"]: Decimal(p["qty"]) for p in before["positions"] if Decimal(p["qty"])
                }
                assert held == seen
            status = bots[bot_id]
            assert {s: Decimal(q) for s, q in status["position"].items()} == held
        assert len(acknowledged["gamma"]["fills"]) == 0

        # Start again after the restart: trading continues, order ids do not collide.
        assert daemon.ok("PUT", "/api/bots/alpha/start")["state"] == "running"
        before_restart = len(acknowledged["alpha"]["orders"])
        wait_until(
            lambda: (
                daemon.ok("GET", "/api/bots/alpha/orders?limit=1")["total"] > before_restart + 2
            ),
            timeout=60,
            what="new orders after restart",
        )
        ids = [o["client_order_id"] for o in daemon.all_pages("/api/bots/alpha/orders")]
        assert len(ids) == len(set(ids))
    except BaseException:
        daemon.kill()
        raise
    code, elapsed, stderr = daemon.terminate()
    assert code == 0, stderr
    assert elapsed < 10
