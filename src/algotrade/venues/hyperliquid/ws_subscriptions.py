"""Routing of Hyperliquid WebSocket pushes to subscriptions.

A subscription's routing identity is ``(type, coin, interval, user)``; a pushed message is
mapped from its channel and ``data`` to that identity. ``orderUpdates`` and ``user``
(userEvents) pushes carry no user, so they go to every subscription of that type.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from algotrade.venues.hyperliquid.errors import HlPayloadError

__all__ = [
    "CHANNEL_TYPES",
    "VENUE_GREETING",
    "MessageHandler",
    "SubKey",
    "Subscription",
    "is_greeting",
    "route",
    "subscription_key",
]

MessageHandler = Callable[[Any], None]
SubKey = tuple[str, str, str, str]  # (type, coin, interval, user)

#: Pushed channel name → subscription type.
CHANNEL_TYPES: dict[str, str] = {
    "allMids": "allMids",
    "trades": "trades",
    "l2Book": "l2Book",
    "candle": "candle",
    "orderUpdates": "orderUpdates",
    "userFills": "userFills",
    "user": "userEvents",
}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "allMids": (),
    "trades": ("coin",),
    "l2Book": ("coin",),
    "candle": ("coin", "interval"),
    "orderUpdates": ("user",),
    "userFills": ("user",),
    "userEvents": ("user",),
}
_USER_WIDE = frozenset({"orderUpdates", "userEvents"})  # pushes that do not name the user
#: The plain-text frame Hyperliquid sends first on every connection (its own SDK skips it too).
VENUE_GREETING = "Websocket connection established."


@dataclass(slots=True)
class Subscription:
    subscription: dict[str, Any]
    key: SubKey
    handlers: list[MessageHandler] = field(default_factory=list)


def subscription_key(subscription: dict[str, Any]) -> SubKey:
    """The routing identity of a subscription; ``ValueError`` when it cannot be routed."""
    kind = subscription.get("type")
    if kind not in _REQUIRED:
        raise ValueError(f"unsupported Hyperliquid subscription type {kind!r}")
    for name in _REQUIRED[kind]:
        if not isinstance(subscription.get(name), str) or not subscription[name]:
            raise ValueError(f"{kind} subscription needs a non-empty '{name}'")
    user = str(subscription.get("user", "")).lower()
    return (kind, str(subscription.get("coin", "")), str(subscription.get("interval", "")), user)


def _first(data: Any, channel: str) -> dict[str, Any] | None:
    """The object naming coin/interval/user: ``data`` itself or its first element."""
    if isinstance(data, list):
        data = data[0] if data else None
        if data is None:
            return None
    if not isinstance(data, dict):
        raise HlPayloadError(f"{channel}: data is not an object or a list of objects")
    return data


def _field(item: dict[str, Any] | None, name: str, channel: str) -> str:
    value = None if item is None else item.get(name)
    if not isinstance(value, str):
        raise HlPayloadError(f"{channel}: data has no '{name}'")
    return value


def route(
    subs: dict[SubKey, Subscription], kind: str, channel: str, data: Any
) -> list[Subscription]:
    """The subscriptions a push of ``kind`` on ``channel`` goes to; ``HlPayloadError`` when
    ``data`` lacks what routing needs."""
    if kind in _USER_WIDE or (kind == "userFills" and not _user_of(data)):
        return [sub for sub in subs.values() if sub.key[0] == kind]
    if kind == "allMids":
        key: SubKey = ("allMids", "", "", "")
    elif kind == "userFills":
        key = ("userFills", "", "", _user_of(data))
    else:
        item = _first(data, channel)
        if item is None:
            return []  # e.g. an empty trades list: nothing to deliver
        if kind == "candle":
            key = ("candle", _field(item, "s", channel), _field(item, "i", channel), "")
        else:
            key = (kind, _field(item, "coin", channel), "", "")
    sub = subs.get(key)
    return [sub] if sub is not None else []


def is_greeting(raw: str | bytes) -> bool:
    if len(raw) > 2 * len(VENUE_GREETING):  # data frames are never compared as text
        return False
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes | bytearray) else raw
    return text.strip() == VENUE_GREETING


def _user_of(data: Any) -> str:
    user = data.get("user") if isinstance(data, dict) else None
    return user.lower() if isinstance(user, str) else ""
