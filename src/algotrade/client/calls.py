"""Every API call as a value (``Req``), built once and executed by either client.

A ``Req[T]`` is the method, path, query and body of one request and how to parse its answer
into ``T``; ``AlgoTradeClient`` sends it with httpx's blocking client, ``AsyncAlgoTradeClient``
with the async one. The calls are written here once, so the two clients cannot drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar, cast
from urllib.parse import quote

import httpx

from algotrade.client.errors import parse_answer

API_KEY_HEADER = "X-API-Key"

T = TypeVar("T")
Obj = dict[str, Any]
Objs = list[dict[str, Any]]
Query = Mapping[str, str | int | bool | list[str] | None]


@dataclass(frozen=True, slots=True)
class Req(Generic[T]):
    """One API call; ``T`` is what it answers."""

    method: str
    path: str
    params: Query | None = None
    body: Mapping[str, Any] | None = None
    text: bool = False  # answer is plain text (metrics), not JSON

    def kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if self.params is not None:
            kwargs["params"] = _query(self.params)
        if self.body is not None:
            kwargs["content"] = _json_body(self.body)
            kwargs["headers"] = {"Content-Type": "application/json"}
        return kwargs

    def parse(self, response: httpx.Response) -> T:
        if self.text and not response.is_error:
            return cast(T, response.text)
        return cast(T, parse_answer(response))


def headers(api_key: str | None) -> dict[str, str]:
    return {API_KEY_HEADER: api_key} if api_key else {}


def _query(params: Query) -> list[tuple[str, str]]:
    """None values left out, lists repeated, bools as true/false."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        for item in value if isinstance(value, list) else [value]:
            if item is None:
                continue
            pairs.append(
                (key, ("true" if item else "false") if isinstance(item, bool) else str(item))
            )
    return pairs


def _json_body(data: Mapping[str, Any]) -> bytes:
    # Decimal as exact text, which BotConfig accepts: floats would round money.
    def default(value: object) -> str:
        if isinstance(value, Decimal):
            return str(value)
        raise TypeError(f"cannot send a {type(value).__name__} as JSON")

    return json.dumps(dict(data), default=default).encode()


def _segment(value: str) -> str:
    return quote(value, safe="")


def _bot_path(bot_id: str, suffix: str = "") -> str:
    return f"/api/bots/{_segment(bot_id)}{suffix}"


# -- bots ------------------------------------------------------------------------------------

LIST_BOTS: Req[Objs] = Req("GET", "/api/bots")
HEALTH: Req[Obj] = Req("GET", "/api/health")
VERSION: Req[Obj] = Req("GET", "/api/version")
SESSION: Req[Obj] = Req("GET", "/api/session")
METRICS: Req[str] = Req("GET", "/metrics", text=True)
SUMMARY: Req[Obj] = Req("GET", "/api/summary")
STRATEGIES: Req[Objs] = Req("GET", "/api/strategies")
VENUES: Req[Objs] = Req("GET", "/api/venues")


def get_bot(bot_id: str) -> Req[Obj]:
    return Req("GET", _bot_path(bot_id))


def create_bot(config: Mapping[str, Any]) -> Req[Obj]:
    return Req("POST", "/api/bots", body=config)


def delete_bot(bot_id: str) -> Req[None]:
    return Req("DELETE", _bot_path(bot_id))


def control(bot_id: str, command: str) -> Req[Obj]:
    """start, stop, pause or resume."""
    return Req("PUT", _bot_path(bot_id, f"/{command}"))


def update_config(bot_id: str, changes: Mapping[str, Any]) -> Req[Obj]:
    return Req("PATCH", _bot_path(bot_id, "/config"), body=changes)


def records(bot_id: str, what: str, offset: int, limit: int, newest_first: bool) -> Req[Obj]:
    """A page of the bot's ``what`` (orders, fills, equity); the API counts a newest-first
    page from the newest record (``order=desc``)."""
    params: dict[str, str | int] = {"offset": offset, "limit": limit}
    if newest_first:
        params["order"] = "desc"
    return Req("GET", _bot_path(bot_id, f"/{what}"), params=params)


def positions(bot_id: str) -> Req[Objs]:
    return Req("GET", _bot_path(bot_id, "/positions"))


def logs(bot_id: str, offset: int, limit: int) -> Req[Obj]:
    return Req("GET", _bot_path(bot_id, "/logs"), params={"offset": offset, "limit": limit})


def bars(bot_id: str, limit: int) -> Req[Objs]:
    return Req("GET", _bot_path(bot_id, "/bars"), params={"limit": limit})


# -- account risk and venues -----------------------------------------------------------------


def risk_accounts() -> Req[Objs]:
    return Req("GET", "/api/risk/accounts")


def risk_account(account_id: str) -> Req[Obj]:
    return Req("GET", f"/api/risk/accounts/{_segment(account_id)}")


def risk_lockouts(account_id: str | None, active_only: bool, offset: int, limit: int) -> Req[Obj]:
    params = {
        "account_id": account_id,
        "active_only": active_only,
        "offset": offset,
        "limit": limit,
    }
    return Req("GET", "/api/risk/lockouts", params=params)


def risk_enforcements(
    account_id: str | None, kinds: Iterable[str] | None, offset: int, limit: int
) -> Req[Obj]:
    params = {
        "account_id": account_id,
        "kind": None if kinds is None else list(kinds),
        "offset": offset,
        "limit": limit,
    }
    return Req("GET", "/api/risk/enforcements", params=params)


def risk_audit(offset: int, limit: int) -> Req[Obj]:
    return Req("GET", "/api/risk/audit", params={"offset": offset, "limit": limit})


def risk_unlock(account_id: str, reason: str, rule: str | None) -> Req[Obj]:
    body: dict[str, Any] = {"reason": reason} if rule is None else {"reason": reason, "rule": rule}
    return Req("POST", f"/api/risk/accounts/{_segment(account_id)}/unlock", body=body)


def risk_set_rules(rules: Mapping[str, Mapping[str, Any]], account_id: str | None) -> Req[Obj]:
    body = {"account_id": account_id, "rules": {k: dict(v) for k, v in rules.items()}}
    return Req("PUT", "/api/risk/rules", body=body)


def reconcile_venue(venue: str) -> Req[Obj]:
    return Req("POST", f"/api/venues/{_segment(venue)}/reconcile")
