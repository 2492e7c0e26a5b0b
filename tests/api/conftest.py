"""Fixtures for the API tests: a fake service with one stopped bot, an app, a TestClient."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from algotrade.api import create_app
from testkit.api_harness import VERSION, TestClient, make_keys, make_test_client
from testkit.fake_bot_service import FakeBotService, make_config


@pytest.fixture
def service() -> FakeBotService:
    service = FakeBotService()
    service.add_bot(make_config("alpha"))
    return service


@pytest.fixture
def app(service: FakeBotService) -> FastAPI:
    return create_app(service, make_keys(), version=VERSION)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    # As a context manager: lifespan runs and `client.portal` reaches the app's event loop.
    with make_test_client(app) as client:
        yield client
