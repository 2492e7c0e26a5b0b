"""Hyperliquid adapter: signing cost and order round trips against the local fake venue.

1. Signing: ``--signs`` (default 2,000) ``order`` actions are signed with
   ``sign_l1_action`` (msgpack + keccak + EIP-712 secp256k1 signature, as the official SDK
   does it); reports signatures per second and the mean time per signature.
2. Round trips: an engine with a ``HyperliquidVenue`` on a ``HyperliquidAccount`` connected to
   the fake Hyperliquid server of the test suite (``tests/testkit/fake_hyperliquid``, REST and
   WebSocket on loopback, signature recovery on every action) sends ``--orders`` (default 300)
   market orders one after another, alternating buy and sell. Each is timed from
   ``submit_order`` to the ``OrderFilled`` booked in the portfolio (signing, the REST request,
   the fake's matching, the ``userFills`` push over the WebSocket). Reports p50/p90/p99/max and
   orders per second, and checks that the venue's position equals the engine's at the end.

The fake server runs in this process (its own thread and event loop), so both sides share
the machine's 2 cores: the numbers are an upper bound on the adapter's own cost, not the real
venue's latency (which is dominated by the network and Hyperliquid's matching).

    .venv/bin/python benchmarks/hyperliquid_orders.py --orders 300
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

from eth_account import Account

from algotrade.core.engine import Engine
from algotrade.core.events import OrderSide
from algotrade.core.instruments import InstrumentRegistry
from algotrade.core.orders import OrderRequest
from algotrade.core.portfolio import Portfolio
from algotrade.core.strategy import Strategy
from algotrade.venues.hyperliquid.account import HyperliquidAccount
from algotrade.venues.hyperliquid.config import HlCredentials, HlNetwork, HyperliquidConfig
from algotrade.venues.hyperliquid.signing import order_action, order_wire, sign_l1_action

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from testkit.fake_hyperliquid import FakeHyperliquid


def bench_signing(count: int) -> None:
    key = Account.create().key.hex()
    wire = order_wire(0, True, Decimal("65000"), Decimal("0.001"), False, {"limit": {"tif": "Gtc"}})
    action = order_action([{**wire, "c": "0x" + "ab" * 16}])
    start = time.perf_counter()
    for nonce in range(count):
        sign_l1_action(key, action, None, 1_700_000_000_000 + nonce, False)
    elapsed = time.perf_counter() - start
    print(f"signing: {count} order actions in {elapsed:.2f} s = {count / elapsed:,.0f}/s, "
          f"{elapsed / count * 1e6:,.0f} µs each")  # fmt: skip


async def bench_round_trips(fake: FakeHyperliquid, count: int) -> None:
    user, agent = Account.create(), Account.create()
    fake.add_account(user.address, [agent.address], balance=10_000_000)
    config = HyperliquidConfig(
        network=HlNetwork.TESTNET, api_url=fake.base_url, reconcile_interval_s=0
    )
    account = HyperliquidAccount(config, HlCredentials(str(user.address).lower(), agent.key.hex()))
    await account.start()
    try:
        registry = InstrumentRegistry({i.symbol: i for i in account.instruments()})
        portfolio = Portfolio(Decimal(10_000_000), registry)
        engine = Engine(
            Strategy(), account.venue("bench"), portfolio=portfolio, instruments=registry
        )
        engine.start()
        latencies: list[float] = []
        started = time.perf_counter()
        for i in range(count):
            side = OrderSide.BUY if i % 2 == 0 else OrderSide.SELL
            target = Decimal("0.001") if side is OrderSide.BUY else Decimal(0)
            t0 = time.perf_counter()
            engine.submit_order(OrderRequest("BTC", side, Decimal("0.001")))
            while engine.position("BTC") != target:
                await asyncio.sleep(0)
            latencies.append((time.perf_counter() - t0) * 1000)
        total = time.perf_counter() - started
        venue_qty = Decimal(fake.position(str(user.address).lower(), "BTC").szi)
        assert venue_qty == engine.position("BTC"), (venue_qty, engine.position("BTC"))
        latencies.sort()
        q = statistics.quantiles(latencies, n=100)
        print(f"round trips: {count} market orders in {total:.2f} s = {count / total:,.0f}/s; "
              f"submit → fill booked p50 {q[49]:.2f} ms, p90 {q[89]:.2f} ms, "
              f"p99 {q[98]:.2f} ms, max {latencies[-1]:.2f} ms; "
              f"positions agree ({venue_qty})")  # fmt: skip
    finally:
        await account.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signs", type=int, default=2000)
    parser.add_argument("--orders", type=int, default=300)
    args = parser.parse_args()
    bench_signing(args.signs)
    with FakeHyperliquid() as fake:
        asyncio.run(bench_round_trips(fake, args.orders))


if __name__ == "__main__":
    main()
