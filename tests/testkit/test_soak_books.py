"""``read_store`` reads the books as of one moment, even while a transaction commits.

A daemon killed with ``kill -9`` on PostgreSQL can still commit after it is gone: its server
process finishes a COMMIT it had received. Read statement by statement (READ COMMITTED), the
soak once saw fills from before such a commit and positions from after it, and reported two
bots whose position was not the sum of their fills (a false violation).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import create_engine, event, insert, update
from sqlalchemy.engine import Engine

import testkit.soak_books
from algotrade.store.models import AccountRow, Base, BotRow, FillRow, PositionRow
from testkit.postgres import temporary_database
from testkit.soak_books import read_store

pytestmark = pytest.mark.postgres

BOT = "late-commit"
SYMBOL = "SIM-LC"
START = datetime(2026, 1, 1, tzinfo=UTC)


def _seed(engine: Engine) -> None:
    Base.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            insert(BotRow.__table__),
            {
                "bot_id": BOT,
                "config": {},
                "state": "stopped",
                "runtime": {},
                "created_at": START,
                "updated_at": START,
            },
        )
        connection.execute(
            insert(PositionRow.__table__),
            {
                "bot_id": BOT,
                "symbol": SYMBOL,
                "qty": 0,
                "avg_price": 0,
                "realized_pnl": 0,
                "fees": 0,
            },
        )
        connection.execute(
            insert(AccountRow.__table__),
            {
                "bot_id": BOT,
                "initial_cash": 1000,
                "cash": 1000,
                "realized_pnl": 0,
                "fees_paid": 0,
                "updated_ts": 0,
            },
        )


def _book_a_fill(engine: Engine) -> None:
    """What the killed daemon's last transaction holds: a fill and the position it makes."""
    with engine.begin() as connection:
        connection.execute(
            insert(FillRow.__table__),
            {
                "bot_id": BOT,
                "trade_id": "o-1-F1",
                "client_order_id": "o-1",
                "venue_order_id": "v-1",
                "symbol": SYMBOL,
                "side": "buy",
                "qty": 1,
                "price": 100,
                "fee": 0,
                "liquidity": "taker",
                "ts": 1,
            },
        )
        connection.execute(
            update(PositionRow.__table__)
            .where(PositionRow.__table__.c.bot_id == BOT)
            .values(qty=1, avg_price=100)
        )


def test_a_commit_between_two_reads_is_seen_by_all_of_them_or_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with temporary_database() as url:
        writer = create_engine(url)
        try:
            _seed(writer)
            committed: list[bool] = []

            def reading_engine(read_url: str, **options: Any) -> Engine:
                engine = create_engine(read_url, **options)

                @event.listens_for(engine, "after_cursor_execute")
                def commit_after_the_fills_are_read(*args: Any) -> None:
                    statement = str(args[2])
                    if not committed and "FROM fills" in statement:
                        _book_a_fill(writer)
                        committed.append(True)

                return engine

            monkeypatch.setattr(testkit.soak_books, "create_engine", reading_engine)
            books = read_store(url)
        finally:
            writer.dispose()
    assert committed, "the commit was never made between two reads"
    fills = books.fills.get(BOT, [])
    position = books.positions[BOT][SYMBOL]
    assert position.qty == sum((f.qty for f in fills), Decimal(0)), (position, fills)
