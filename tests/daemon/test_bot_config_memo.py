"""The memo of plain parameter values found sane never lets an insane value through, and the
secret-name check still finds every credential-like key."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from algotrade.daemon import bot_config
from algotrade.daemon.bot_config import BotConfig


def config(**changes: Any) -> BotConfig:
    base: dict[str, Any] = {"bot_id": "b", "symbol": "BTC", "strategy": "ma_crossover"}
    return BotConfig.model_validate({**base, **changes})


@pytest.mark.parametrize(
    ("sane", "insane", "message"),
    [
        (1, 10**20, "expected a magnitude below 1e15"),
        (1.0, 1e300, "expected a magnitude below 1e15"),
        (0.002, 1e-13, "expected at most 12 decimal places"),
        (0.002, float("nan"), "expected a finite number"),
        ("0.5", "1e999999", "expected a magnitude below 1e15"),
        ("fast", "a\u0000b", "must not contain control characters"),
        ("x" * 100, "x" * 1001, "text longer than 1000"),
    ],
)
def test_a_remembered_sane_value_lets_no_insane_one_through(
    sane: Any, insane: Any, message: str
) -> None:
    for _ in range(2):  # the second time from the memo
        assert config(params={"v": sane}).params["v"] == sane
    for _ in range(2):  # refused every time: never remembered
        with pytest.raises(ValidationError, match=f"params.v: {message}"):
            config(params={"v": insane})


def test_memo_keeps_types_apart_and_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bot_config, "_SANE_SCALARS", set())
    monkeypatch.setattr(bot_config, "_SANE_SCALARS_MAX", 5)
    config(params={"a": 1, "b": 1.0, "c": "1", "d": True})
    assert {(int, 1), (float, 1.0), (str, "1")} == bot_config._SANE_SCALARS
    config(params={f"k{i}": i + 10 for i in range(20)})
    assert len(bot_config._SANE_SCALARS) <= 5


@pytest.mark.parametrize(
    "key", ["api_key", "MySecret", "password2", "privateKey", "x_token", "APIKEY", "private_key"]
)
def test_credential_like_keys_are_refused(key: str) -> None:
    with pytest.raises(ValidationError, match="looks like a credential"):
        config(params={key: "x"})
    with pytest.raises(ValidationError, match="looks like a credential"):
        config(feed_options={key: 1})
