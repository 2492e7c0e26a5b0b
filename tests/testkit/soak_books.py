"""The books of a crash soak: the store read directly, replays of the stored fills, and the
checks between them and what the daemon told (``testkit.soak_told``).

Every check is a property a correct daemon satisfies whatever the timing of the crash
(docs/daemon.md "What comes back after a restart", docs/api.md):

- a fill published on the WebSocket ``fills`` topic or served by ``GET .../fills`` is stored,
  with identical fields;
- a status (``GET /api/bots``, WebSocket ``status``) told ``fill_count`` fills: that many are
  stored, and its position, realized PnL, fees and cash (``equity − unrealized PnL`` is cash
  plus the booked cost of the open positions) are those of a replay of the first
  ``fill_count`` stored fills;
- the stored positions and account are a replay of the stored fills (``Portfolio.apply_fill``:
  money booked on 1e-8, half-even), and the replay is ``initial − Σ booked(signed qty × price ×
  multiplier) − Σ booked(fee)``;
- a trade id names one fill and a client order id one order: the fills of an order add up to
  its stored filled quantity and fees.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from sqlalchemy import create_engine, select

from algotrade.core.money import ZERO, book_money
from algotrade.core.portfolio import Portfolio
from algotrade.store.models import Base
from algotrade.store.records import AccountRecord, FillRecord, OrderRecord, PositionRecord
from testkit.soak_told import StatusSeen, Violation, differences

_TABLES = Base.metadata.tables


@dataclass(slots=True)
class StoredBooks:
    """Everything the store holds about the bots' trading, read straight from the tables."""

    configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    states: dict[str, str] = field(default_factory=dict)
    fills: dict[str, list[FillRecord]] = field(default_factory=lambda: defaultdict(list))
    orders: dict[str, dict[str, OrderRecord]] = field(default_factory=lambda: defaultdict(dict))
    positions: dict[str, dict[str, PositionRecord]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    accounts: dict[str, AccountRecord] = field(default_factory=dict)

    @property
    def fill_total(self) -> int:
        return sum(len(fills) for fills in self.fills.values())

    def initial_capital(self, bot_id: str) -> Decimal:
        return Decimal(str(self.configs[bot_id]["initial_capital"]))


def read_store(url: str) -> StoredBooks:
    """The stored books, with the project's schema (money columns come back ``Decimal``).
    Fills are in the order they were booked (their row id): the order a restart replays.

    Every table as of one moment: on PostgreSQL the reads share one REPEATABLE READ snapshot,
    as a daemon killed with ``kill -9`` can still commit after it is gone (its server process
    finishes a COMMIT it received), and READ COMMITTED let the positions read see that commit
    and the fills read before them not. (SQLite has no writer once the daemon is gone.)"""
    options = {"isolation_level": "REPEATABLE READ"} if url.startswith("postgresql") else {}
    engine = create_engine(url, **options)
    books = StoredBooks()
    try:
        with engine.connect() as connection:
            bots = _TABLES["bots"]
            for bot_id, config, state in connection.execute(
                select(bots.c.bot_id, bots.c.config, bots.c.state)
            ):
                books.configs[bot_id] = config
                books.states[bot_id] = state
            fills = _TABLES["fills"]
            for row in connection.execute(
                _select(fills, FillRecord).order_by(fills.c.bot_id, fills.c.id)
            ):
                record = FillRecord(*row)
                books.fills[record.bot_id].append(record)
            for row in connection.execute(_select(_TABLES["orders"], OrderRecord)):
                order = OrderRecord(*row)
                books.orders[order.bot_id][order.client_order_id] = order
            for row in connection.execute(_select(_TABLES["positions"], PositionRecord)):
                position = PositionRecord(*row)
                books.positions[position.bot_id][position.symbol] = position
            for row in connection.execute(_select(_TABLES["accounts"], AccountRecord)):
                account = AccountRecord(*row)
                books.accounts[account.bot_id] = account
    finally:
        engine.dispose()
    return books


def _select(table: Any, record: type[Any]) -> Any:
    return select(*(table.c[f.name] for f in fields(record)))


# -- replay ------------------------------------------------------------------------------------


def replay(initial: Decimal, fills: Iterable[FillRecord]) -> Portfolio:
    portfolio = Portfolio(initial, keep_closed_trades=False)
    for fill in fills:
        portfolio.apply_fill(fill.to_fill())
    return portfolio


def cash_by_formula(portfolio: Portfolio, fills: Iterable[FillRecord]) -> Decimal:
    """initial − Σ booked(signed qty × price × multiplier) − Σ booked(fee): the documented
    cash of a cash account, computed without the portfolio's own bookkeeping."""
    cash = portfolio.initial_cash
    for fill in fills:
        multiplier = portfolio.instruments.get(fill.symbol).multiplier
        signed = fill.qty if fill.side == "buy" else -fill.qty
        cash -= book_money(signed * fill.price * multiplier) + book_money(fill.fee)
    return cash


@dataclass(frozen=True, slots=True)
class BookFigures:
    """What a status shows, from a replay: comparable whatever the mark price."""

    position: dict[str, Decimal]
    realized_pnl: Decimal
    fees: Decimal
    cash_plus_open_cost: Decimal  # = equity − unrealized PnL

    @classmethod
    def of(cls, portfolio: Portfolio) -> BookFigures:
        open_positions = [p for p in portfolio.positions.values() if p.qty]
        return cls(
            position={p.symbol: p.qty for p in open_positions},
            realized_pnl=portfolio.realized_pnl,
            fees=portfolio.fees_paid,
            cash_plus_open_cost=portfolio.cash + sum((p.cost for p in open_positions), ZERO),
        )

    @classmethod
    def told(cls, seen: StatusSeen) -> BookFigures:
        return cls(
            position={s: Decimal(q) for s, q in seen.position.items() if Decimal(q)},
            realized_pnl=Decimal(seen.realized_pnl),
            fees=Decimal(seen.fees),
            cash_plus_open_cost=Decimal(seen.equity) - Decimal(seen.unrealized_pnl),
        )

    def differences(self, other: BookFigures) -> str:
        return ", ".join(
            f"{f.name} {getattr(self, f.name)} told vs {getattr(other, f.name)} replayed"
            for f in fields(self)
            if getattr(self, f.name) != getattr(other, f.name)
        )


# -- checks ------------------------------------------------------------------------------------


def check_acknowledged_fills(
    books: StoredBooks, acknowledged: Sequence[Mapping[str, Any]], life: int
) -> list[Violation]:
    out: list[Violation] = []
    stored = {
        (bot_id, fill.trade_id): fill.to_api()
        for bot_id, fills in books.fills.items()
        for fill in fills
    }
    for told in acknowledged:
        bot_id, trade_id = str(told["bot_id"]), str(told["trade_id"])
        which = f"{bot_id}:{trade_id}:{told['client_order_id']}:{told['ts']}"
        found = stored.get((bot_id, trade_id))
        if found is None:
            out.append(
                Violation(
                    "acknowledged fill stored",
                    life,
                    bot_id,
                    f"fill {trade_id} ({told['side']} {told['qty']} @ {told['price']}) was "
                    "acknowledged and is not stored",
                    f"lost:{which}",
                )
            )
        elif found != told:
            out.append(
                Violation(
                    "acknowledged fill stored",
                    life,
                    bot_id,
                    f"fill {trade_id} stored differs: {differences(told, found)}",
                    f"altered:{which}",
                )
            )
    return out


def check_ids(books: StoredBooks, life: int) -> list[Violation]:
    """One fill per trade id, and each client order id one order whose fills add up."""
    out: list[Violation] = []
    for bot_id, fills in books.fills.items():
        seen: set[str] = set()
        by_order: dict[str, list[FillRecord]] = defaultdict(list)
        for fill in fills:
            if fill.trade_id in seen:
                out.append(
                    Violation(
                        "unique ids",
                        life,
                        bot_id,
                        f"trade id {fill.trade_id} stored twice",
                        f"dup-trade:{bot_id}:{fill.trade_id}",
                    )
                )
            seen.add(fill.trade_id)
            by_order[fill.client_order_id].append(fill)
        orders = books.orders.get(bot_id, {})
        for client_order_id, order_fills in by_order.items():
            order = orders.get(client_order_id)
            qty = sum((f.qty for f in order_fills), ZERO)
            fees = sum((f.fee for f in order_fills), ZERO)
            sides = {f.side for f in order_fills} | ({order.side} if order else set())
            if order is None or order.filled_qty != qty or order.fees != fees or len(sides) > 1:
                shown = (
                    "no such order stored"
                    if order is None
                    else f"order {order.side} filled {order.filled_qty} fees {order.fees}"
                )
                out.append(
                    Violation(
                        "unique ids",
                        life,
                        bot_id,
                        f"client order id {client_order_id}: fills {sorted(sides)} {qty} fees "
                        f"{fees} vs {shown} (one id, one order)",
                        f"order:{bot_id}:{client_order_id}",
                    )
                )
    return out


def check_books(books: StoredBooks, life: int) -> list[Violation]:
    """Stored positions and account = a replay of the stored fills; no bot stored in error."""
    out: list[Violation] = []
    for bot_id in books.configs:
        fills = books.fills.get(bot_id, [])
        portfolio = replay(books.initial_capital(bot_id), fills)
        formula = cash_by_formula(portfolio, fills)
        if formula != portfolio.cash:
            out.append(
                Violation(
                    "cash = replay of stored fills",
                    life,
                    bot_id,
                    f"Portfolio replay cash {portfolio.cash} vs formula {formula}",
                    f"formula:{bot_id}:{len(fills)}",
                )
            )
        stored_positions = books.positions.get(bot_id, {})
        for symbol in sorted(stored_positions.keys() | portfolio.positions.keys()):
            stored = stored_positions.get(symbol)
            position = portfolio.positions.get(symbol)
            want = (
                (ZERO, ZERO, ZERO, ZERO)
                if position is None
                else (position.qty, position.avg_price, position.realized_pnl, position.fees)
            )
            got = (
                None
                if stored is None
                else (stored.qty, stored.avg_price, stored.realized_pnl, stored.fees)
            )
            if got != want and not (got is None and not want[0] and not want[3]):
                out.append(
                    Violation(
                        "position = Σ stored fills",
                        life,
                        bot_id,
                        f"{symbol}: stored (qty, avg_price, realized_pnl, fees) {got} vs replay "
                        f"of {len(fills)} stored fills {want}",
                        f"position:{bot_id}:{symbol}:{got}",
                    )
                )
        account = books.accounts.get(bot_id)
        want_account = (
            portfolio.initial_cash,
            portfolio.cash,
            portfolio.realized_pnl,
            portfolio.fees_paid,
        )
        if account is None:
            if fills:
                out.append(
                    Violation(
                        "cash = replay of stored fills",
                        life,
                        bot_id,
                        f"no account stored for {len(fills)} fills",
                        f"account:{bot_id}:none",
                    )
                )
            continue
        got_account = (account.initial_cash, account.cash, account.realized_pnl, account.fees_paid)
        if got_account != want_account:
            out.append(
                Violation(
                    "cash = replay of stored fills",
                    life,
                    bot_id,
                    f"stored account (initial, cash, realized_pnl, fees) {got_account} vs "
                    f"replay of {len(fills)} stored fills {want_account}",
                    f"account:{bot_id}:{got_account}",
                )
            )
    for bot_id, state in books.states.items():
        if state == "error":
            out.append(
                Violation(
                    "no bot in error",
                    life,
                    bot_id,
                    "stored state is error",
                    f"error:{life}:{bot_id}",
                )
            )
    return out


def check_statuses(
    books: StoredBooks, statuses: Sequence[StatusSeen], life: int
) -> list[Violation]:
    """Each status told is durable and agrees with the stored fills it counted."""
    out: list[Violation] = []
    by_bot: dict[str, list[StatusSeen]] = defaultdict(list)
    for seen in statuses:
        if seen.state == "error":
            out.append(
                Violation(
                    "no bot in error",
                    life,
                    seen.bot_id,
                    f"{seen.source}: state error: {seen.last_error}",
                    f"error:{life}:{seen.bot_id}",
                )
            )
        by_bot[seen.bot_id].append(seen)
    for bot_id, seen_list in by_bot.items():
        fills = books.fills.get(bot_id, [])
        if bot_id not in books.configs:
            continue
        portfolio = Portfolio(books.initial_capital(bot_id), keep_closed_trades=False)
        booked = 0
        for seen in sorted(seen_list, key=lambda s: s.fill_count):
            if seen.fill_count > len(fills):
                out.append(
                    Violation(
                        "status fill_count stored",
                        life,
                        bot_id,
                        f"{seen.source} told fill_count {seen.fill_count}; "
                        f"{len(fills)} fills stored",
                        f"count:{life}:{bot_id}",
                    )
                )
                break  # the rest of this life's statuses counted even more
            while booked < seen.fill_count:
                portfolio.apply_fill(fills[booked].to_fill())
                booked += 1
            told, replayed = BookFigures.told(seen), BookFigures.of(portfolio)
            if told != replayed:
                out.append(
                    Violation(
                        "status = replay of stored fills",
                        life,
                        bot_id,
                        f"{seen.source} after {seen.fill_count} fills: "
                        f"{told.differences(replayed)}",
                        f"status:{life}:{bot_id}",
                    )
                )
    return out


def check_quiet_bot(
    books: StoredBooks,
    bot_id: str,
    status: StatusSeen,
    api_fills: list[dict[str, Any]],
    api_positions: list[dict[str, Any]],
    life: int,
) -> list[Violation]:
    """A bot that is not trading: the API shows exactly what is stored."""
    out: list[Violation] = []
    fills = books.fills.get(bot_id, [])
    if status.fill_count != len(fills):
        out.append(
            Violation(
                "API = store",
                life,
                bot_id,
                f"status fill_count {status.fill_count} vs {len(fills)} stored",
                f"api-count:{life}:{bot_id}",
            )
        )
    told = BookFigures.told(status)
    replayed = BookFigures.of(replay(books.initial_capital(bot_id), fills))
    if told != replayed:
        out.append(
            Violation(
                "API = store",
                life,
                bot_id,
                f"status: {told.differences(replayed)}",
                f"api-status:{life}:{bot_id}",
            )
        )
    stored_api = [fill.to_api() for fill in fills]
    if api_fills != stored_api:
        missing = len({f["trade_id"] for f in stored_api} - {f["trade_id"] for f in api_fills})
        out.append(
            Violation(
                "API = store",
                life,
                bot_id,
                f"GET fills: {len(api_fills)} served vs {len(stored_api)} stored "
                f"({missing} stored ones not served, or fields/order differ)",
                f"api-fills:{life}:{bot_id}",
            )
        )
    stored_positions = sorted(
        (p.to_api() for p in books.positions.get(bot_id, {}).values()), key=lambda p: p["symbol"]
    )
    if sorted(api_positions, key=lambda p: p["symbol"]) != stored_positions:
        out.append(
            Violation(
                "API = store",
                life,
                bot_id,
                f"GET positions {api_positions} vs stored {stored_positions}",
                f"api-positions:{life}:{bot_id}",
            )
        )
    return out
