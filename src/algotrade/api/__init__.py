"""FastAPI control plane: REST under /api, WebSocket at /ws, /metrics, API keys with roles."""

from __future__ import annotations

from algotrade.api.app import create_app
from algotrade.api.auth import ApiKeys, Role

__all__ = ["ApiKeys", "Role", "create_app"]
