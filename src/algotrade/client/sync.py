"""``AlgoTradeClient``: the blocking client of the daemon's API."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from algotrade.client import calls
from algotrade.client.errors import DaemonUnreachable, transport_reason

T = TypeVar("T")


class AlgoTradeClient:
    """Blocking client; use as a context manager or call ``close()``."""

    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 10) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url, headers=calls.headers(api_key), timeout=timeout
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _do(self, req: calls.Req[T]) -> T:
        try:
            response = self._http.request(req.method, req.path, **req.kwargs())
        except httpx.TransportError as exc:
            raise DaemonUnreachable(self.base_url, transport_reason(exc)) from exc
        return req.parse(response)

    # -- bots --------------------------------------------------------------------------------

    def list_bots(self) -> list[dict[str, Any]]:
        return self._do(calls.LIST_BOTS)

    def get_bot(self, bot_id: str) -> dict[str, Any]:
        """``{"config": {...}, "status": {...}}``."""
        return self._do(calls.get_bot(bot_id))

    def create_bot(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Create a (stopped) bot from a BotConfig-shaped mapping; answers its status."""
        return self._do(calls.create_bot(config))

    def delete_bot(self, bot_id: str) -> None:
        self._do(calls.delete_bot(bot_id))

    def start_bot(self, bot_id: str) -> dict[str, Any]:
        return self._do(calls.control(bot_id, "start"))

    def stop_bot(self, bot_id: str) -> dict[str, Any]:
        return self._do(calls.control(bot_id, "stop"))

    def pause_bot(self, bot_id: str) -> dict[str, Any]:
        return self._do(calls.control(bot_id, "pause"))

    def resume_bot(self, bot_id: str) -> dict[str, Any]:
        return self._do(calls.control(bot_id, "resume"))

    def update_config(self, bot_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Change some config fields; answers the whole new config."""
        return self._do(calls.update_config(bot_id, changes))

    def orders(
        self, bot_id: str, offset: int = 0, limit: int = 100, *, newest_first: bool = False
    ) -> dict[str, Any]:
        """``{"items": [...], "total", "offset", "limit"}``, oldest first; with
        ``newest_first`` newest first, the ``offset`` counted from the newest."""
        return self._do(calls.records(bot_id, "orders", offset, limit, newest_first))

    def fills(
        self, bot_id: str, offset: int = 0, limit: int = 100, *, newest_first: bool = False
    ) -> dict[str, Any]:
        return self._do(calls.records(bot_id, "fills", offset, limit, newest_first))

    def equity(
        self, bot_id: str, offset: int = 0, limit: int = 100, *, newest_first: bool = False
    ) -> dict[str, Any]:
        """Equity snapshots: ``timestamp``, ``equity``, ``cash``, PnL and fees."""
        return self._do(calls.records(bot_id, "equity", offset, limit, newest_first))

    def positions(self, bot_id: str) -> list[dict[str, Any]]:
        return self._do(calls.positions(bot_id))

    def logs(self, bot_id: str, offset: int = 0, limit: int = 100) -> dict[str, Any]:
        """A page of the bot's event log, newest first."""
        return self._do(calls.logs(bot_id, offset, limit))

    def bars(self, bot_id: str, limit: int = 300) -> list[dict[str, Any]]:
        """The latest bars the bot's strategy saw, oldest first."""
        return self._do(calls.bars(bot_id, limit))

    def summary(self) -> dict[str, Any]:
        """Totals across bots, counts by state, alerts and lockouts."""
        return self._do(calls.SUMMARY)

    def strategies(self) -> list[dict[str, Any]]:
        """Each strategy's name, description and parameter JSON schema."""
        return self._do(calls.STRATEGIES)

    def health(self) -> dict[str, Any]:
        return self._do(calls.HEALTH)

    def version(self) -> dict[str, Any]:
        """``{"version": "..."}``."""
        return self._do(calls.VERSION)

    def session(self) -> dict[str, Any]:
        """Who this key is: ``{"role": "admin" | "trader", "expires_at", "auth_enabled"}``."""
        return self._do(calls.SESSION)

    def metrics_text(self) -> str:
        """The Prometheus exposition text."""
        return self._do(calls.METRICS)

    # -- account risk (/api/risk) and venues --------------------------------------------------

    def risk_accounts(self) -> list[dict[str, Any]]:
        """Every guarded account's risk snapshot: balance, equity, daily PnL, positions,
        lockouts, rules."""
        return self._do(calls.risk_accounts())

    def risk_account(self, account_id: str) -> dict[str, Any]:
        """One account's risk snapshot; ``ApiError`` 404 for an unknown account."""
        return self._do(calls.risk_account(account_id))

    def risk_lockouts(
        self,
        account_id: str | None = None,
        *,
        active_only: bool = True,
        offset: int = 0,
        limit: int = 100,
    ) -> dict[str, Any]:
        """A page of lockouts, oldest first: ``{"items", "total", "offset", "limit"}``;
        ``active_only=False`` includes cleared ones."""
        return self._do(calls.risk_lockouts(account_id, active_only, offset, limit))

    def risk_enforcements(
        self,
        account_id: str | None = None,
        *,
        kinds: Iterable[str] | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> dict[str, Any]:
        """A page of the risk log, oldest first; ``kinds`` keeps only those (breach, lockout,
        enforcement, alert, expiry, reset, unlock, ...)."""
        return self._do(calls.risk_enforcements(account_id, kinds, offset, limit))

    def risk_audit(self, offset: int = 0, limit: int = 100) -> dict[str, Any]:
        """A page of the audit trail (unlocks, rule changes), oldest first."""
        return self._do(calls.risk_audit(offset, limit))

    def risk_unlock(self, account_id: str, reason: str, rule: str | None = None) -> dict[str, Any]:
        """Clear the account's lockouts (of ``rule`` only, when given); admin key only.
        Answers ``{"account_id", "cleared": [rule, ...]}``."""
        return self._do(calls.risk_unlock(account_id, reason, rule))

    def risk_set_rules(
        self, rules: Mapping[str, Mapping[str, Any]], account_id: str | None = None
    ) -> dict[str, Any]:
        """Change rule parameters (``{rule: {param: value}}``) of one account, or of all when
        ``account_id`` is None; admin key only. Answers ``{"account_id", "applied"}``."""
        return self._do(calls.risk_set_rules(rules, account_id))

    def venues(self) -> list[dict[str, Any]]:
        """Each connected live venue: connection, last reconciliation, blocked symbols,
        alerts and counters (empty when no bot uses a live venue)."""
        return self._do(calls.VENUES)

    def reconcile_venue(self, venue: str) -> dict[str, Any]:
        """Reconcile a live venue now (admin key); answers its state afterwards."""
        return self._do(calls.reconcile_venue(venue))
