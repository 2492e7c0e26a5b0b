"""A local fake of Hyperliquid's perpetuals API (``/info``, ``/exchange``, ``/ws``) for tests.

See ``server.FakeHyperliquid`` for the controls; the state and matching rules live in
``state.py``, the exchange actions in ``exchange.py``, the info requests in ``info.py``.
"""

from .orders import Position
from .server import VENUE_GREETING, FakeHyperliquid
from .state import DEFAULT_ASSETS, MARKET_MAKER
from .wire import INTERVAL_MS, AssetSpec

__all__ = [
    "DEFAULT_ASSETS",
    "INTERVAL_MS",
    "MARKET_MAKER",
    "VENUE_GREETING",
    "AssetSpec",
    "FakeHyperliquid",
    "Position",
]
