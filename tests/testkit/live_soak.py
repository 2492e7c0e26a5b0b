"""A randomized crash soak of the daemon trading on a live venue: a fake venue in the test
process (it outlives every daemon and keeps trading while the daemon is down), a real daemon
process with a few live bots that order on most bars, and restarts by ``kill -9`` (at a random
instant, right after an order reached the venue, with the venue's reply held back, during
start-up, during the start's reconciliation) and SIGTERM.

The venue is any ``testkit.live_soak_venue.SoakVenue``: ``testkit.live_soak_hyperliquid``,
``testkit.live_soak_bybit``.

After every restart, once the daemon is healthy and has reconciled, the market is held still
and the store is compared with the venue's own record (``testkit.live_soak_checks``) until they
agree or ``settle_s`` passes; what still differs is a violation. Also: no bot in error unless
the venue refused something, no account alert or blocked coin, healthy within
``healthy_within_s``.

Everything random comes from one seed (``ALGOTRADE_SOAK_SEED`` replays it, as for
``testkit.soak``); the instants of the crashes depend on timing, what is checked never does.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx

from testkit.daemon_process import ControlledDaemonProcess
from testkit.live_daemon_session import live_bot_spec
from testkit.live_soak_checks import check_against_venue
from testkit.live_soak_market import Market, bot_steps
from testkit.live_soak_venue import SoakVenue
from testkit.soak_books import check_books, check_ids, read_store
from testkit.soak_report import Figures, SoakReport
from testkit.soak_told import Violation

__all__ = ["LiveEnding", "LiveSoak", "LiveSoakSettings"]

SCRIPTED = Path(__file__).parent / "strategies" / "scripted.py"
START_GIVE_UP_S = 40.0
SIGTERM_WAIT_S = 15.0


class LiveEnding(StrEnum):
    KILL = "kill -9"
    KILL_SENT = "kill -9 right after an order reached the venue"
    KILL_UNANSWERED = "kill -9 while the venue holds its reply"
    KILL_STARTING = "kill -9 during start-up"
    KILL_RECONCILING = "kill -9 as the start reconciles"
    SIGTERM = "SIGTERM"


_IN_START_UP = (LiveEnding.KILL_STARTING, LiveEnding.KILL_RECONCILING)


@dataclass(frozen=True, slots=True)
class LiveSoakSettings:
    seed: int
    bots: int = 3
    # Every ending below at least once (7 lives), and a suite that fits its 15 minutes;
    # ALGOTRADE_SOAK_SEED replays a seed, more lives are a settings change away.
    restarts: int = 7
    trade_s: tuple[float, float] = (1.0, 2.0)  # trading between two restarts
    tick_s: float = 0.25  # one candle (one bar for every bot) and one mid move per tick
    settle_s: float = 15.0
    healthy_within_s: float = 20.0
    # How the lives end: shares of the restarts, the rest are plain kills at a random instant.
    shares: tuple[tuple[LiveEnding, float], ...] = (
        (LiveEnding.SIGTERM, 0.2),
        (LiveEnding.KILL_SENT, 0.2),
        (LiveEnding.KILL_UNANSWERED, 0.15),
        (LiveEnding.KILL_STARTING, 0.1),
        (LiveEnding.KILL_RECONCILING, 0.1),
    )

    def describe(self) -> str:
        return f"{self.bots} live bots, a bar every {self.tick_s} s"


@dataclass(frozen=True, slots=True)
class _Run:
    """What the report says ran: the settings on a venue."""

    settings: LiveSoakSettings
    venue: str

    @property
    def seed(self) -> int:
        return self.settings.seed

    def describe(self) -> str:
        return f"{self.venue}, {self.settings.describe()}"


class LiveSoak:
    def __init__(
        self,
        settings: LiveSoakSettings,
        venue: SoakVenue,
        workdir: Path,
        log: Callable[[str], None] = print,
    ) -> None:
        self.settings = settings
        self.venue = venue
        self.rng = random.Random(settings.seed)
        self.log = log
        self.session = venue.session(workdir)
        self.daemon = self.session.daemon(ControlledDaemonProcess)
        self.store_url = f"sqlite:///{self.daemon.data_dir / 'algotrade.db'}"
        self.configs = self._bot_configs()
        self.bot_ids = [c["bot_id"] for c in self.configs]
        self.market = Market(venue, venue.coins, self.rng.randrange(2**32), settings.tick_s)
        venue.draw(self.rng)  # the venue's behaviours the seed picks
        self.violations: list[Violation] = []
        self.figures = Figures(bots=settings.bots)
        self.refusals: set[str] = set()  # bots the venue refused an order of (error allowed)

    def _bot_configs(self) -> list[dict[str, Any]]:
        """Bots on every coin (two on a coin once there are more bots than coins: their
        positions add up at the venue); all but the last resume by themselves."""
        configs = []
        coins = self.venue.coins
        for index in range(self.settings.bots):
            coin = coins[index % len(coins)]
            steps = bot_steps(self.rng, coin, 900)
            spec = live_bot_spec(f"live-{index}", coin.name, self.venue.name, SCRIPTED, steps)
            spec.update(initial_capital="1000000", auto_resume=index < self.settings.bots - 1)
            configs.append(spec)
        return configs

    # ------------------------------------------------------------------ the run
    def run(self) -> SoakReport:
        started = self.started = time.monotonic()
        plan = self._plan()
        self.market.start()
        try:
            for life, ending in enumerate(plan):
                self._life(life, ending)
            self._last_life(len(plan))
        except (AssertionError, httpx.HTTPError) as exc:  # the soak cannot go on: say how
            self.figures.duration_s = time.monotonic() - started
            report = SoakReport(self._run, self.figures, list(self.violations))
            raise AssertionError(f"{exc!r}\n{report.summary()}") from exc
        finally:
            self.daemon.kill()
            self.daemon.close_logs()
            self.market.close()
        if self.market.error is not None:
            self._violation(
                "market", len(plan), "-", f"the market thread died: {self.market.error!r}"
            )
        self.figures.duration_s = time.monotonic() - started
        return SoakReport(self._run, self.figures, list(self.violations))

    @property
    def _run(self) -> _Run:
        return _Run(self.settings, self.venue.label)

    def _plan(self) -> list[LiveEnding]:
        """Each life's ending: every kind by its share (at least one), in random order; the
        first life creates the bots, so it is never killed during start-up."""
        n = self.settings.restarts
        endings = [e for e, share in self.settings.shares for _ in range(max(1, round(n * share)))]
        endings += [LiveEnding.KILL] * max(1, n - len(endings))
        self.rng.shuffle(endings)
        if endings[0] in _IN_START_UP:
            first = next(i for i, e in enumerate(endings) if e not in _IN_START_UP)
            endings[0], endings[first] = endings[first], endings[0]
        return endings

    def _life(self, life: int, ending: LiveEnding) -> None:
        self.daemon.launch()
        if ending is LiveEnding.KILL_STARTING:
            time.sleep(self.rng.uniform(0.2, 3.0))  # a random moment of the start-up
            self.daemon.sigkill()
        elif ending is LiveEnding.KILL_RECONCILING:
            asked = self.venue.reconciles_asked()
            self._until(lambda: self.venue.reconciles_asked() > asked)
            self.daemon.sigkill()
        else:
            self._up(life, create=life == 0)
            time.sleep(self.rng.uniform(*self.settings.trade_s))
            self._end(life, ending)
        self._down(life, ending)

    def _last_life(self, life: int) -> None:
        self.daemon.launch()
        self._up(life, create=False)
        self.market.pause()
        for bot_id in self.bot_ids:
            self.daemon.call("PUT", f"/api/bots/{bot_id}/stop")
        self._settled_check(life, "after stopping every bot")
        code = self.daemon.sigterm(SIGTERM_WAIT_S)
        if code != 0:
            self._violation("SIGTERM exits 0", life, "-", f"exit code {code}")
        self._down(life, None)

    def _up(self, life: int, *, create: bool) -> None:
        """Healthy, reconciled, every bot running; then the books are checked with the
        market held still."""
        elapsed = self.daemon.wait_healthy(START_GIVE_UP_S)
        self.log(f"  healthy after {elapsed:.1f} s")
        self.figures.healthy_s.append(elapsed)
        if elapsed > self.settings.healthy_within_s:
            self._violation("healthy in time", life, "-", f"healthy after {elapsed:.1f} s")
        if create:
            for config in self.configs:
                self.daemon.ok("POST", "/api/bots", json=config)
        else:
            resuming = {c["bot_id"] for c in self.configs if c["auto_resume"]}
            if not self._until(lambda: resuming <= self._running(), timeout=20):
                self._violation(
                    "auto_resume bots resume",
                    life,
                    "-",
                    f"not running 20 s after start: {sorted(resuming - self._running())}",
                )
        self._start_stopped(life)
        # The account connects with its first bot; its first reconciliation is done before
        # that bot starts, so this is a formality unless the start failed.
        if not self._until(lambda: self._venue_state().get("reconciles", 0) >= 1, timeout=20):
            self._violation("reconciled", life, "-", "no reconciliation 20 s after start")
        self.market.pause()
        try:
            self._settled_check(life, "after the restart")
        finally:
            self.market.resume()

    def _start_stopped(self, life: int) -> None:
        """Bots without ``auto_resume`` come back stopped (docs/daemon.md): start them, as a
        user would, before the books are compared (a stopped bot books no fill)."""
        for status in self.daemon.ok("GET", "/api/bots"):
            if status["state"] == "running":
                continue
            started = time.monotonic()
            response = self.daemon.call("PUT", f"/api/bots/{status['bot_id']}/start", timeout=60)
            took = time.monotonic() - started
            if response.status_code >= 300:
                self._violation(
                    "bots start",
                    life,
                    status["bot_id"],
                    f"{response.status_code} {response.text[:300]}",
                )
            self.log(f"  start {status['bot_id']} ({status['state']}): {took:.1f} s")

    def _end(self, life: int, ending: LiveEnding) -> None:
        if ending is LiveEnding.SIGTERM:
            code = self.daemon.sigterm(SIGTERM_WAIT_S)
            if code != 0:
                shown = "no exit (killed)" if code is None else f"exit code {code}"
                self._violation(
                    "SIGTERM exits 0", life, "-", f"{shown}: {self.daemon.stderr()[-400:]}"
                )
            return
        if ending in (LiveEnding.KILL_SENT, LiveEnding.KILL_UNANSWERED):
            if ending is LiveEnding.KILL_UNANSWERED:
                self.venue.hold_next_order_reply(5.0)  # the order is placed, its reply held
            sent = self.venue.orders_sent()
            self._until(lambda: self.venue.orders_sent() > sent, timeout=5.0, poll=0.001)
        self.daemon.sigkill()
        self.venue.hold_next_order_reply(0.0)  # unused if no order came

    def _down(self, life: int, ending: LiveEnding | None) -> None:
        if ending is not None:
            self.figures.endings[ending.value] += 1
        books = read_store(self.store_url)
        self.figures.fills_stored = books.fill_total
        at = time.monotonic() - self.started
        how = ending.value if ending else "final SIGTERM"
        venue_fills = self.venue.fill_count()
        self.log(
            f"[{at:.1f} s] life {life} ended by {how}: {books.fill_total} fills stored, "
            f"{venue_fills} at the venue"
        )

    # ------------------------------------------------------------------ checks
    def _settled_check(self, life: int, when: str) -> None:
        """Compare until store and venue agree (or ``settle_s``); report what still differs."""
        began = time.monotonic()
        deadline = began + self.settings.settle_s
        rounds = 0
        while True:
            found = self._check(life)
            rounds += 1
            if not found or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.log(f"  {when}: settled in {time.monotonic() - began:.1f} s ({rounds} rounds)")
        for violation in found:
            self.violations.append(violation)
        fills = self.venue.fill_count()
        self.figures.fills_acknowledged = fills
        self.figures.fills_told_by = {"the venue's record": fills}
        self.figures.statuses_checked += len(self.bot_ids)
        if found:
            self.log(f"life {life} {when}: {len(found)} violations")
            for violation in found[:8]:
                self.log(f"  {violation.check}: {violation.bot_id}: {violation.detail}")

    def _check(self, life: int) -> list[Violation]:
        books = read_store(self.store_url)
        statuses = {s["bot_id"]: s for s in self.daemon.ok("GET", "/api/bots")}
        record = self.venue.record()
        shown = {
            bot_id: {sym: Decimal(q) for sym, q in (s.get("position") or {}).items()}
            for bot_id, s in statuses.items()
        }
        found = check_against_venue(books, record, self.venue.client_id, shown, life)
        found += check_ids(books, life) + check_books(books, life)
        for bot_id in self.bot_ids:
            status = statuses.get(bot_id)
            if status is None:
                found.append(
                    Violation("bots restored", life, bot_id, "not listed", f"gone:{bot_id}")
                )
            elif status["state"] == "error" and not self._venue_refused(bot_id):
                found.append(
                    Violation(
                        "no bot in error",
                        life,
                        bot_id,
                        f"error: {status.get('error')}",
                        f"error:{life}:{bot_id}",
                    )
                )
        state = self._venue_state()
        if state.get("blocked"):
            found.append(
                Violation("nothing blocked", life, "-", f"{state['blocked']}", f"blocked:{life}")
            )
        for alert in state.get("alerts", []):
            found.append(
                Violation("no account alert", life, "-", str(alert)[:300], f"alert:{alert}")
            )
        return found

    def _venue_refused(self, bot_id: str) -> bool:
        """Whether the venue refused one of the bot's orders (then an error may be right)."""
        books = read_store(self.store_url)
        return any(
            o.status == "rejected" and o.reason.startswith("venue:")
            for o in books.orders.get(bot_id, {}).values()
        )

    # ------------------------------------------------------------------ helpers
    def _venue_state(self) -> dict[str, Any]:
        states = self.daemon.ok("GET", "/api/venues")
        return next((s for s in states if s.get("venue") == self.venue.name), {})

    def _running(self) -> set[str]:
        return {s["bot_id"] for s in self.daemon.ok("GET", "/api/bots") if s["state"] == "running"}

    def _until(
        self, condition: Callable[[], bool], timeout: float = 30.0, poll: float = 0.02
    ) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(poll)
        return False

    def _violation(self, check: str, life: int, bot_id: str, detail: str) -> None:
        self.violations.append(Violation(check, life, bot_id, detail, f"{check}:{life}:{bot_id}"))
