"""Bot configs for live venues: real orders only when asked for, Hyperliquid's constraints."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from algotrade.daemon.bot_config import BotConfig, VenueKind
from algotrade.daemon.feeds import validate_feed_options


def config(**changes: Any) -> BotConfig:
    base: dict[str, Any] = {"bot_id": "b", "symbol": "BTC", "strategy": "ma_crossover"}
    return BotConfig.model_validate({**base, **changes})


def test_paper_trading_on_hyperliquid_candles_is_allowed() -> None:
    bot = config(feed="hyperliquid")
    assert (bot.feed, bot.venue) == ("hyperliquid", VenueKind.PAPER)
    validate_feed_options(bot)


def test_live_orders_need_mode_live_spelled_out() -> None:
    with pytest.raises(ValidationError, match="sends real orders: set mode 'live'"):
        config(feed="hyperliquid", venue="hyperliquid")
    assert config(venue="hyperliquid", mode="live").venue == "hyperliquid"


def test_mode_live_needs_a_live_venue() -> None:
    with pytest.raises(ValidationError, match="needs a live venue"):
        config(mode="live")


def test_hyperliquid_leverage_is_a_whole_number() -> None:
    with pytest.raises(ValidationError, match="leverage: Hyperliquid takes a whole number"):
        config(venue="hyperliquid", mode="live", leverage="2.5")
    assert config(venue="hyperliquid", mode="live", leverage="5").leverage == 5


def test_hyperliquid_feed_checks_interval_and_options() -> None:
    with pytest.raises(ValueError, match="interval: Hyperliquid candles come in 1m, 3m"):
        validate_feed_options(config(feed="hyperliquid", interval="2m"))
    with pytest.raises(ValueError, match="feed_options"):
        validate_feed_options(config(feed="hyperliquid", feed_options={"seed": 1}))
    validate_feed_options(config(feed="hyperliquid", interval="4h"))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"initial_capital": "1e-999999999"}, "initial_capital: expected at most 8 decimal"),
        ({"initial_capital": "1e999999999"}, "initial_capital: expected a magnitude below 1e15"),
        ({"initial_capital": "100.123456789"}, "initial_capital: expected at most 8 decimal"),
        ({"commission": "1e-13"}, "commission: expected at most 12 decimal"),
        ({"leverage": "NaN"}, "leverage"),
        ({"symbol": "BTC\u0000"}, "symbol"),
        ({"symbol": "BTC USD"}, "symbol"),
        ({"account_id": "acct\n1"}, "account_id"),
        ({"strategy": "ma\u0000crossover"}, "strategy"),
        ({"params": {"qty": "1e999999"}}, "params.qty: expected a magnitude below 1e15"),
        ({"params": {"qty": 1e300}}, "params.qty: expected a magnitude below 1e15"),
        ({"params": {"qty": float("inf")}}, "params.qty: expected a finite number"),
        ({"params": {"bad key": 1}}, "params: key 'bad key' must be a name"),
        ({"params": {"note": "a\u0000b"}}, "params.note: must not contain control characters"),
        ({"params": {"deep": {"a": {"b": {"c": {"d": 1}}}}}}, "nested deeper than 4"),
        ({"feed_options": {"tick_seconds": "1e-999999999"}}, "feed_options.tick_seconds"),
        ({"interval": "99999999999999999999d"}, "interval"),
        ({"interval": "1m\n"}, "interval"),
        ({"params": {"qty\n": 1}}, "must be a name"),
    ],
)
def test_unbounded_or_unprintable_inputs_are_refused_with_the_field_named(
    changes: dict[str, Any], message: str
) -> None:
    """Defect: '1e-999999999' capital made every store write fail and retry forever; a NUL
    in a symbol failed every PostgreSQL batch; '1e999999999' registered a bot that then broke
    every listing."""
    with pytest.raises(ValidationError, match=message):
        config(**changes)


def test_bounded_inputs_at_the_limits_are_kept_exactly() -> None:
    bot = config(
        initial_capital="999999999999999.99999999",
        commission="0.000000000001",
        symbol="BTC/USDT:USDT",
        params={"qty": "0.000000000001", "fast": 5},
    )
    assert str(bot.initial_capital) == "999999999999999.99999999"
    assert config(symbol="@107").symbol == "@107"
    assert config(symbol="CON.F.US.EP.U25").symbol == "CON.F.US.EP.U25"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("warmup_periods", True),
        ("warmup_periods", "5"),
        ("warmup_periods", 5.5),
        ("auto_resume", "yes"),
        ("auto_resume", 1),
        ("initial_capital", True),
        ("initial_capital", "1_000"),
    ],
)
def test_values_of_another_json_type_are_refused_naming_the_field(field: str, value: Any) -> None:
    # Lax pydantic read true as 1, "yes" and 1 as true: the published schema says neither.
    with pytest.raises(ValidationError) as caught:
        config(**{field: value})
    [error] = caught.value.errors()
    assert error["loc"] == (field,)


def test_money_takes_a_number_or_its_text() -> None:
    # Strings are how exact money travels; JSON numbers and TOML/YAML numbers still work.
    assert config(initial_capital="2500.125").initial_capital == Decimal("2500.125")
    assert config(initial_capital=2500).initial_capital == Decimal(2500)
    assert config(commission=0.001).commission == Decimal("0.001")
    assert config(warmup_periods=20, auto_resume=True).warmup_periods == 20
