"""A local fake of the ProjectX Gateway API (TopstepX): REST with bearer JWTs and the SignalR
user and market hubs (negotiate + WebSocket + JSON hub protocol), for tests.

See ``server.FakeProjectX`` for the controls; the matching rules live in ``state.py``, the REST
endpoints in ``rest.py``, the hub protocol in ``signalr.py``, the wire enums in ``wire.py``.
"""

from .server import BARS_LIMIT, GENERAL_LIMIT, FakeProjectX
from .signalr import RS, MessageType
from .wire import (
    DEFAULT_CONTRACTS,
    BarUnit,
    ContractSpec,
    OrderSide,
    OrderStatus,
    OrderType,
    PositionType,
)

__all__ = [
    "BARS_LIMIT",
    "DEFAULT_CONTRACTS",
    "GENERAL_LIMIT",
    "RS",
    "BarUnit",
    "ContractSpec",
    "FakeProjectX",
    "MessageType",
    "OrderSide",
    "OrderStatus",
    "OrderType",
    "PositionType",
]
