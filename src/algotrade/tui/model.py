"""The bots table's model: every bot's latest status keyed by bot id, the filter and the sort.

No Textual here: the table widget (``tui.table``) shows what this holds, and unit tests drive it
with plain dicts. A status update replaces its bot's status dict and formats nothing: the table
makes a cell into text (``cell_text``) only when it draws the row, so with 10,000 bots updating
only the ~50 rows on screen are ever formatted, and heartbeat ages are as old as the moment
they are drawn.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rich.text import Text

from algotrade.tui.format import (
    DASH,
    STATE_STYLES,
    age,
    clock,
    mode_label,
    money,
    number,
    parse_iso,
    pnl_style,
    position_text,
)

Status = Mapping[str, Any]
CellText = Callable[[Status, float], Text]


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    width: int
    fields: tuple[str, ...]  # the status fields the cell is made of
    text: CellText
    sort: Callable[[Status], Any]
    # Narrower screens take cells from the text columns first (ids and names cut with an
    # ellipsis read well; cut numbers and times do not): down to this, 0 = never narrower.
    min_width: int = 0


def _plain(field: str) -> CellText:
    return lambda status, _: Text(str(status.get(field) or ""))


def _state(status: Status, _: float) -> Text:
    state = str(status.get("state", "?"))
    if status.get("blocked"):
        return Text(f"{state} blocked", style="bold red")
    return Text(state, style=STATE_STYLES.get(state, ""))


def _mode(status: Status, _: float) -> Text:
    label = mode_label(status)
    return Text(label, style="cyan" if label == "SIM" else "bold magenta")


def _money(field: str, signed: bool = False) -> CellText:
    def text(status: Status, _: float) -> Text:
        value = status.get(field)
        style = pnl_style(value) if signed else ""
        return Text(money(value, signed=signed), style=style, justify="right")

    return text


def _by_number(field: str) -> Callable[[Status], Any]:
    def key(status: Status) -> Any:
        value = number(status.get(field))
        return (value is None, value or 0.0)

    return key


def _by_text(field: str) -> Callable[[Status], Any]:
    return lambda status: str(status.get(field) or "")


def _by_recency(field: str) -> Callable[[Status], Any]:
    def key(status: Status) -> Any:
        moment = parse_iso(status.get(field))
        return (moment is None, -(moment or 0.0))  # newest first, never first

    return key


COLUMNS: tuple[Column, ...] = (
    Column("bot", "bot", 22, ("bot_id",), _plain("bot_id"), _by_text("bot_id"), min_width=12),
    Column("state", "state", 10, ("state", "blocked"), _state, _by_text("state")),
    Column("symbol", "symbol", 12, ("symbol",), _plain("symbol"), _by_text("symbol"), min_width=8),
    Column("venue", "venue", 11, ("venue",), _plain("venue"), _by_text("venue"), min_width=8),
    Column("mode", "mode", 4, ("simulated",), _mode, mode_label),
    Column(
        "position",
        "position",
        12,
        ("position", "symbol"),
        lambda s, _: Text(position_text(s)),
        position_text,
    ),
    Column("equity", "equity", 14, ("equity",), _money("equity"), _by_number("equity")),
    Column(
        "pnl_today",
        "PnL today",
        12,
        ("pnl_today",),
        _money("pnl_today", signed=True),
        _by_number("pnl_today"),
    ),
    Column(
        "last_fill",
        "last fill",
        14,
        ("last_fill_at",),
        lambda s, _: Text(clock(s.get("last_fill_at"))),
        _by_recency("last_fill_at"),
    ),
    Column(
        "heartbeat",
        "heartbeat",
        9,
        ("heartbeat",),
        lambda s, now: Text(age(s.get("heartbeat"), now), justify="right"),
        _by_recency("heartbeat"),
    ),
    Column(
        "strategy",
        "strategy",
        16,
        ("strategy",),
        _plain("strategy"),
        _by_text("strategy"),
        min_width=12,  # "ma_crossover", the longest built-in
    ),
)
COLUMN_KEYS: tuple[str, ...] = tuple(column.key for column in COLUMNS)
_BY_KEY: dict[str, Column] = {column.key: column for column in COLUMNS}
# The fields the filter looks in (a case-insensitive substring of any of them matches).
FILTER_FIELDS = ("bot_id", "state", "symbol", "venue", "strategy", "account_id")


class Entry:
    """One bot in the model; its cells read ``status`` when they are drawn."""

    __slots__ = ("bot_id", "status")

    def __init__(self, bot_id: str, status: dict[str, Any]) -> None:
        self.bot_id = bot_id
        self.status = status


def cell_text(column: Column, status: Status, now: float) -> Text:
    """The text of ``column`` for ``status`` at ``now`` (a dash for a value it cannot show)."""
    try:
        return column.text(status, now)
    except Exception:  # a display never crashes on a value it did not expect
        return Text(DASH)


@dataclass(slots=True)
class BatchResult:
    """What a batch of statuses did: bots whose shown row changed, rows to add (new, or now
    passing the filter), rows to remove (deleted, or filtered out now), and whether the order
    may have changed (a sort field changed, or rows were added)."""

    changed: list[str]
    added: list[str]
    removed: list[str]
    resort: bool

    @property
    def empty(self) -> bool:
        return not (self.changed or self.added or self.removed)


class BotsModel:
    """Every bot's latest status, which of them pass the filter, and the sort order."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}
        self.shown: set[str] = set()  # bots in the table (those passing the filter)
        self.filter_text = ""
        self.sort_key = "bot"
        self.sort_reverse = False

    def __len__(self) -> int:
        return len(self.entries)

    def status(self, bot_id: str) -> dict[str, Any] | None:
        entry = self.entries.get(bot_id)
        return None if entry is None else entry.status

    def statuses(self) -> list[dict[str, Any]]:
        return [entry.status for entry in self.entries.values()]

    # -- statuses in --------------------------------------------------------------------------

    def apply(self, rows: Iterable[Mapping[str, Any]]) -> BatchResult:
        """Take new statuses (``{"bot_id", "deleted": true}`` removes a bot)."""
        # This loop runs for every bot of every batch (10,000 bots: 10,000 times, several
        # times a second): names are local and the sort-field check stops at the first change.
        result = BatchResult([], [], [], False)
        sort_fields = _BY_KEY[self.sort_key].fields
        filtering = bool(self.filter_text)
        entries, shown, changed = self.entries, self.shown, result.changed
        resort = False
        for row in rows:
            bot_id = row.get("bot_id")
            if not isinstance(bot_id, str):
                continue
            if row.get("deleted"):
                self._forget(bot_id, result)
                continue
            status = dict(row)
            entry = entries.get(bot_id)
            if entry is None:
                entries[bot_id] = Entry(bot_id, status)
                if not filtering or self.matches(status):
                    shown.add(bot_id)
                    result.added.append(bot_id)
                continue
            old, entry.status = entry.status, status
            is_shown = not filtering or self.matches(status)
            if bot_id in shown:
                if not is_shown:
                    shown.discard(bot_id)
                    result.removed.append(bot_id)
                    continue
                changed.append(bot_id)
                if not resort:
                    for field in sort_fields:
                        if old.get(field) != status.get(field):
                            resort = True
                            break
            elif is_shown:
                shown.add(bot_id)
                result.added.append(bot_id)
        result.resort = resort or bool(result.added)
        return result

    def _forget(self, bot_id: str, result: BatchResult) -> None:
        self.entries.pop(bot_id, None)
        if bot_id in self.shown:
            self.shown.discard(bot_id)
            result.removed.append(bot_id)

    def replace_all(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """A full snapshot (on connect and reconnect): bots not in it are gone."""
        self.entries.clear()
        self.shown.clear()
        self.apply(rows)

    # -- filter and sort ----------------------------------------------------------------------

    def matches(self, status: Status) -> bool:
        needle = self.filter_text
        if not needle:
            return True
        return any(needle in str(status.get(field) or "").lower() for field in FILTER_FIELDS)

    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip().lower()
        self.shown = {bot_id for bot_id, e in self.entries.items() if self.matches(e.status)}

    def set_sort(self, key: str) -> None:
        """Sort by column ``key``; the same key again reverses the order."""
        if key not in _BY_KEY:
            raise ValueError(f"unknown column {key!r}; columns: {', '.join(COLUMN_KEYS)}")
        if key == self.sort_key:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_key, self.sort_reverse = key, False

    def sort_value(self, bot_id: str) -> Any:
        entry = self.entries.get(bot_id)
        if entry is None:
            return ((), bot_id)
        return (_BY_KEY[self.sort_key].sort(entry.status), bot_id)

    def sort_keys(self, bot_ids: Iterable[str]) -> dict[str, Any]:
        """``sort_value`` of many bots at once (the table keeps them to re-sort a batch)."""
        sort, entries = _BY_KEY[self.sort_key].sort, self.entries
        return {
            bot_id: (sort(entries[bot_id].status), bot_id) if bot_id in entries else ((), bot_id)
            for bot_id in bot_ids
        }

    def ordered_shown(self) -> list[str]:
        return sorted(self.shown, key=self.sort_value, reverse=self.sort_reverse)

    def sort_label(self) -> str:
        return f"{_BY_KEY[self.sort_key].label} {'▼' if self.sort_reverse else '▲'}"


class StatusQueue:
    """Status events waiting for the next batch: the newest per bot (an older status of the
    same bot would be overwritten in the same batch anyway), in arrival order."""

    def __init__(self) -> None:
        self._items: dict[str, Mapping[str, Any]] = {}

    def __len__(self) -> int:
        return len(self._items)

    def put(self, status: Mapping[str, Any]) -> None:
        bot_id = status.get("bot_id")
        if isinstance(bot_id, str):
            self._items.pop(bot_id, None)  # re-inserted: keeps arrival order of the newest
            self._items[bot_id] = status

    def drain(self) -> list[Mapping[str, Any]]:
        items, self._items = list(self._items.values()), {}
        return items

    def clear(self) -> None:
        self._items.clear()
