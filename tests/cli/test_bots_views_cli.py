"""``bots config``, ``bots equity``, newest-first history and money display, against an
in-thread API over the fake service (a subclass that reports 28-digit money, like the daemon
did before money was quantized)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from algotrade.cli.bots_render import event_line, money
from algotrade.cli.risk_cmd import ACCOUNT_COLUMNS, print_table
from algotrade.daemon.bot_config import BotConfig
from algotrade.daemon.status import BotStatus
from testkit.api_harness import ADMIN_KEY, ServerThread, running_server
from testkit.fake_bot_service import FakeBotService, make_config

RunMain = Callable[..., Any]
NOISY = "108.4833811200000000000000017"  # what realized_pnl read in the API before issue 9
SNAPSHOTS = 25


class NoisyMoneyService(FakeBotService):
    """Statuses with unrounded money, as the daemon reported them."""

    @staticmethod
    def _noisy(status: BotStatus) -> BotStatus:
        return status.model_copy(
            update={
                "equity": "100108.4833811200000000000000017",
                "realized_pnl": NOISY,
                "unrealized_pnl": "-0.0049999999999999999999999",
                "fees": "1.2345",
                "pnl_today": "-19.32266145",  # an equity change: 8 decimals as booked
            }
        )

    async def list_bots(self) -> list[BotStatus]:
        return [self._noisy(status) for status in await super().list_bots()]

    async def get_bot(self, bot_id: str) -> tuple[BotConfig, BotStatus]:
        config, status = await super().get_bot(bot_id)
        return config, self._noisy(status)


def snapshot(i: int) -> dict[str, Any]:
    return {
        "bot_id": "alpha",
        "timestamp": f"2024-01-01T00:{i:02d}:00Z",
        "ts": i,
        "equity": f"1000{i}.125",
        "cash": "99999.99999999999999999999",
        "realized_pnl": NOISY,
        "unrealized_pnl": "0",
        "fees": "0.0051",
    }


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    service = NoisyMoneyService()
    service.add_bot(make_config("alpha", params={"fast": 3, "slow": 8}, commission="0.001"))
    for i in range(SNAPSHOTS):
        service.add_equity("alpha", snapshot(i))
    with running_server(service) as server:
        yield server


@pytest.fixture
def bots(run_main: RunMain, server: ServerThread) -> Callable[..., Any]:
    def run(*args: str) -> Any:
        return run_main("bots", "--daemon-url", server.base_url, "--api-key", ADMIN_KEY, *args)

    return run


def test_config_shows_the_stored_config(bots: Callable[..., Any]) -> None:
    stored = json.loads(bots("config", "alpha", "--json").ok())
    assert stored["bot_id"] == "alpha"
    assert stored["params"] == {"fast": 3, "slow": 8}
    assert stored["commission"] == "0.001"  # exact, as stored
    table = bots("config", "alpha").ok()
    assert "config" in table
    row = next(line for line in table.splitlines() if " params " in line)
    assert '{"fast": 3, "slow": 8}' in row
    assert "0.001" in next(line for line in table.splitlines() if " commission " in line)


def test_equity_shows_recent_snapshots_newest_first(bots: Callable[..., Any]) -> None:
    page = json.loads(bots("equity", "alpha", "--json").ok())
    assert [point["ts"] for point in page["items"]] == list(range(24, 4, -1))  # 20 newest
    assert page["items"][0] == snapshot(24)  # --json is exact
    table = bots("equity", "alpha", "--limit", "3").ok()
    rows = [line for line in table.splitlines() if "2024-01-01" in line]
    assert [row.split()[2] for row in rows] == ["00:24:00", "00:23:00", "00:22:00"]
    first = rows[0]
    for cell in ("100024.13", "100000.00", "+108.48", "0.01"):
        assert cell in first, first
    assert NOISY not in table
    assert f"equity snapshots 1–3 of {SNAPSHOTS}, newest first; next page: --offset 3" in table
    oldest = json.loads(bots("equity", "alpha", "--oldest-first", "--limit", "2", "--json").ok())
    assert [point["ts"] for point in oldest["items"]] == [0, 1]


def test_list_and_show_round_money_for_display(bots: Callable[..., Any]) -> None:
    table = bots("list").ok()
    row = next(line for line in table.splitlines() if " alpha " in line)
    assert "100108.48" in row
    # PnL = realized + unrealized - fees (the equity change, as the dashboard's), to the cent
    assert "+107.24" in row  # 108.48338112 - 0.005 - 1.2345
    assert "0000000000" not in table
    listed = json.loads(bots("list", "--json").ok())
    assert listed[0]["realized_pnl"] == NOISY  # --json stays exact
    detail = bots("show", "alpha").ok()
    lines = {line.split()[1]: line for line in detail.splitlines() if line.startswith("│")}
    assert "108.48" in lines["realized_pnl"]
    assert "-0.00" not in lines["unrealized_pnl"]
    assert "0.00" in lines["unrealized_pnl"]
    assert "1.23" in lines["fees"]
    assert "-19.32" in lines["pnl_today"]
    assert "-19.322" not in lines["pnl_today"]
    assert "0000000000" not in detail


def test_watch_status_lines_round_money() -> None:
    line = event_line(
        "status",
        {"bot_id": "b", "state": "running", "equity": "100108.4833811200000000000000017",
         "realized_pnl": NOISY, "unrealized_pnl": "1.005", "heartbeat": "2024-01-01T00:00:00Z"},
    )  # fmt: skip
    assert " equity 100108.48 pnl 109.49 " in line


def test_risk_status_rounds_money(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    account = {
        "account_id": "acct",
        "trading_day": "2024-01-02",
        "balance": "9798.5",
        "equity": "9798.4999999999999999999999",
        "daily_realized_pnl": "-201.5000000000000000000000001",
        "daily_fees": "1.5",
        "trades_today": 3,
        "open_risk": "0",
        "positions": {},
        "can_trade": True,
        "connected": True,
        "lockouts": [],
    }
    print_table("Accounts", ACCOUNT_COLUMNS, [account])
    row = next(line for line in capsys.readouterr().out.splitlines() if " acct " in line)
    for cell in ("9798.50", "-201.50", "1.50", "0.00"):
        assert cell in row, row
    assert "9999999" not in row


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (NOISY, "108.48"),
        ("2.675", "2.68"),  # half up, not half even
        ("-0.005", "-0.01"),
        ("-0.004", "0.00"),  # no "-0.00"
        ("0E-30", "0.00"),
        ("1e999999999", "1.000e+999999999"),  # not a billion digits
        ("123456789012345678.999", "123456789012345679.00"),
        (Decimal("100000"), "100000.00"),
        ("abc", "abc"),  # not a number: as it came
        ("NaN", "NaN"),
        (None, "–"),
    ],
)
def test_money(value: object, shown: str) -> None:
    assert money(value) == shown
