"""What the fake venues share: an ASGI app served by uvicorn on 127.0.0.1 from a daemon thread,
and WebSocket connections fed from any thread through a queue on the server's loop.

A fake venue subclasses ``ThreadedServer`` (``_label`` names it in errors and its thread),
builds ``self.app`` and sets ``self._port`` (0: a free port) in its constructor; it gets
``start``/``stop``, the context manager, ``port``, ``base_url``, ``_on_loop``, ``_hold`` (a
reply delay that ``stop`` cuts short) and the reply gate (``hold_replies``/``release_replies``/
``wait_held``: the fake's HTTP handlers pass ``_gate``, or ``_trickled``). ``stop`` calls
``_drop_websockets``: override it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from typing import Any, ClassVar, Protocol, Self

import uvicorn
from starlette.responses import Response, StreamingResponse
from starlette.websockets import WebSocket

__all__ = ["QueuedSocket", "ThreadedServer", "close_sockets", "serve_texts"]


class ThreadedServer:
    """uvicorn in a daemon thread; see the module docstring."""

    _label: ClassVar[str] = "fake venue"  # e.g. "fake Bybit"
    app: Any
    _port: int = 0
    _server: uvicorn.Server | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    #: set by ``stop`` so replies held on purpose (delay injection) are cut short
    _stopping: asyncio.Event | None = None
    #: closed (not set) while replies are held; None while they are not
    _reply_gate: asyncio.Event | None = None
    _held = 0  # requests that reached the closed gate since ``hold_replies``
    _held_changed: threading.Condition | None = None
    _trickle_s: float | None = None

    def start(self) -> Self:
        """Serve on 127.0.0.1 (a free port, or the port of a previous start: URLs survive)."""
        if self._thread is not None:
            raise RuntimeError(f"the {self._label} is already running")
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self._port,
            # Leave the process's logging alone (other tests configure uvicorn's loggers).
            log_level=None,
            log_config=None,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)
        loop = asyncio.new_event_loop()
        thread = threading.Thread(
            target=loop.run_until_complete,
            args=(server.serve(),),
            name=self._label.lower().replace(" ", "-"),
            daemon=True,
        )
        self._server, self._loop, self._thread = server, loop, thread
        self._stopping = asyncio.Event()
        self._held_changed = threading.Condition()
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self._thread = None
                raise RuntimeError(f"the {self._label} did not start")
            time.sleep(0.005)
        self._port = int(server.servers[0].sockets[0].getsockname()[1])
        return self

    def stop(self) -> None:
        """Drop every connection, stop uvicorn and join its thread. Idempotent."""
        server, loop, thread = self._server, self._loop, self._thread
        if server is None or loop is None or thread is None:
            return
        if thread.is_alive():
            with contextlib.suppress(Exception):
                self._on_loop(self._shutdown())
        server.should_exit = True
        thread.join(timeout=10)
        if not thread.is_alive():
            loop.close()
        self._server = self._loop = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError(f"the {self._label} has not started")
        return self._port

    @property
    def base_url(self) -> str:
        """The REST base."""
        return f"http://127.0.0.1:{self.port}"

    def _on_loop(self, coro: Coroutine[Any, Any, Any], timeout: float = 5.0) -> Any:
        """Run ``coro`` on the server's loop and wait for its result (from any other thread)."""
        if self._loop is None:
            coro.close()
            raise RuntimeError(f"the {self._label} is not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def _protocols(self) -> list[Any]:
        """uvicorn's live connection protocols (HTTP and WebSocket)."""
        return list(self._server.server_state.connections) if self._server else []

    async def _shutdown(self) -> None:
        """Release held replies, drop the WebSockets and cut every HTTP connection (even
        mid-reply) so uvicorn exits at once."""
        if self._stopping is not None:
            self._stopping.set()
        if self._reply_gate is not None:
            self._reply_gate.set()
        await self._drop_websockets()
        for protocol in self._protocols():
            transport = getattr(protocol, "transport", None)
            if transport is not None:
                transport.abort()

    async def _drop_websockets(self) -> None:
        """Close every WebSocket of the venue on ``stop`` (none by default)."""

    async def _hold(self, seconds: float) -> None:
        """Hold a reply ``seconds``, or until ``stop``."""
        if seconds and self._stopping is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), seconds)

    # ------------------------------------------------------------------ reply gate

    def hold_replies(self, trickle_s: float | None = None) -> None:
        """Hold every HTTP request that arrives from now on, unanswered (nothing is done with
        it yet), until ``release_replies`` or ``stop``: a venue that never answers, or answers
        slowly, moved on by the test rather than by a clock. With ``trickle_s`` the reply's
        status and headers go out at once and its body waits, a blank sent every ``trickle_s``
        (JSON allows leading white space): slow, but never long enough for the client's read
        timeout (the handlers that support it pass ``_trickled``)."""

        async def close() -> None:
            self._reply_gate = asyncio.Event()

        assert self._held_changed is not None, f"the {self._label} has not started"
        with self._held_changed:
            self._held = 0
        self._trickle_s = trickle_s
        self._on_loop(close())

    def release_replies(self) -> None:
        """Let the held requests (and every later one) through."""

        async def open_gate() -> None:
            gate, self._reply_gate = self._reply_gate, None
            if gate is not None:
                gate.set()

        self._on_loop(open_gate())

    def wait_held(self, count: int, timeout: float = 30.0) -> None:
        """Until ``count`` requests have reached the gate since ``hold_replies``."""
        assert self._held_changed is not None, f"the {self._label} has not started"
        with self._held_changed:
            if not self._held_changed.wait_for(lambda: self._held >= count, timeout):
                raise AssertionError(
                    f"the {self._label} held {self._held} requests, not {count}, in {timeout} s"
                )

    @property
    def held(self) -> int:
        """Requests that reached the gate since ``hold_replies``."""
        return self._held

    def _closed_gate(self) -> asyncio.Event | None:
        """The gate a request arriving now waits at (counted as held), or None."""
        gate = self._reply_gate
        if gate is not None:
            assert self._held_changed is not None
            with self._held_changed:
                self._held += 1
                self._held_changed.notify_all()
        return gate

    async def _gate(self) -> None:
        """Wait here while replies are held (the fake's HTTP handlers call it first)."""
        gate = self._closed_gate()
        if gate is not None:
            await gate.wait()

    def _trickled(self, answer: Callable[[], Awaitable[Response]]) -> Response | None:
        """While replies are held with ``trickle_s``: a 200 whose body trickles until they are
        released, then is ``answer``'s body (its status is lost); otherwise None."""
        trickle_s = self._trickle_s
        if self._reply_gate is None or trickle_s is None:
            return None
        gate = self._closed_gate()

        async def body() -> AsyncIterator[bytes]:
            while gate is not None and not gate.is_set():
                yield b" "
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(gate.wait(), trickle_s)
            yield bytes((await answer()).body)

        return StreamingResponse(body(), media_type="application/json")


