"""Helpers to exercise the API: keys, an in-process TestClient, a real uvicorn server."""

from __future__ import annotations

import asyncio
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import uvicorn
from fastapi import FastAPI

from algotrade.api import ApiKeys, Role, create_app

with warnings.catch_warnings():
    # Starlette nags that its TestClient should move to httpx2; the TestClient still works.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

ADMIN_KEY = "admin-key-0123456789abcdef"
TRADER_KEY = "trader-key-0123456789abcdef"
ADMIN = {"X-API-Key": ADMIN_KEY}
TRADER = {"X-API-Key": TRADER_KEY}
VERSION = "9.8.7-test"

T = TypeVar("T")

__all__ = [
    "ADMIN",
    "ADMIN_KEY",
    "TRADER",
    "TRADER_KEY",
    "VERSION",
    "ServerThread",
    "TestClient",
    "make_keys",
    "make_test_client",
    "on_app_loop",
    "running_server",
]


def make_keys() -> ApiKeys:
    return ApiKeys([(Role.ADMIN, ADMIN_KEY), (Role.TRADER, TRADER_KEY)])


def make_test_client(app: FastAPI) -> TestClient:
    # raise_server_exceptions=False: the app must answer every error itself, like in production.
    return TestClient(app, raise_server_exceptions=False)


def on_app_loop(client: TestClient, function: Callable[..., T], *args: Any) -> T:
    """Run ``function`` on the app's event loop (the bus and the fake are not thread-safe).
    Needs the client entered as a context manager, which starts that loop."""
    assert client.portal is not None, "use the TestClient as a context manager"
    return client.portal.call(function, *args)


class ServerThread:
    """A real uvicorn server on a free loopback port, in a thread with its own event loop."""

    def __init__(self, app: FastAPI) -> None:
        # log_config/log_level None: uvicorn must not reconfigure the process's logging
        # (uvicorn.access would stop propagating, breaking other tests' log capture).
        config = uvicorn.Config(
            app, host="127.0.0.1", port=0, lifespan="on", log_config=None, log_level=None
        )
        self.server = uvicorn.Server(config)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="uvicorn-test", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.serve())

    @property
    def port(self) -> int:
        return int(self.server.servers[0].sockets[0].getsockname()[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self.loop.close()

    def call(self, function: Callable[[], T]) -> T:
        """Run ``function`` on the server's loop (the fake service is not thread-safe)."""

        async def run() -> T:
            return function()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout=10)


@contextmanager
def running_server(service: Any, auth: ApiKeys | None = None) -> Iterator[ServerThread]:
    app = create_app(service, make_keys() if auth is None else auth, version=VERSION)
    server = ServerThread(app)
    server.start()
    try:
        yield server
    finally:
        server.stop()
