"""A bot worker process: runs the daemon's bots it is given, as the daemon would.

``python -m algotrade.daemon.workers.host --fd N --index I`` is started by the daemon
(``workers.pool``) with one end of a socket pair. Each bot here is the daemon's own
``BotActor`` (engine, strategy, paper venue, books); what it needs of the daemon goes over the
socket through its ``ActorContext``:

- its bars: the daemon's sim stream sends each bar once to this process, which hands it to
  its bots in subscription order, then tells the daemon what they booked (the activity the
  daemon's writer stores before anything is acknowledged) and that the bar was handled;
- its state changes are stored by the daemon (``persist_state``: awaited, so a command is
  acknowledged only once its state is committed, as in the daemon);
- its stored orders and order numbering are read from the daemon's store.

The process has no store, no API and no risk engine of its own: the daemon only places here
bots whose account the risk engine does not guard. It leaves Ctrl-C and SIGTERM to the daemon
(which stops it) and ends when the daemon's end of the socket closes.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
import sys
from typing import Any

from algotrade.core.events import Bar
from algotrade.daemon.actor import BotActor
from algotrade.daemon.bot_books import movable_books
from algotrade.daemon.bot_config import BotConfig
from algotrade.daemon.bot_handle import ActorContext, Command
from algotrade.daemon.bus import EventBus
from algotrade.daemon.heap import settle_after_start
from algotrade.daemon.supervisor import TaskSupervisor
from algotrade.daemon.workers.wire import Peer

_log = logging.getLogger("algotrade.daemon.workers")
_FORMATTER = logging.Formatter()
# Bots' activity per message: the daemon unpickles a message in one go on its event loop
# (~20 µs a bot that traded), so a message stays within a couple of milliseconds.
ACTIVITY_CHUNK = 64


class _ForwardLogs(logging.Handler):
    """Every log record of this process goes to the daemon's logging (its files, counters)."""

    def __init__(self, host: WorkerHost) -> None:
        super().__init__()
        self._host = host

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + _FORMATTER.formatException(record.exc_info)
            # What a record of the daemon's own has, but the message already formatted.
            fields = {
                "name": record.name,
                "levelno": record.levelno,
                "levelname": record.levelname,
                "pathname": record.pathname,
                "filename": record.filename,
                "module": record.module,
                "lineno": record.lineno,
                "funcName": record.funcName,
                "created": record.created,
                "msecs": record.msecs,
                "msg": message,
                "bot_id": getattr(record, "bot_id", None),
                "process": record.process,
                "processName": f"bot-worker-{self._host.index}",
            }
            self._host.tell_log(fields)
        except Exception:  # logging must never take the process down
            self.handleError(record)


class _WorkerFeed:
    """A bot's sim feed in this process: the daemon's stream, relayed here."""

    def __init__(self, host: WorkerHost, config: BotConfig, handler: Any) -> None:
        self._host = host
        self._config = config
        self._handler = handler

    async def start(self, warmup: int) -> list[Bar]:
        return await self._host.subscribe(self._config, self._handler, warmup)

    def stop(self) -> None:
        self._host.unsubscribe(self._config.bot_id)


