"""Bot worker processes (``daemon.bot_workers``): bots spread over processes, one per core.

The daemon stays the one process clients see: its API, its store and writer (every fill is
committed by the daemon before anything acknowledges it), its account risk engine, its
WebSocket. What moves to a worker is a bot's per-bar work: its strategy, orders, paper fills
and books. The bars of a sim stream go to each worker once (``StreamRelay``); the worker hands
them to its bots and sends back what they booked and that the bar was handled.

Which bots a worker hosts (``BotWorkers.hosts``): paper bots on the sim feed whose account the
risk engine does not guard. A guarded account's pre-trade check is a synchronous call into the
risk engine for every order, and a live venue's connection and reconciliation are shared by
all bots on it; both stay in the daemon, and so do those bots. Bots are placed on the worker
with the fewest bots when they are created or restored.

A worker that ends unexpectedly stops the daemon (exit 1): its bots' books are in the store up
to their last commit, and the restart restores them as after any crash. Simulated bars wait
for the workers as they wait for the store: a stream sends its next bar only once every
worker has at most ``MAX_BARS_IN_FLIGHT`` of its bars unhandled.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import signal
import socket
import sys
import time
import zlib
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from algotrade.core.events import Bar
from algotrade.daemon.bot_config import BotConfig, FeedKind, VenueKind
from algotrade.daemon.bot_market import bar_to_api
from algotrade.daemon.bus import EventBus, Topic
from algotrade.daemon.sim_feed import SimFeedHub, SimOptions
from algotrade.daemon.status_board import StatusChanges
from algotrade.daemon.workers.wire import Peer, PeerClosed

if TYPE_CHECKING:
    from algotrade.daemon.risk_service import RiskService
    from algotrade.daemon.workers.shadow import BotShadow
    from algotrade.daemon.writer import ActivityWriter
    from algotrade.store.store import Store

_log = logging.getLogger("algotrade.daemon.workers")
MAX_BARS_IN_FLIGHT = 2
_STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
STOP_GRACE_S = 3.0

__all__ = ["BotWorkers", "PeerClosed", "StreamRelay", "WorkerLink"]


class StreamRelay:
    """One sim stream as one worker gets it: one subscriber of the daemon's stream for all of
    that worker's bots on it."""

    __slots__ = (
        "bars_handled",
        "bots",
        "handled_ns",
        "hub_id",
        "id",
        "last_close",
        "link",
        "sent",
    )

    def __init__(self, link: WorkerLink, relay_id: int) -> None:
        self.link = link
        self.id = relay_id
        self.hub_id = f"worker-{link.index}/stream-{relay_id}"  # never a bot id: has a slash
        self.bots: set[str] = set()
        self.handled_ns: int | None = None  # when the worker last handled a bar of it
        self.last_close: float | None = None
        self.bars_handled = 0
        self.sent: deque[Bar] = deque()  # sent, not yet handled, oldest first

    def on_bar(self, bar: Bar) -> None:
        link = self.link
        if link.peer.closed:
            return
        link.peer.tell("bar", self.id, bar)
        self.sent.append(bar)
        link.in_flight += 1

    def handled(self, bus: EventBus) -> None:
        """The worker's bots decided on the oldest bar sent: it is their heartbeat and last
        price, and it goes to the WebSocket's ``bars`` topic as a bot's own bar would."""
        bar = self.sent.popleft()
        self.handled_ns = time.time_ns()
        self.last_close = bar.close
        self.bars_handled += 1
        if bus.subscriber_count and bus.wants_topic(Topic.BARS):
            message = bar_to_api(bar)
            for bot_id in self.bots:
                bus.publish(Topic.BARS, bot_id, message)


class WorkerLink:
    """The daemon's end of one worker process."""

    def __init__(self, index: int, peer: Peer, process: asyncio.subprocess.Process) -> None:
        self.index = index
        self.peer = peer
        self.process = process
        self.bots = 0
        self.in_flight = 0  # bars sent, not yet handled
        self.relays: dict[tuple[str, SimOptions], StreamRelay] = {}
        self.relay_by_id: dict[int, StreamRelay] = {}
        self.reader: asyncio.Task[None] | None = None

    @property
    def closed(self) -> bool:
        return self.peer.closed

    async def ask(self, kind: str, *args: Any) -> Any:
        return await self.peer.ask(kind, *args)

    def tell(self, kind: str, *args: Any) -> None:
        if not self.peer.closed:
            self.peer.tell(kind, *args)


