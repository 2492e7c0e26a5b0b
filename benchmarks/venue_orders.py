"""Order round trips through each live venue adapter against its local fake server.

For every venue named (default: all with a fake), the fake of the test suite starts in this
process (its own thread and event loop), the venue is connected exactly as the daemon does it
— ``get_venue(name).connect(config, owner)`` from the venue registry — and an engine trades on
the bot execution venue that connection hands out:

1. Latency: ``--orders`` market orders one after another (alternating buy and sell), each
   timed from ``submit_order`` to its ``OrderFilled`` booked in the engine's portfolio (the
   venue request, the fake's matching, the fill pushed back over the venue's WebSocket or
   SignalR stream). Reports p50/p90/p99/max.
2. Throughput: ``--burst`` market orders submitted at once (again alternating sides), timed
   until the last fill is booked: orders per second the adapter sustains with requests in
   flight concurrently (each venue's client-side rate limiter applies; the limits are lifted
   on both sides unless ``--documented-limits``, so the adapter's cost is measured, not the
   venue's quota — which is printed next to the result).

At the end the engine's position must equal the venue's (checked through ``reconcile()``).
Both sides share the machine's cores: the numbers bound the adapter's own cost; they are not
the real venue's latency (network and matching dominate there).

    .venv/bin/python benchmarks/venue_orders.py --venues hyperliquid,bybit,projectx
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from algotrade.core.engine import Engine
from algotrade.core.events import OrderSide
from algotrade.core.instruments import InstrumentRegistry
from algotrade.core.orders import OrderRequest
from algotrade.core.portfolio import Portfolio
from algotrade.core.strategy import Strategy
from algotrade.venues.registry import get_venue

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


@dataclass(frozen=True)
class BenchBot:
    """The parts of a bot's config a venue reads (``registry.BotSpec``)."""

    bot_id: str
    symbol: str
    venue: str
    interval: str = "1m"
    feed: str = "sim"
    feed_options: dict[str, Any] = field(default_factory=dict)
    leverage: Decimal = Decimal(1)
    account_id: str = ""


class BenchOwner:
    """The daemon's side of a venue connection, reduced to one engine."""

    def __init__(self, bot_id: str) -> None:
        self.bot = bot_id
        self.engine: Engine | None = None
        self.alerts: list[str] = []

    def bot_ids(self) -> list[str]:
        return [self.bot]

    async def latest_fills(self) -> tuple[int, list[str]]:
        return 0, []

    def local_positions(self) -> dict[str, Decimal]:
        if self.engine is None:
            return {}
        return {s: p.qty for s, p in self.engine.portfolio.positions.items() if p.qty}

    def set_blocked(self, symbol: str, reason: str | None) -> None:
        if reason:
            self.alerts.append(f"{symbol} blocked: {reason}")

    def alert(self, message: str) -> None:
        self.alerts.append(message)

    def connection_changed(self, connected: bool, reason: str) -> None:
        del connected, reason


@dataclass(frozen=True)
class VenueSetup:
    """How to stand one venue up against its fake: the symbol, its order size, the config
    section and the environment (credentials) the venue's ``connect`` reads."""

    symbol: str
    qty: Decimal
    config: dict[str, Any]
    env: dict[str, str]
    quota: str


@asynccontextmanager
async def _hyperliquid(lifted: bool) -> AsyncIterator[VenueSetup]:
    from eth_account import Account

    from testkit.fake_hyperliquid import FakeHyperliquid

    user, agent = Account.create(), Account.create()
    with FakeHyperliquid() as fake:
        fake.add_account(user.address, [agent.address], balance=10_000_000)
        yield VenueSetup(
            "BTC",
            Decimal("0.001"),
            {"network": "testnet", "api_url": fake.base_url, "reconcile_interval_s": 0},
            {
                "ALGOTRADE_HYPERLIQUID_ACCOUNT_ADDRESS": str(user.address).lower(),
                "ALGOTRADE_HYPERLIQUID_PRIVATE_KEY": agent.key.hex(),
            },
            "1,200 weight/min per IP (an order is weight 1)",
        )


@asynccontextmanager
async def _bybit(lifted: bool) -> AsyncIterator[VenueSetup]:
    from algotrade.venues.ccxt.bybit.config import DEFAULT_RATE_LIMITS
    from testkit.fake_bybit import FakeBybit

    key, secret = "bench-api-key-000001", "bench-api-secret-000001"
    limits = dict.fromkeys(DEFAULT_RATE_LIMITS, 100000) if lifted else None
    with FakeBybit(rate_limits=limits) as fake:
        fake.add_account(key, secret, balance=10_000_000)
        yield VenueSetup(
            "BTCUSDT",
            Decimal("0.001"),
            {
                "network": "testnet",
                "rest_url": fake.base_url,
                "public_ws_url": fake.public_ws_url,
                "private_ws_url": fake.private_ws_url,
                "reconcile_interval_s": 0,
                **({"rate_limits": limits, "ip_requests_per_5s": 100_000} if limits else {}),
            },
            {"ALGOTRADE_BYBIT_API_KEY": key, "ALGOTRADE_BYBIT_API_SECRET": secret},
            "create/amend/cancel 10 requests/s per UID and symbol (linear)",
        )


