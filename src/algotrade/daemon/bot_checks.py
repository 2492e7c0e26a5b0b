"""Whether a bot config may be used: the checks of a create, an update, a reload and of the
``[[bots]]`` of the config file (before the daemon opens its database)."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from pydantic import ValidationError

from algotrade.core.errors import AlgoTradeError, ConfigError
from algotrade.core.strategy import describe_validation_error
from algotrade.daemon.bot_config import BotConfig
from algotrade.daemon.feeds import validate_feed_options
from algotrade.daemon.service_api import InvalidBotConfig
from algotrade.daemon.settings_sources import one_line
from algotrade.strategies.registry import create_strategy, get_strategy_class

if TYPE_CHECKING:
    from algotrade.daemon.settings import DaemonSettings


def check_bot_config(config: BotConfig, accounts: Collection[str] | None) -> None:
    """``InvalidBotConfig`` unless the account is known (when accounts are guarded), the feed
    options are usable and the strategy exists and takes the parameters."""
    if accounts is not None and config.account_id not in accounts:
        known = ", ".join(sorted(accounts))
        raise InvalidBotConfig(
            f"account_id: unknown account '{config.account_id}' (accounts.yaml has: {known})"
        )
    try:
        validate_feed_options(config)
        create_strategy(config.strategy, config.params)  # names (listing the valid ones)
        strategy = get_strategy_class(config.strategy)
        try:
            strategy.parse_json_params(config.params)  # and the JSON types its schema publishes
        except ValidationError as exc:
            label = f"strategy {strategy.name or strategy.__name__}"
            raise InvalidBotConfig(describe_validation_error(label, exc)) from exc
    except (ValueError, ConfigError) as exc:
        raise InvalidBotConfig(one_line(str(exc))) from exc


def bot_entry(source: str, index: int, bot_id: str) -> str:
    """How an error names a ``[[bots]]`` entry: ``config.toml: bots[2] (bot_id 'x')``."""
    return f"{source}: bots[{index}] (bot_id {bot_id!r})"


def check_configured_bots(settings: DaemonSettings, accounts: Collection[str] | None) -> None:
    """Every ``[[bots]]`` entry checked as a create would check it, all before anything is
    created: ``ConfigError`` naming the first bad entry (nothing is half set up)."""
    origin = settings.origin
    config_file = origin.config_file if origin is not None else None
    source = str(config_file) if config_file is not None else "settings"
    for index, raw in enumerate(settings.bots):
        config = BotConfig.model_validate(raw)  # load_settings has checked its fields
        try:
            check_bot_config(config, accounts)
        except AlgoTradeError as exc:
            where = bot_entry(source, index, config.bot_id)
            raise ConfigError(f"{where}: {one_line(str(exc))}") from None
