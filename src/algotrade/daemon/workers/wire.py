"""The connection between the daemon and one of its bot worker processes.

Both ends speak the same framing over one stream socket (a ``socketpair`` made by the daemon,
so nothing listens on a port): a 4-byte big-endian length, then a pickled tuple. Pickle is
safe here because both ends are this program, started by the daemon itself; nothing else can
reach the socket.

Two kinds of message:

- a *tell* (``kind``, args): handled by the receiver's ``on_tell`` in the order it arrived,
  inside the read loop (bars, booked activity, bar acknowledgements: their order matters);
- an *ask* (request id, ``kind``, args): the receiver's ``on_ask`` runs as its own task (it
  may ask the other side in turn, e.g. a bot's start asks the daemon for its stored orders),
  and its result or exception travels back as a reply.

Everything one end sends arrives in the order it was sent, so a worker that tells the daemon
what a command booked and then replies to the command is heard in that order.
"""

from __future__ import annotations

import asyncio
import copyreg
import dataclasses
import io
import itertools
import logging
import operator
import pickle
import struct
from collections.abc import Awaitable, Callable
from typing import Any

from algotrade.core.portfolio import Position
from algotrade.daemon.bot_books import BooksView
from algotrade.store.records import (
    AccountRecord,
    Activity,
    EquityRecord,
    EventRecord,
    FillRecord,
    OrderRecord,
    PositionRecord,
)

_log = logging.getLogger("algotrade.daemon.workers")
_LENGTH = struct.Struct(">I")
_TELL, _ASK, _REPLY = 0, 1, 2


def _by_fields(cls: type) -> Callable[[Any], tuple[Any, ...]]:
    """Pickle a frozen dataclass as its constructor and field values: a quarter of the
    default's cost (which pickles a slotted object's state as a dict of every slot)."""
    values = operator.attrgetter(*(f.name for f in dataclasses.fields(cls)))
    return lambda obj: (cls, values(obj))


def _restore_slots(cls: Any, values: tuple[Any, ...]) -> Any:
    obj = cls.__new__(cls)
    for name, value in zip(cls.__slots__, values, strict=True):
        setattr(obj, name, value)
    return obj


def _by_slots(cls: Any) -> Callable[[Any], tuple[Any, ...]]:
    """Pickle a slotted class (not a dataclass) as its slots' values, restored as they were
    (its constructor may derive them: a position's cost from an average price)."""
    values = operator.attrgetter(*cls.__slots__)
    return lambda obj: (_restore_slots, (cls, values(obj)))


# What the workers send on every trading bar: their records, not the generic way.
_DISPATCH = copyreg.dispatch_table.copy()
_DISPATCH[Position] = _by_slots(Position)
for _record in (
    Activity,
    AccountRecord,
    BooksView,
    EquityRecord,
    EventRecord,
    FillRecord,
    OrderRecord,
    PositionRecord,
):
    _DISPATCH[_record] = _by_fields(_record)


def dumps(message: Any) -> bytes:
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _DISPATCH
    pickler.dump(message)
    return buffer.getvalue()


OnTell = Callable[[str, tuple[Any, ...]], None]
OnAsk = Callable[[str, tuple[Any, ...]], Awaitable[Any]]


class PeerClosed(ConnectionError):
    """The other end of a worker connection is gone."""


class RemoteError(RuntimeError):
    """An exception raised on the other end that could not travel as itself."""


class Peer:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        on_tell: OnTell,
        on_ask: OnAsk,
        name: str,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._on_tell = on_tell
        self._on_ask = on_ask
        self.name = name
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._asks: set[asyncio.Task[None]] = set()
        self.closed = False

    @classmethod
    async def over(
        cls, sock: Any, on_tell: OnTell, on_ask: OnAsk, name: str, limit: int = 2**24
    ) -> Peer:
        reader, writer = await asyncio.open_connection(sock=sock, limit=limit)
        return cls(reader, writer, on_tell, on_ask, name)

    # ------------------------------------------------------------------ sending
    def tell(self, kind: str, *args: Any) -> None:
        self._send((_TELL, kind, args))

    async def ask(self, kind: str, *args: Any) -> Any:
        request = next(self._ids)
        reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[request] = reply
        try:
            self._send((_ASK, request, kind, args))
            return await reply
        finally:
            self._waiting.pop(request, None)

    async def drain(self) -> None:
        """Wait until what was sent is handed to the kernel (back-pressure on big sends)."""
        if not self.closed:
            await self._writer.drain()

    def _send(self, message: tuple[Any, ...]) -> None:
        if self.closed:
            raise PeerClosed(f"{self.name}: connection closed")
        body = dumps(message)
        self._writer.write(_LENGTH.pack(len(body)) + body)

    # ------------------------------------------------------------------ receiving
    async def run(self) -> None:
        """Read and handle messages until the other end closes; then fail every ask still
        waiting with ``PeerClosed``. The loop gets a turn between messages: reading what is
        already buffered never waits, and a burst of messages must not hold it."""
        try:
            while True:
                try:
                    head = await self._reader.readexactly(_LENGTH.size)
                    body = await self._reader.readexactly(_LENGTH.unpack(head)[0])
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                self._handle(pickle.loads(body))
                await asyncio.sleep(0)
        finally:
            self._close()

    def _handle(self, message: tuple[Any, ...]) -> None:
        tag = message[0]
        if tag == _TELL:
            self._on_tell(message[1], message[2])
        elif tag == _ASK:
            task = asyncio.ensure_future(self._answer(message[1], message[2], message[3]))
            self._asks.add(task)
            task.add_done_callback(self._asks.discard)
        else:
            reply = self._waiting.get(message[1])
            if reply is not None and not reply.done():
                if message[2]:
                    reply.set_result(message[3])
                else:
                    reply.set_exception(message[3])

    async def _answer(self, request: int, kind: str, args: tuple[Any, ...]) -> None:
        try:
            result = await self._on_ask(kind, args)
        except asyncio.CancelledError:
            if not self.closed:
                self._reply(request, False, RemoteError(f"{kind}: cancelled"))
            raise
        except Exception as exc:
            if not self.closed:
                self._reply(request, False, exc)
            return
        if not self.closed:
            self._reply(request, True, result)

    def _reply(self, request: int, ok: bool, value: Any) -> None:
        try:
            self._send((_REPLY, request, ok, value))
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            # The value (an exception of a library, say) cannot be pickled: say what it was.
            text = f"{type(value).__name__}: {value}" if not ok else f"unsendable result: {exc}"
            self._send((_REPLY, request, False, RemoteError(text)))

    def _close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for reply in self._waiting.values():
            if not reply.done():
                reply.set_exception(PeerClosed(f"{self.name}: connection closed"))
        for task in list(self._asks):
            task.cancel()
        self._writer.close()

    def close(self) -> None:
        """Close this end (the other end's ``run`` returns)."""
        self._close()
