"""A randomized crash soak of the daemon: fast paper bots on the sim feed, restarts by
``kill -9`` at random moments (also during start-up), SIGTERM, and config changes of running
bots (stop → PATCH params → start); after every restart the books are checked (see
``testkit.soak_books`` for the checks and the promises they come from).

Driven over the real API and WebSocket of a real daemon process; the store is read directly.
Everything random comes from one seed (``ALGOTRADE_SOAK_SEED`` overrides it), printed in every
summary. The timing of a crash is random on purpose; what is checked never depends on it.

Used by tests/daemon/test_crash_soak.py (short, in CI) and benchmarks/crash_soak.py (longer,
with figures).
"""

from __future__ import annotations

import os
import random
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select
from sqlalchemy.exc import OperationalError

from algotrade.client import AlgoTradeClient, ClientError
from algotrade.store.models import Base
from testkit.daemon_process import ControlledDaemonProcess
from testkit.soak_books import (
    check_acknowledged_fills,
    check_books,
    check_ids,
    check_quiet_bot,
    check_statuses,
    read_store,
)
from testkit.soak_report import SEED_ENV, Figures, SoakReport
from testkit.soak_told import Acknowledged, EventRecorder, StatusSeen, Violation

HEALTHY_WITHIN_S = 5.0  # issue 9: healthy within 5 s of start
START_GIVE_UP_S = 30.0  # past this the soak cannot go on at all
SIGTERM_WAIT_S = 15.0  # docs/daemon.md: the stop is bounded by shutdown_timeout_s (10 s)


class Ending(StrEnum):
    KILL = "kill -9"
    KILL_STARTING = "kill -9 during start-up"
    KILL_RESTORED = "kill -9 as the restore writes bot states"
    SIGTERM = "SIGTERM"


_IN_START_UP = (Ending.KILL_STARTING, Ending.KILL_RESTORED)


def seed_from_env() -> int:
    """``ALGOTRADE_SOAK_SEED`` if set, else a fresh random seed (printed in the summary)."""
    text = os.environ.get(SEED_ENV, "").strip()
    if not text:
        return secrets.randbelow(2**32)
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{SEED_ENV}: expected an integer seed, got {text!r}") from None


@dataclass(frozen=True, slots=True)
class SoakSettings:
    seed: int
    db_url: str | None = None  # None: SQLite in the data dir
    bots: int = 20
    restarts: int = 25
    trade_s: tuple[float, float] = (0.3, 1.2)  # trading between two restarts
    tick_seconds: float = 0.05
    sigterm_share: float = 0.25
    startup_kill_share: float = 0.1
    config_change_share: float = 0.5
    healthy_within_s: float = HEALTHY_WITHIN_S
    daemon_env: Mapping[str, str] = field(default_factory=dict)

    @property
    def database(self) -> str:
        return "sqlite" if self.db_url is None else self.db_url.split(":", 1)[0].split("+")[0]

    def describe(self) -> str:
        return f"{self.database}, {self.bots} bots, tick {self.tick_seconds} s"


def bot_configs(rng: random.Random, count: int, tick_seconds: float) -> list[dict[str, Any]]:
    """Paper bots on the sim feed that trade every few bars: ``ma_crossover``, ``grid`` and
    ``rsi`` with short periods, prices and sizes whose products have many decimals (so money
    is booked with rounding); every other bot has ``auto_resume``."""
    configs = []
    for index in range(count):
        strategy = ("ma_crossover", "grid", "rsi")[index % 3]
        start_price, qty = rng.choice([(100.0, "1"), (37.25, "3"), (812.5, "0.25")])
        configs.append(
            {
                "bot_id": f"soak-{index:02d}",
                "symbol": f"SIM-S{index:02d}",
                "strategy": strategy,
                "params": strategy_params(rng, strategy, qty),
                "feed": "sim",
                "feed_options": {
                    "seed": rng.randrange(1, 1_000_000),
                    "start_price": start_price,
                    "volatility": 0.004,
                    "tick_seconds": tick_seconds,
                },
                "initial_capital": "100000",
                "risk_per_trade_pct": "5",
                "commission": "0.00075",
                "slippage_bps": "1.5",
                "auto_resume": index % 2 == 0,
            }
        )
    return configs