@asynccontextmanager
async def _projectx(lifted: bool) -> AsyncIterator[VenueSetup]:
    from testkit.fake_projectx import GENERAL_LIMIT, FakeProjectX

    general = (100_000, 60.0) if lifted else GENERAL_LIMIT
    with FakeProjectX(general_limit=general) as fake:
        fake.add_user("bench", "bench-key-000001")
        fake.add_account("bench", "BENCH_ACCOUNT", balance=10_000_000)
        yield VenueSetup(
            "EPZ25",
            Decimal(1),
            {
                "api_url": fake.base_url,
                "user_hub_url": f"{fake.rtc_url}/hubs/user",
                "market_hub_url": f"{fake.rtc_url}/hubs/market",
                "account": "BENCH_ACCOUNT",
                "reconcile_interval_s": 0,
                "general_requests": general[0],
                "general_window_s": general[1],
            },
            {
                "ALGOTRADE_PROJECTX_USERNAME": "bench",
                "ALGOTRADE_PROJECTX_API_KEY": "bench-key-000001",
            },
            "200 requests/60 s (bars 50/30 s)",
        )


SETUPS: dict[str, Callable[[], Any]] = {
    "hyperliquid": _hyperliquid,
    "bybit": _bybit,
    "projectx": _projectx,
}


async def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0)


async def bench_venue(name: str, orders: int, burst: int, lifted: bool) -> dict[str, Any]:
    async with SETUPS[name](lifted) as setup:
        saved = {k: os.environ.get(k) for k in setup.env}
        os.environ.update(setup.env)
        factory = get_venue(name)
        bot = BenchBot(f"bench-{name}", setup.symbol, name)
        owner = BenchOwner(bot.bot_id)
        connection = await factory.connect(factory.parse_config(setup.config), owner)
        try:
            instruments = connection.instruments(setup.symbol)
            registry = InstrumentRegistry({i.symbol: i for i in instruments})
            venue = await connection.execution_venue(bot, lambda exc: print("venue error:", exc))
            engine = Engine(
                Strategy(), venue, portfolio=Portfolio(Decimal(10_000_000), registry),
                instruments=registry,
            )  # fmt: skip
            owner.engine = engine
            engine.start()
            symbol, qty = setup.symbol, setup.qty

            def side(i: int) -> OrderSide:
                return OrderSide.BUY if i % 2 == 0 else OrderSide.SELL

            latencies: list[float] = []
            for i in range(orders):
                target = qty if side(i) is OrderSide.BUY else Decimal(0)
                t0 = time.perf_counter()
                engine.submit_order(OrderRequest(symbol, side(i), qty))
                await _wait(lambda t=target: engine.position(symbol) == t, 120, f"order {i}")
                latencies.append((time.perf_counter() - t0) * 1000)
            if engine.position(symbol):  # odd count: flat before the burst
                engine.submit_order(OrderRequest(symbol, OrderSide.SELL, qty))
                await _wait(lambda: engine.position(symbol) == 0, 30, "flatten")
            t0 = time.perf_counter()
            for i in range(burst):
                engine.submit_order(OrderRequest(symbol, side(i), qty))
            final = qty if burst % 2 else Decimal(0)
            open_left = lambda: not engine.open_orders(symbol)  # noqa: E731
            await _wait(lambda: open_left() and engine.position(symbol) == final, 600, "burst")
            burst_s = time.perf_counter() - t0
            after = await connection.reconcile()
            blocked = connection.blocked_reason(bot)
            latencies.sort()
            q = statistics.quantiles(latencies, n=100)
            return {
                "venue": name,
                "orders": orders,
                "p50_ms": q[49],
                "p90_ms": q[89],
                "p99_ms": q[98],
                "max_ms": latencies[-1],
                "burst": burst,
                "burst_per_s": burst / burst_s,
                "position": engine.position(symbol),
                "reconciled": blocked is None,
                "snapshot_connected": after.get("connected"),
                "quota": setup.quota,
            }
        finally:
            await connection.stop()
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venues", default=",".join(SETUPS))
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument(
        "--documented-limits",
        action="store_true",
        help="keep each venue's documented rate limits on both sides (default: lifted, so the "
        "adapter's own cost is measured, not the quota)",
    )
    args = parser.parse_args()
    print("rate limits:", "documented" if args.documented_limits else "lifted on both sides")
    for name in filter(None, args.venues.split(",")):
        if name not in SETUPS:
            raise SystemExit(f"--venues: no fake for '{name}' (known: {', '.join(SETUPS)})")
        r = asyncio.run(bench_venue(name, args.orders, args.burst, not args.documented_limits))
        print(f"{r['venue']}: submit → fill booked over {r['orders']} sequential market orders: "
              f"p50 {r['p50_ms']:.2f} ms, p90 {r['p90_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, "
              f"max {r['max_ms']:.2f} ms; burst of {r['burst']}: {r['burst_per_s']:,.0f} orders/s; "
              f"position {r['position']}, reconciled {'ok' if r['reconciled'] else 'MISMATCH'} "
              f"(venue quota: {r['quota']})")  # fmt: skip


if __name__ == "__main__":
    main()
