"""Schemathesis against a REAL daemon process (real service, real SQLite store): no 5xx.

tests/api/test_openapi_fuzz.py fuzzes the API over a fake service; this one makes sure the
real service layer underneath never turns odd input into a server error either.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from testkit.api_harness import ADMIN, ADMIN_KEY, TRADER_KEY
from testkit.daemon_process import DaemonProcess

pytestmark = pytest.mark.slow
KNOWN_BOTS = ("fuzz-a", "fuzz-b")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    data: Path = tmp_path_factory.mktemp("fuzz") / "data"
    process = DaemonProcess(
        data,
        env={"ALGOTRADE_API_KEYS": f"admin:{ADMIN_KEY},trader:{TRADER_KEY}"},
        api_key=ADMIN_KEY,
    ).start()
    for i, bot_id in enumerate(KNOWN_BOTS):
        process.ok(
            "POST",
            "/api/bots",
            json={
                "bot_id": bot_id,
                "symbol": "SIM-F",
                "strategy": "ma_crossover",
                "params": {"fast": 2, "slow": 4},
                "feed_options": {"seed": i, "tick_seconds": 0.05},
            },
        )
    process.ok("PUT", f"/api/bots/{KNOWN_BOTS[0]}/start")
    yield process
    code, _, stderr = process.terminate()
    assert code == 0, stderr
    assert "Traceback" not in stderr, stderr


def test_real_daemon_has_no_server_errors(daemon: DaemonProcess) -> None:
    # schemathesis.pytest.from_fixture does not work with pytest 9, so each operation's case
    # strategy is driven by hypothesis here directly.
    schema = schemathesis.openapi.from_url(f"{daemon.url}/openapi.json", headers=ADMIN)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 14

    for operation in operations:

        @given(case=operation.as_strategy(), known=st.sampled_from((None, *KNOWN_BOTS)))
        @settings(
            max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def fuzz(case: Any, known: str | None) -> None:
            if known is not None and case.path_parameters and "bot_id" in case.path_parameters:
                case.path_parameters["bot_id"] = known
            case.call_and_validate(headers=ADMIN, checks=[not_a_server_error], timeout=30)

        fuzz()