def strategy_params(rng: random.Random, strategy: str, qty: str) -> dict[str, Any]:
    if strategy == "ma_crossover":
        fast = rng.randint(2, 3)
        return {"fast": fast, "slow": fast + rng.randint(2, 4), "qty": qty}
    if strategy == "grid":
        spacing = rng.choice(["0.15", "0.2", "0.3"])
        return {"levels": rng.randint(2, 4), "spacing_pct": spacing, "qty": qty}
    period = rng.randint(3, 5)
    return {"period": period, "oversold": 40, "exit_level": 50, "overbought": 60, "qty": qty}


class CrashSoak:
    def __init__(
        self, settings: SoakSettings, workdir: Path, log: Callable[[str], None] = print
    ) -> None:
        self.settings = settings
        self.rng = random.Random(settings.seed)
        self.log = log
        data_dir = workdir / "data"
        extra = ("--db-url", settings.db_url) if settings.db_url else ()
        self.daemon = ControlledDaemonProcess(data_dir, None, *extra, env=dict(settings.daemon_env))
        self.store_url = settings.db_url or f"sqlite:///{data_dir / 'algotrade.db'}"
        self.configs = bot_configs(self.rng, settings.bots, settings.tick_seconds)
        self.bot_ids = [config["bot_id"] for config in self.configs]
        self.auto_resume = {config["bot_id"]: config["auto_resume"] for config in self.configs}
        self.params = {config["bot_id"]: config["params"] for config in self.configs}
        self.running = dict.fromkeys(self.bot_ids, False)  # as last acknowledged
        self.acknowledged = Acknowledged()
        self.violations: list[Violation] = []
        self.figures = Figures(bots=settings.bots)

    # ------------------------------------------------------------------ the run
    def run(self) -> SoakReport:
        started = time.monotonic()
        plan = self._plan()
        try:
            for life, (ending, change) in enumerate(plan):
                self._life(life, ending, change)
            self._last_life(len(plan))
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self._report(started).summary()}") from exc
        finally:
            self.daemon.kill()
            self.daemon.close_logs()
        return self._report(started)

    def _report(self, started: float) -> SoakReport:
        self.figures.duration_s = time.monotonic() - started
        self.figures.fills_acknowledged = len(self.acknowledged.fill_snapshot())
        self.figures.fills_told_by = self.acknowledged.sources()
        self.figures.statuses_checked = self.acknowledged.status_checked
        return SoakReport(self.settings, self.figures, list(self.violations))

    def _plan(self) -> list[tuple[Ending, bool]]:
        """How each life ends, and whether configs change in it: the share of each kind of
        ending is fixed (so every run mixes them), their order random."""
        s, n = self.settings, self.settings.restarts
        sigterms = max(1, round(n * s.sigterm_share))
        starting = max(0, min(n - sigterms - 1, round(n * s.startup_kill_share)))
        restored = (starting + 1) // 2
        endings = [Ending.SIGTERM] * sigterms + [Ending.KILL_RESTORED] * restored
        endings += [Ending.KILL_STARTING] * (starting - restored)
        endings += [Ending.KILL] * (n - len(endings))
        self.rng.shuffle(endings)
        if endings and endings[0] in _IN_START_UP:  # life 0 creates the bots
            first = next(i for i, e in enumerate(endings) if e not in _IN_START_UP)
            endings[0], endings[first] = endings[first], endings[0]
        return [(e, self.rng.random() < s.config_change_share) for e in endings]

    def _life(self, life: int, ending: Ending, change: bool) -> None:
        self.daemon.launch()
        if ending in _IN_START_UP:
            if ending is Ending.KILL_STARTING:
                time.sleep(self.rng.uniform(0.2, 3.0))  # a random moment of the start-up
            else:
                self._await_restore_writes()
            self.daemon.sigkill()
            self._after_down(life, ending)
            return
        self._wait_healthy(life)
        recorder = self._follow(life)
        with AlgoTradeClient(self.daemon.url) as api:
            if life == 0:
                self._create_bots(api, life)
            self._restored(api, life, start_stopped=True)
            self._trade(api, life, change)
            self._end(api, life, ending)
        self._join(recorder, life)
        self._after_down(life, ending)

    def _last_life(self, life: int) -> None:
        """Restart once more, stop every bot, and compare everything the API shows with the
        store while nothing trades; then SIGTERM."""
        self.daemon.launch()
        self._wait_healthy(life)
        recorder = self._follow(life)
        with AlgoTradeClient(self.daemon.url) as api:
            self._restored(api, life, start_stopped=False)
            for bot_id in self.bot_ids:
                if self.running[bot_id]:
                    self._call(life, bot_id, "stop", api.stop_bot, bot_id)
                    self.running[bot_id] = False
            self._wait_settled(api)
            self._check_quiet_bots(api, life, self.bot_ids)
            self._sigterm(life)
        self._join(recorder, life)
        self._after_down(life, None)

    # ------------------------------------------------------------------ steps
    def _wait_healthy(self, life: int) -> None:
        elapsed = self.daemon.wait_healthy(START_GIVE_UP_S)
        self.figures.healthy_s.append(elapsed)
        if elapsed > self.settings.healthy_within_s:
            self._violation(
                f"healthy within {self.settings.healthy_within_s:g} s",
                life,
                "-",
                f"GET /api/health answered after {elapsed:.2f} s",
            )

    def _follow(self, life: int) -> EventRecorder:
        recorder = EventRecorder(self.daemon.url, self.acknowledged, life)
        recorder.start()
        if not recorder.subscribed.wait(10):
            self._violation("WebSocket", life, "-", f"no 'subscribed' in 10 s ({recorder.error})")
        return recorder

    def _join(self, recorder: EventRecorder, life: int) -> None:
        if not recorder.join(10):
            self._violation("WebSocket", life, "-", "the stream did not end with the daemon")
        if recorder.error is not None:
            self._violation("WebSocket", life, "-", recorder.error)

    def _create_bots(self, api: AlgoTradeClient, life: int) -> None:
        for config in self.configs:
            self._call(life, config["bot_id"], "create", api.create_bot, config)

    def _restored(self, api: AlgoTradeClient, life: int, *, start_stopped: bool) -> None:
        """Every bot is back; those that opted in resume; those that do not trade show
        exactly what is stored; then (``start_stopped``) every stopped bot is started."""
        statuses = self._poll(api, life)
        missing = sorted(set(self.bot_ids) - {s["bot_id"] for s in statuses})
        if missing:
            self._violation("bots restored", life, ",".join(missing), "not listed after restart")
        skipped = self._call(life, "-", "health", api.health) or {}
        if skipped.get("skipped_bots"):
            self._violation("bots restored", life, "-", f"skipped: {skipped['skipped_bots']}")
        resuming = [b for b in self.bot_ids if self.running[b] and self.auto_resume[b]]
        states = self._wait_states(api, life, resuming)
        for bot_id in resuming:
            if states.get(bot_id) != "running":
                self._violation(
                    "auto_resume bots resume",
                    life,
                    bot_id,
                    f"was running with auto_resume; after restart {states.get(bot_id)}",
                )
        quiet = [b for b in self.bot_ids if b not in resuming]
        self._check_quiet_bots(api, life, quiet)
        for bot_id in self.bot_ids:
            self.running[bot_id] = states.get(bot_id) == "running"
            if start_stopped and states.get(bot_id) in ("stopped", "error"):
                started = self._call(life, bot_id, "start", api.start_bot, bot_id)
                self.running[bot_id] = started is not None

    def _wait_states(self, api: AlgoTradeClient, life: int, resuming: list[str]) -> dict[str, str]:
        """Bot states once every resuming bot runs (or after ``healthy_within_s``)."""
        deadline = time.monotonic() + self.settings.healthy_within_s
        while True:
            states = {s["bot_id"]: s["state"] for s in self._poll(api, life)}
            if all(states.get(b) in ("running", "error") for b in resuming):
                return states
            if time.monotonic() > deadline:
                return states
            time.sleep(0.05)

    def _check_quiet_bots(self, api: AlgoTradeClient, life: int, bot_ids: list[str]) -> None:
        books = read_store(self.store_url)
        for bot_id in bot_ids:
            detail = self._call(life, bot_id, "get", api.get_bot, bot_id)
            fills = self._call(life, bot_id, "fills", _all_fills, api, bot_id)
            positions = self._call(life, bot_id, "positions", api.positions, bot_id)
            if detail is None or fills is None or positions is None:
                continue
            status = StatusSeen.from_api(life, "GET /api/bots/{id}", detail["status"])
            self.acknowledged.status(status)
            for fill in fills:
                self.acknowledged.fill(life, "GET fills", fill)
            self.violations += check_quiet_bot(books, bot_id, status, fills, positions, life)
            if detail["config"]["params"] != self.params[bot_id]:
                self._violation(
                    "config change stored",
                    life,
                    bot_id,
                    f"params {detail['config']['params']} vs acknowledged {self.params[bot_id]}",
                )

    def _trade(self, api: AlgoTradeClient, life: int, change: bool) -> None:
        now = time.monotonic()
        end = now + self.rng.uniform(*self.settings.trade_s)
        change_at = self.rng.uniform(now, end) if change else float("inf")
        while time.monotonic() < end:
            self._poll(api, life)
            if time.monotonic() >= change_at:
                self._change_configs(api, life)
                change_at = float("inf")
            if self.rng.random() < 0.25:
                self._sample_fills(api, life, self.rng.choice(self.bot_ids))
            time.sleep(self.rng.uniform(0.01, 0.15))  # paces the polling; nothing waits on it

    def _change_configs(self, api: AlgoTradeClient, life: int) -> None:
        """stop → PATCH params → start, for one to three running bots."""
        running = [b for b in self.bot_ids if self.running[b]]
        for bot_id in self.rng.sample(running, k=min(len(running), self.rng.randint(1, 3))):
            self._change_config(api, life, bot_id, start=True)

    def _change_config(self, api: AlgoTradeClient, life: int, bot_id: str, *, start: bool) -> None:
        config = next(c for c in self.configs if c["bot_id"] == bot_id)
        qty = self.params[bot_id].get("qty", "1")
        params = strategy_params(self.rng, config["strategy"], qty)
        if self._call(life, bot_id, "stop", api.stop_bot, bot_id) is None:
            return
        self.running[bot_id] = False
        changes = {"params": params}
        if self._call(life, bot_id, "PATCH", api.update_config, bot_id, changes) is None:
            return
        self.params[bot_id] = params
        self.figures.config_changes += 1
        if start and self._call(life, bot_id, "start", api.start_bot, bot_id) is not None:
            self.running[bot_id] = True

    def _sample_fills(self, api: AlgoTradeClient, life: int, bot_id: str) -> None:
        """The newest page of a bot's fills: served, so acknowledged."""
        first = self._call(life, bot_id, "fills", api.fills, bot_id, 0, 1)
        if first is None:
            return
        offset = max(0, first["total"] - 50)
        page = self._call(life, bot_id, "fills", api.fills, bot_id, offset, 50)
        for fill in page["items"] if page else []:
            self.acknowledged.fill(life, "GET fills", fill)

    def _end(self, api: AlgoTradeClient, life: int, ending: Ending) -> None:
        """The crash comes right after a status was told, mid config change, or at a random
        instant."""
        moment = self.rng.random()
        running = [b for b in self.bot_ids if self.running[b]]
        if ending is Ending.KILL and moment < 0.2 and running:
            self._change_config(api, life, self.rng.choice(running), start=False)
        elif moment < 0.6:
            self._poll(api, life)
        else:
            time.sleep(self.rng.uniform(0.0, 0.05))
        if ending is Ending.KILL:
            self.daemon.sigkill()
        else:
            self._sigterm(life)

    def _sigterm(self, life: int) -> None:
        code = self.daemon.sigterm(SIGTERM_WAIT_S)
        if code != 0:
            shown = "no exit (killed)" if code is None else f"exit code {code}"
            self._violation("SIGTERM exits 0", life, "-", f"{shown}: {self.daemon.stderr()[-500:]}")

    def _after_down(self, life: int, ending: Ending | None) -> None:
        """The daemon is down: the store holds still; check it against everything told."""
        if ending is not None:
            self.figures.endings[ending.value] += 1
        books = read_store(self.store_url)
        found = check_acknowledged_fills(books, self.acknowledged.fill_snapshot(), life)
        found += check_ids(books, life)
        found += check_books(books, life)
        found += check_statuses(books, self.acknowledged.take_statuses(), life)
        found += self.acknowledged.take_violations()
        self.violations += found
        self.figures.fills_stored = books.fill_total
        self.log(
            f"life {life} ended by {ending.value if ending else 'final SIGTERM'}: "
            f"{books.fill_total} fills stored, {len(found)} violations"
        )

    def _await_restore_writes(self) -> None:
        """Until the store shows a bot that should resume as not running (what a restore may
        write before it starts the bots again), or one second after the daemon is healthy: a
        crash at that moment must not make bots forget they were running."""
        resuming = [b for b in self.bot_ids if self.running[b] and self.auto_resume[b]]
        bots = Base.metadata.tables["bots"]
        query = select(bots.c.bot_id, bots.c.state).where(bots.c.bot_id.in_(resuming))
        engine = create_engine(self.store_url)
        healthy_at: float | None = None
        asked_health = 0.0
        try:
            while self.daemon.proc is not None and self.daemon.proc.poll() is None:
                try:
                    with engine.connect() as connection:
                        states = {row[0]: row[1] for row in connection.execute(query)}
                except OperationalError:
                    states = {}  # busy migrating or locked for a moment: look again
                if any(state != "running" for state in states.values()):
                    return
                if healthy_at is None and time.monotonic() - asked_health > 0.05:
                    asked_health = time.monotonic()
                    healthy_at = asked_health if self.daemon.healthy() else None
                if healthy_at is not None and time.monotonic() - healthy_at > 1:
                    return
                if time.monotonic() - self.daemon.launched_at > START_GIVE_UP_S:
                    return
                time.sleep(0.005)
        finally:
            engine.dispose()

    # ------------------------------------------------------------------ helpers
    def _poll(self, api: AlgoTradeClient, life: int) -> list[dict[str, Any]]:
        statuses = self._call(life, "-", "list", api.list_bots) or []
        for status in statuses:
            self.acknowledged.status(StatusSeen.from_api(life, "GET /api/bots", status))
        return statuses

    def _wait_settled(self, api: AlgoTradeClient) -> None:
        """Until every status counts exactly the fills stored (nothing left to commit), or
        10 s: the checks that follow report whatever still differs."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            books = read_store(self.store_url)
            counts = {s["bot_id"]: s["fill_count"] for s in api.list_bots()}
            if all(counts.get(b) == len(books.fills.get(b, [])) for b in self.bot_ids):
                return
            time.sleep(0.1)

    def _call(self, life: int, bot_id: str, what: str, call: Callable[..., Any], *args: Any) -> Any:
        """An API call the daemon must answer; a refusal is a violation (None returned)."""
        try:
            return call(*args)
        except ClientError as exc:
            self._violation("API answers", life, bot_id, f"{what}: {exc}")
            return None

    def _violation(self, check: str, life: int, bot_id: str, detail: str) -> None:
        self.violations.append(Violation(check, life, bot_id, detail, f"{check}:{life}:{bot_id}"))


def _all_fills(api: AlgoTradeClient, bot_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        page = api.fills(bot_id, len(items), 1000)
        items += page["items"]
        if len(items) >= page["total"] or not page["items"]:
            return items
