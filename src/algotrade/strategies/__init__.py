"""Built-in strategies and the loader for user strategy files."""

from algotrade.strategies.registry import (
    builtin_strategies,
    builtin_strategy_names,
    create_strategy,
    get_strategy_class,
    load_strategy_file,
)

__all__ = [
    "builtin_strategies",
    "builtin_strategy_names",
    "create_strategy",
    "get_strategy_class",
    "load_strategy_file",
]