class WorkerHost:
    def __init__(self, index: int) -> None:
        self.index = index
        self.peer: Peer | None = None
        self.supervisor = TaskSupervisor()
        self.actors: dict[str, BotActor] = {}
        self._dirty: dict[str, BotActor] = {}
        self._streams: dict[int, dict[str, Any]] = {}  # stream id → bot id → bar handler
        self._stream_of: dict[str, int] = {}
        self._send_due = False  # a send_activity is scheduled
        self._context = ActorContext(
            bus=EventBus(),  # nobody listens here: the daemon publishes what is committed
            make_feed=lambda config, handler: _WorkerFeed(self, config, handler),
            mark_dirty=self._mark_dirty,
            persist_state=self._persist_state,
            load_open_orders=lambda bot_id: self._daemon.ask("open_orders", bot_id),
            max_order_seq=lambda bot_id, prefix: self._daemon.ask("max_order_seq", bot_id, prefix),
            on_error=self._on_error,
            load_open_order_trade_ids=lambda bot_id: self._daemon.ask("open_trade_ids", bot_id),
            spawn=self.supervisor.spawn,
        )

    @property
    def _daemon(self) -> Peer:
        assert self.peer is not None
        return self.peer

    # ------------------------------------------------------------------ the daemon's asks
    async def on_ask(self, kind: str, args: tuple[Any, ...]) -> Any:
        if kind == "adopt":
            self._adopt(*args)
            return None
        if kind == "command":
            return await self._command(*args)
        if kind == "recent_bars":
            bot_id, limit = args
            return await self.actors[bot_id].latest_bars(limit)
        if kind == "release":
            return await self._release(*args)
        raise ValueError(f"worker {self.index}: unknown request {kind!r}")

    def on_tell(self, kind: str, args: tuple[Any, ...]) -> None:
        if kind == "bar":
            self._on_bar(*args)
        elif kind == "interrupt_start":
            actor = self.actors.get(args[0])
            if actor is not None:
                actor.interrupt_start()
        elif kind == "persistence_failed":
            bot_id, message = args
            actor = self.actors.get(bot_id)
            if actor is not None:
                actor.persistence_failed(RuntimeError(message))
                self.send_activity()
        elif kind == "forget":
            self._forget(args[0])
        else:
            _log.error("worker %d: unknown message %r", self.index, kind)

    def _adopt(self, bot_id: str, config: BotConfig, state: Any, books: dict[str, Any]) -> None:
        actor = BotActor(config, self._context, state=state, **books)
        actor.start_task()
        self.actors[config.bot_id] = actor

    async def _release(self, bot_id: str) -> dict[str, Any]:
        """The books of a stopped bot, shut down, that moves to the daemon's process (its
        config changed); it is forgotten here."""
        actor = self.actors[bot_id]
        books = movable_books(actor)
        self._forget(bot_id)
        return books

    def _forget(self, bot_id: str) -> None:
        self.unsubscribe(bot_id)
        self.actors.pop(bot_id, None)
        self._dirty.pop(bot_id, None)

    async def _command(self, bot_id: str, command: Command, payload: Any) -> tuple[Any, ...]:
        actor = self.actors[bot_id]
        try:
            result = await actor.submit(command, payload)
        finally:
            # What the command booked reaches the daemon before its reply does.
            self.send_activity()
        if command is Command.UPDATE_CONFIG:
            return result, actor.state, _order_count(actor)
        # The state as the command left it (the status built when it ended): the actor may
        # have taken the next command already.
        return None, result.state, _order_count(actor)

    # ------------------------------------------------------------------ bars
    async def subscribe(self, config: BotConfig, handler: Any, warmup: int) -> list[Bar]:
        stream, history = await self._daemon.ask("subscribe", config, warmup)
        self.unsubscribe(config.bot_id, tell=False)
        self._streams.setdefault(stream, {})[config.bot_id] = handler
        self._stream_of[config.bot_id] = stream
        return list(history)

    def unsubscribe(self, bot_id: str, *, tell: bool = True) -> None:
        stream = self._stream_of.pop(bot_id, None)
        if stream is None:
            return
        self._streams[stream].pop(bot_id, None)
        if tell and self.peer is not None and not self.peer.closed:
            self.peer.tell("unsubscribe", bot_id)

    def _on_bar(self, stream: int, bar: Bar) -> None:
        for handler in list(self._streams.get(stream, {}).values()):
            handler(bar)  # a bot's handler catches its own errors
        # Every bot decided: said at once. What they booked goes to the daemon's writer once
        # the bars already here are handled (a command, a state change or an error sends it
        # before anything else, see send_activity's callers).
        self._daemon.tell("bar_done", stream)
        if not self._send_due:
            self._send_due = True
            asyncio.get_running_loop().call_soon(self.send_activity)

    # ------------------------------------------------------------------ to the daemon
    def _mark_dirty(self, actor: BotActor) -> None:
        self._dirty[actor.config.bot_id] = actor

    def send_activity(self) -> None:
        """What every bot booked since the last send, as the records the daemon stores."""
        self._send_due = False
        if not self._dirty:
            return
        items = []
        for bot_id, actor in self._dirty.items():
            activity, books = actor.take_activity()
            items.append((bot_id, activity, books, _order_count(actor)))
            if len(items) == ACTIVITY_CHUNK:
                self._daemon.tell("activity", items)
                items = []
        self._dirty.clear()
        if items:
            self._daemon.tell("activity", items)

    async def _persist_state(self, bot_id: str, state: str, runtime: dict[str, Any]) -> None:
        self.send_activity()
        await self._daemon.ask("persist_state", bot_id, state, runtime)

    def _on_error(self, actor: BotActor) -> None:
        self.send_activity()
        self._daemon.tell("bot_error", actor.config.bot_id, dict(actor.runtime), actor.last_error)

    def tell_log(self, fields: dict[str, Any]) -> None:
        peer = self.peer
        if peer is not None and not peer.closed:
            peer.tell("log", fields)

    # ------------------------------------------------------------------ lifecycle
    async def serve(self, sock: socket.socket) -> None:
        self.peer = await Peer.over(sock, self.on_tell, self.on_ask, f"worker {self.index}")
        # The daemon's collector policy: default thresholds collect every ~700 allocations,
        # and each young collection walks the newest orders and fills of every bot here.
        settle_after_start()
        await self.peer.run()  # until the daemon closes its end
        await self.supervisor.shutdown(timeout=2.0)


def _order_count(actor: BotActor) -> int:
    engine = actor.engine
    return max(actor.order_count, engine.order_sequence if engine is not None else 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="algotrade bot worker (started by the daemon)")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    # The daemon stops this process by closing the socket, after its bots' books are sent.
    # It started it with these signals blocked; ignoring them drops any sent meanwhile.
    stops = {signal.SIGINT, signal.SIGTERM}
    for signum in stops:
        signal.signal(signum, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, stops)
    sock = socket.socket(fileno=args.fd)
    host = WorkerHost(args.index)
    root = logging.getLogger("algotrade")
    root.setLevel(args.log_level)
    root.addHandler(_ForwardLogs(host))
    root.propagate = False
    asyncio.run(host.serve(sock))
    return 0


if __name__ == "__main__":
    sys.exit(main())
