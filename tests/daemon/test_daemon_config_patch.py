"""PATCH /api/bots/{id}/config with bodies a fuzzing reviewer sends, against a real daemon: each
is refused with one line naming the field and what was expected, and the stored config is
unchanged afterwards, also after a restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from testkit.api_harness import ADMIN_KEY, TRADER_KEY
from testkit.daemon_process import DaemonProcess

BOT = {
    "bot_id": "patched",
    "symbol": "SIM-BTC",
    "strategy": "ma_crossover",
    "params": {"fast": 2, "slow": 4},
    "feed_options": {"seed": 1, "tick_seconds": 3600},
}
# (raw JSON body, the field the answer must name, words of what was expected)
REFUSED: list[tuple[str, str, str]] = [
    ('{"initial_capital": -1}', "initial_capital", "greater than 0"),
    ('{"initial_capital": "1e400"}', "initial_capital", "magnitude below"),
    ('{"leverage": "1E-999999"}', "leverage", "decimal places"),
    ('{"symbol": "BTC\\u0000"}', "symbol", "pattern"),
    ('{"symbol": "BTC\\ud83d\\ude00"}', "symbol", "pattern"),
    ('{"strategy": "' + "x" * 5000 + '"}', "strategy", "at most 1000 characters"),
    ('{"interval": "0m"}', "interval", "a number and a unit"),
    ('{"warmup_periods": 1' + "0" * 30 + "}", "warmup_periods", "less than or equal"),
    ('{"params": {"a": {"b": {"c": {"d": {"e": 1}}}}}}', "params.a.b.c.d", "nested deeper"),
    ('{"feed_options": {"seed": 1' + "0" * 40 + "}}", "feed_options.seed", "magnitude below"),
    ('{"venue": "nowhere"}', "venue", "unknown venue"),
    # NaN and Infinity inside params once reached the strategy as null ("got None").
    ('{"params": {"fast": NaN, "slow": 4}}', "params.fast", "finite number"),
    ('{"params": {"fast": 2, "slow": Infinity}}', "params.slow", "finite number"),
    ('{"feed_options": {"seed": -Infinity}}', "feed_options.seed", "finite number"),
]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    tmp: Path = tmp_path_factory.mktemp("patch")
    process = DaemonProcess(
        tmp / "data",
        None,
        env={"ALGOTRADE_API_KEYS": f"admin:{ADMIN_KEY},trader:{TRADER_KEY}"},
        api_key=ADMIN_KEY,
    ).start()
    try:
        process.ok("POST", "/api/bots", json=BOT)
        yield process
    finally:
        if process.proc is not None and process.proc.poll() is None:
            process.terminate()


def _patch(daemon: DaemonProcess, body: str) -> httpx.Response:
    return httpx.patch(
        f"{daemon.url}/api/bots/{BOT['bot_id']}/config",
        content=body.encode(),
        headers={**daemon.headers, "Content-Type": "application/json"},
        timeout=10,
    )


def _config(daemon: DaemonProcess) -> dict[str, Any]:
    config: dict[str, Any] = daemon.ok("GET", f"/api/bots/{BOT['bot_id']}")["config"]
    return config


@pytest.mark.parametrize(("body", "field", "expected"), REFUSED, ids=[r[1] for r in REFUSED])
def test_a_refused_patch_names_the_field_in_one_line_and_changes_nothing(
    daemon: DaemonProcess, body: str, field: str, expected: str
) -> None:
    before = _config(daemon)
    response = _patch(daemon, body)
    assert response.status_code == 422, response.text
    message = response.json()["error"]["message"]
    assert "\n" not in message
    assert message.startswith(f"{field}: ") or f"body.{field}: " in message, message
    assert expected in message, message
    # None of pydantic's boilerplate: its title, the input echoed back, a link.
    for noise in ("validation error for", "input_value", "errors.pydantic.dev", "[type="):
        assert noise not in message, message
    assert _config(daemon) == before


def test_the_config_is_unchanged_after_a_restart(daemon: DaemonProcess) -> None:
    before = _config(daemon)
    for body, _, _ in REFUSED[:3]:
        _patch(daemon, body)
    code, _, stderr = daemon.terminate()
    assert code == 0, stderr
    daemon.start()
    assert _config(daemon) == before
