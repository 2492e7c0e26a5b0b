"""Schemathesis against the OpenAPI document: no input, valid or not, may cause a 5xx."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from algotrade.api import create_app
from algotrade.daemon.status import BotState
from testkit.api_harness import ADMIN, VERSION, make_keys
from testkit.fake_bot_service import FakeBotService, make_config

KNOWN_BOTS = ("alpha", "runner", "sleeper")


def _service() -> FakeBotService:
    service = FakeBotService()
    service.add_bot(make_config("alpha"))
    service.add_bot(make_config("runner"), BotState.RUNNING)
    service.add_bot(make_config("sleeper"), BotState.PAUSED)
    for i in range(30):
        service.add_order("alpha", {"id": i, "price": "1.25"})
        service.add_fill("alpha", {"trade_id": f"t{i}"})
        service.add_equity("alpha", {"ts": i, "equity": "10000"})
    return service


# One app for the whole module: state carries across cases (bots get created, started,
# deleted), which reaches more branches than a fresh service per case.
app = create_app(_service(), make_keys(), version=VERSION)
# Sign-in with random keys would lock this client's address out (429 for every later case);
# tests/api/test_api_session.py sends it bad bodies instead.
schema = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(
    method="POST", path="/api/session"
)


@schema.given(known=st.sampled_from((None, *KNOWN_BOTS)))
@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,  # reproducible runs; a failure prints the reproducing call
)
def test_no_server_errors(case: schemathesis.Case[Any], known: str | None) -> None:
    # Random ids almost never exist; steer some cases to real bots so the routes do real work.
    if known is not None and case.path_parameters and "bot_id" in case.path_parameters:
        case.path_parameters["bot_id"] = known
    case.call_and_validate(headers=ADMIN, checks=[not_a_server_error])
