"""Bot configs for live venues: real orders only when asked for, Hyperliquid's constraints."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from algotrade.daemon.bot_config import BotConfig, FeedKind, VenueKind
from algotrade.daemon.feeds import validate_feed_options


def config(**changes: Any) -> BotConfig:
    base: dict[str, Any] = {"bot_id": "b", "symbol": "BTC", "strategy": "ma_crossover"}
    return BotConfig.model_validate({**base, **changes})


def test_paper_trading_on_hyperliquid_candles_is_allowed() -> None:
    bot = config(feed="hyperliquid")
    assert (bot.feed, bot.venue) == (FeedKind.HYPERLIQUID, VenueKind.PAPER)
    validate_feed_options(bot)


def test_live_orders_need_mode_live_spelled_out() -> None:
    with pytest.raises(ValidationError, match="sends real orders: set mode 'live'"):
        config(feed="hyperliquid", venue="hyperliquid")
    assert config(venue="hyperliquid", mode="live").venue is VenueKind.HYPERLIQUID


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
