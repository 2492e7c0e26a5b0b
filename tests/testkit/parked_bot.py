"""A sim bot whose stream's own timer never fires: the test hands it every bar."""

from __future__ import annotations

from typing import Any

from algotrade.daemon.bot_config import BotConfig


def parked_bot(bot_id: str, **extra: Any) -> BotConfig:
    raw: dict[str, Any] = {
        "bot_id": bot_id,
        "symbol": "SIM-BOARD",
        "strategy": "ma_crossover",
        "params": {"fast": 2, "slow": 4, "qty": 1},
        "feed_options": {"seed": 5, "tick_seconds": 86400, "volatility": 0.01},
        "initial_capital": "100000",
    }
    raw.update(extra)
    return BotConfig.model_validate(raw)
