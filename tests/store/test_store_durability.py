"""Facts are durable once ``record_activity`` returns, even if the process dies right after."""

from __future__ import annotations

import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from algotrade.store import Store

# The child writes, then dies without any cleanup: no close(), no atexit, no flush.
CHILD = """
import os, signal, sys
from decimal import Decimal

sys.path.insert(0, sys.argv[3])
from store_factories import account, bot_config, event, fill, order, position
from algotrade.store import Store

url, how = sys.argv[1], sys.argv[2]
store = Store(url)
store.open()
store.insert_bot(bot_config("durable"))
for n in range(50):
    store.record_activity(
        "durable",
        orders=[order("durable", f"durable-{n}", status="filled", filled_qty=Decimal("0.5"))],
        fills=[fill("durable", f"t{n}", price=Decimal("0.000000012345678901234567"))],
        positions=[position("durable", qty=Decimal(n))],
        account=account("durable", cash=Decimal(f"{n}.0000000001")),
        events=[event("durable", f"fill {n}")],
    )
if how == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
os._exit(0)
"""


@pytest.mark.parametrize("how", ["kill", "exit"])
def test_committed_activity_survives_sudden_death(store_url: str, how: str) -> None:
    child = subprocess.run(
        [sys.executable, "-c", CHILD, store_url, how, str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    expected_code = -signal.SIGKILL if how == "kill" else 0
    assert child.returncode == expected_code, child.stderr

    with Store(store_url) as store:
        assert [bot.bot_id for bot in store.load_bots()] == ["durable"]
        orders = store.orders("durable", limit=100)
        assert orders.total == 50
        assert {o.status for o in orders.items} == {"filled"}
        fills = store.fills("durable", limit=100)
        assert fills.total == 50
        assert {f.price for f in fills.items} == {Decimal("0.000000012345678901234567")}
        assert store.positions("durable")[0].qty == Decimal(49)
        account = store.account("durable")
        assert account is not None
        assert account.cash == Decimal("49.0000000001")
        assert store.events("durable").total == 50
        assert store.max_order_seq("durable", "durable-") == 49