class _Socket(Protocol):
    @property
    def client(self) -> tuple[str, int] | None: ...

    @property
    def websocket(self) -> WebSocket: ...


async def close_sockets(
    server: ThreadedServer, connections: Iterable[_Socket], abrupt: bool, code: int = 1011
) -> None:
    """Close WebSocket ``connections`` of ``server``: ``abrupt`` aborts the TCP transport (no
    close frame: the client sees 1006), otherwise a close frame with ``code`` is sent."""
    protocols = server._protocols()
    for connection in connections:
        transport = None
        if abrupt:
            for protocol in protocols:
                if getattr(protocol, "client", None) == connection.client:
                    transport = getattr(protocol, "transport", None)
        if transport is not None:
            transport.abort()
        else:
            with contextlib.suppress(Exception):
                await connection.websocket.close(code=code)


class QueuedSocket:
    """An accepted WebSocket whose outgoing frames are queued on the server's loop, so ``send``
    may be called from any thread and frames keep the order in which they were sent."""

    def __init__(self, websocket: WebSocket, loop: asyncio.AbstractEventLoop) -> None:
        self.websocket = websocket
        self.loop = loop
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        client = websocket.client
        self.client = (client.host, client.port) if client else None

    def send(self, message: dict[str, Any] | str) -> None:
        """Queue a frame; callable from any thread."""
        text = message if isinstance(message, str) else json.dumps(message)
        with contextlib.suppress(RuntimeError):  # the loop is closed: the server stopped
            self.loop.call_soon_threadsafe(self.queue.put_nowait, text)

    async def write_loop(self) -> None:
        with contextlib.suppress(Exception):  # the socket closed under us
            while True:
                await self.websocket.send_text(await self.queue.get())


async def serve_texts(
    connection: QueuedSocket,
    idle_timeout_s: float,
    on_text: Callable[[str], None],
    on_idle: Callable[[], None] = lambda: None,
) -> None:
    """Run ``connection``'s writer and hand every text frame received to ``on_text`` until the
    client leaves or the socket dies; after ``idle_timeout_s`` without a frame, call
    ``on_idle`` and close with 1000 "idle timeout". The writer is cancelled on the way out."""
    websocket = connection.websocket
    writer = asyncio.create_task(connection.write_loop())
    try:
        while True:
            try:
                message = await asyncio.wait_for(websocket.receive(), idle_timeout_s)
            except TimeoutError:
                on_idle()
                with contextlib.suppress(Exception):
                    await websocket.close(code=1000, reason="idle timeout")
                return
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None and message.get("bytes") is not None:
                text = message["bytes"].decode(errors="replace")
            if text is not None:
                on_text(text)
    except Exception:  # the socket died under us
        return
    finally:
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await writer
