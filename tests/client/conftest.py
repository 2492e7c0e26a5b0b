"""Fixtures for the client tests: a real uvicorn server over a fake service."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from testkit.api_harness import ServerThread, running_server
from testkit.fake_bot_service import FakeBotService, make_config


@pytest.fixture
def service() -> FakeBotService:
    service = FakeBotService()
    service.add_bot(make_config("alpha"))
    return service


@pytest.fixture
def server(service: FakeBotService) -> Iterator[ServerThread]:
    with running_server(service) as server:
        yield server


@pytest.fixture
def dead_url() -> Iterator[str]:
    """A loopback URL where nothing listens: the port is bound (so nobody else takes it) but
    not listening, so connections are refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