class BotWorkers:
    def __init__(
        self,
        count: int,
        *,
        store: Store,
        bus: EventBus,
        changes: StatusChanges,
        bots: Mapping[str, Any],
        risk: RiskService | None,
        persist_state: Callable[[str, str, dict[str, Any]], Awaitable[None]],
        on_bot_error: Callable[[Any], None],
        on_lost: Callable[[str], None],
    ) -> None:
        if count < 0:
            raise ValueError("daemon.bot_workers: expected 0 (off) or more worker processes")
        self.count = count
        self._store = store
        self._bus = bus
        self._changes = changes
        self._bots = bots
        self._risk = risk
        self._persist_state = persist_state
        self._on_bot_error = on_bot_error
        self._on_lost = on_lost
        self.hub: SimFeedHub | None = None
        self.writer: ActivityWriter | None = None
        self.links: list[WorkerLink] = []
        self._relay_ids = itertools.count(1)
        self._progress = asyncio.Event()  # a worker handled a bar (or ended)
        self._stopping = False

    # ------------------------------------------------------------------ placement
    def hosts(self, config: BotConfig) -> bool:
        """Whether a worker runs this bot (see the module docstring)."""
        if not self.count or config.venue is not VenueKind.PAPER:
            return False
        if config.feed is not FeedKind.SIM:
            return False
        return self._risk is None or not self._risk.knows(config.account_id)

    def place(self, bot_id: str) -> WorkerLink:
        """The worker with the fewest bots; among equals, one the bot's id picks. Bots made
        one after another with similar parameters (a sweep's winners) trade on the same bars:
        dealt in turn, every other one would land on the same worker."""
        turn = zlib.crc32(bot_id.encode())
        count = len(self.links)
        link = min(self.links, key=lambda w: (w.bots, (turn + w.index) % count))
        link.bots += 1
        return link

    def forget(self, shadow: BotShadow) -> None:
        """A deleted bot, or one that moved to the daemon's process, leaves its worker."""
        shadow.link.tell("forget", shadow.config.bot_id)
        shadow.link.bots -= 1

    def status(self) -> list[dict[str, Any]]:
        """Each worker as ``/api/health`` shows it."""
        return [
            {
                "index": link.index,
                "pid": link.process.pid,
                "alive": not link.closed,
                "bots": link.bots,
                "streams": len(link.relays),
            }
            for link in self.links
        ]

    # ------------------------------------------------------------------ lifecycle
    async def start(self, hub: SimFeedHub, writer: ActivityWriter) -> None:
        self.hub = hub
        self.writer = writer
        level = logging.getLevelName(logging.getLogger("algotrade").getEffectiveLevel())
        for index in range(self.count):
            self.links.append(await self._spawn(index, str(level)))
        _log.info(
            "%d bot worker processes (pids %s) host paper bots on sim prices",
            self.count,
            ", ".join(str(link.process.pid) for link in self.links),
        )

    async def _spawn(self, index: int, level: str) -> WorkerLink:
        ours, theirs = socket.socketpair()
        # The worker is born with SIGTERM and SIGINT blocked (a mask survives fork and exec):
        # until it ignores them, a stop sent to every process of the service (systemd's
        # default KillMode, a kill of the process group) would end it before its bots' books
        # reach the daemon. The daemon gets a signal sent meanwhile once the mask is back.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "algotrade.daemon.workers.host",
                "--fd",
                str(theirs.fileno()),
                "--index",
                str(index),
                "--log-level",
                level,
                pass_fds=(theirs.fileno(),),
                stdin=asyncio.subprocess.DEVNULL,
                # Its own session: a Ctrl-C in the daemon's terminal is the daemon's to act on.
                start_new_session=True,
            )
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            theirs.close()
        link_box: list[WorkerLink] = []
        peer = await Peer.over(
            ours,
            lambda kind, args: self._on_tell(link_box[0], kind, args),
            lambda kind, args: self._on_ask(link_box[0], kind, args),
            f"bot worker {index} (pid {process.pid})",
        )
        link = WorkerLink(index, peer, process)
        link_box.append(link)
        link.reader = asyncio.ensure_future(self._read(link))
        return link

    async def _read(self, link: WorkerLink) -> None:
        failure = ""
        try:
            await link.peer.run()
        except Exception as exc:  # a message this end could not take: the link is broken
            _log.exception("bot worker %d: connection failed", link.index)
            failure = f"its connection failed ({type(exc).__name__}: {exc}); "
            link.peer.close()
            link.process.kill()
        self._progress.set()
        if self._stopping:
            return
        code = await _exit_code(link.process)
        ended = "was stopped" if failure else "ended unexpectedly"
        reason = (
            f"bot worker {link.index} (pid {link.process.pid}) {ended} (exit code {code}); "
            f"{failure}its bots' books are stored up to their last commit: the daemon stops "
            "so that a restart restores them"
        )
        _log.error("%s", reason)
        self._on_lost(reason)

    async def stop(self, timeout: float = STOP_GRACE_S) -> None:
        """Close every worker (after its bots were shut down) and reap it; kill what does not
        end within ``timeout``."""
        self._stopping = True
        for link in self.links:
            link.peer.close()
        for link in self.links:
            try:
                await asyncio.wait_for(link.process.wait(), timeout=timeout)
            except TimeoutError:
                _log.warning("bot worker %d did not end in %.1f s: killed", link.index, timeout)
                link.process.kill()
                await link.process.wait()
            if link.reader is not None:
                await asyncio.gather(link.reader, return_exceptions=True)

    async def keep_pace(self) -> None:
        """Return once every worker has at most ``MAX_BARS_IN_FLIGHT`` bars unhandled."""
        while any(not w.closed and w.in_flight > MAX_BARS_IN_FLIGHT for w in self.links):
            self._progress.clear()
            await self._progress.wait()

    async def handled(self) -> None:
        """Return once every bar sent so far was handled (benchmarks, tests)."""
        while any(not w.closed and w.in_flight for w in self.links):
            self._progress.clear()
            await self._progress.wait()

    # ------------------------------------------------------------------ from the workers
    def _shadow(self, bot_id: str) -> BotShadow | None:
        return self._bots.get(bot_id)

    def _on_tell(self, link: WorkerLink, kind: str, args: tuple[Any, ...]) -> None:
        if kind == "bar_done":
            link.in_flight -= 1
            relay = link.relay_by_id.get(args[0])
            if relay is not None:
                relay.handled(self._bus)
                self._changes.count += 1
            self._progress.set()
        elif kind == "activity":
            self._on_activity(args[0])
        elif kind == "bot_error":
            bot_id, runtime, last_error = args
            shadow = self._shadow(bot_id)
            if shadow is not None:
                shadow.mirror_state("error", {**runtime, "last_error": last_error})
                self._on_bot_error(shadow)
        elif kind == "unsubscribe":
            self._unsubscribe(link, args[0])
        elif kind == "log":
            record = logging.makeLogRecord(args[0])
            logger = logging.getLogger(record.name)
            if logger.isEnabledFor(record.levelno):
                logger.handle(record)
        else:
            _log.error("bot worker %d: unknown message %r", link.index, kind)

    def _on_activity(self, items: list[tuple[Any, ...]]) -> None:
        writer = self.writer
        assert writer is not None
        for bot_id, activity, books, order_count in items:
            shadow = self._shadow(bot_id)
            if shadow is None:
                continue  # deleted meanwhile: the store forgets it anyway
            shadow.booked(activity, books, order_count)
            writer.mark_dirty(shadow)

    async def _on_ask(self, link: WorkerLink, kind: str, args: tuple[Any, ...]) -> Any:
        store = self._store
        if kind == "persist_state":
            bot_id, state, runtime = args
            await self._persist_state(bot_id, state, runtime)
            shadow = self._shadow(bot_id)
            if shadow is not None:
                shadow.mirror_state(state, runtime)
                self._bus.publish(Topic.STATUS, bot_id, shadow.status().model_dump())
            return None
        if kind == "subscribe":
            return self._subscribe(link, *args)
        if kind == "open_orders":
            return await asyncio.to_thread(store.open_orders, args[0])
        if kind == "max_order_seq":
            return await asyncio.to_thread(store.max_order_seq, *args)
        if kind == "open_trade_ids":
            return await asyncio.to_thread(store.open_order_trade_ids, args[0])
        raise ValueError(f"unknown request {kind!r}")

    def _subscribe(self, link: WorkerLink, config: BotConfig, warmup: int) -> tuple[int, list[Bar]]:
        hub = self.hub
        assert hub is not None
        options = SimOptions.parse(config.feed_options)
        key = (config.symbol, options)
        self._unsubscribe(link, config.bot_id)
        relay = link.relays.get(key)
        if relay is None:
            relay = StreamRelay(link, next(self._relay_ids))
            link.relays[key] = relay
            link.relay_by_id[relay.id] = relay
        history = hub.subscribe(relay.hub_id, config.symbol, options, relay.on_bar, warmup)
        relay.bots.add(config.bot_id)
        shadow = self._shadow(config.bot_id)
        if shadow is not None:
            shadow.attach(relay)
        return relay.id, history

    def _unsubscribe(self, link: WorkerLink, bot_id: str) -> None:
        for key, relay in list(link.relays.items()):
            if bot_id in relay.bots:
                relay.bots.discard(bot_id)
                shadow = self._shadow(bot_id)
                if shadow is not None and shadow.relay is relay:
                    shadow.attach(None)
                if not relay.bots and self.hub is not None:
                    self.hub.unsubscribe(relay.hub_id)
                    del link.relays[key]
                    del link.relay_by_id[relay.id]


async def _exit_code(process: asyncio.subprocess.Process) -> int | str:
    try:
        return await asyncio.wait_for(process.wait(), timeout=STOP_GRACE_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        return "none: it closed its connection and was killed"
