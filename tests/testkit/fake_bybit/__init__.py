"""A local fake of Bybit's v5 API (linear USDT perpetuals) for tests: REST with HMAC-SHA256
signature checks, the public and private WebSockets, matching and fault injection.

See ``server.FakeBybit`` for the controls; the matching rules live in ``state.py``, the REST
endpoints in ``rest.py``, the WebSocket protocol in ``hub.py``, signatures and rate limits in
``auth.py``. Written from Bybit's v5 docs (bybit-exchange.github.io/docs/v5), not from any
client's expectations.
"""

from .auth import rest_signature, ws_signature
from .server import FakeBybit
from .state import DEFAULT_INSTRUMENTS
from .wire import INTERVAL_MS, InstrumentSpec, RetCode

__all__ = [
    "DEFAULT_INSTRUMENTS",
    "INTERVAL_MS",
    "FakeBybit",
    "InstrumentSpec",
    "RetCode",
    "rest_signature",
    "ws_signature",
]
