"""algo-trade: one event-driven engine for backtest, paper and live trading."""

from __future__ import annotations

import os

__version__ = "0.1.0"

# polars ships its own jemalloc (prefix ``_rjem_``), which by default keeps freed pages for
# seconds. Loading a large file then leaves ~100 MB of dead pages resident under the Python
# objects a backtest creates next, and a long-lived daemon never gives them back. Returning
# them at once costs little; a user's own setting wins. Must happen before polars is loaded.
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:0,muzzy_decay_ms:0")
