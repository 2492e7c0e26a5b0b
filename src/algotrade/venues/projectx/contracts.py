"""Symbols ↔ ProjectX contracts, and the core ``Instrument`` of each contract.

A bot's ``symbol`` is the contract's **name** as the gateway lists it (``EPZ25``); the
contract **id** (``CON.F.US.EP.Z25``) is accepted too and means the same contract. Either
spelling resolves to one ``Contract``; events for a bot keep the bot's own spelling, and
everything compared across bots (positions, blocks) is keyed by the contract name.

Contract rules come from the venue, never typed by hand: the price grid is the contract's
``tickSize``; the PnL multiplier (money per 1.0 of price per contract) is ``tickValue /
tickSize`` (``pnl.TickSpec``); sizes are whole contracts.

``ContractBook`` holds what ``Contract/available`` (falling back to ``Contract/search`` with
an empty text when a gateway lacks it) returned. It does no I/O of its own except in
``load``, so it can be built and queried without a running connection (the account guard
reuses it for its multipliers).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

from algotrade.core.instruments import Instrument
from algotrade.venues.projectx.errors import ProjectXApiError, ProjectXBadRequest
from algotrade.venues.projectx.payloads import parse_contract, parse_list
from algotrade.venues.projectx.pnl import TickSpec
from algotrade.venues.projectx.schemas import Contract
from algotrade.venues.projectx.transport import Kind

if TYPE_CHECKING:
    from algotrade.venues.projectx.http import ProjectXHttp

__all__ = ["AVAILABLE_PATH", "VENUE", "ContractBook", "contract_instrument", "load_contracts"]

_log = logging.getLogger(__name__)

VENUE = "projectx"
AVAILABLE_PATH = "/api/Contract/available"
LOT = Decimal(1)


def contract_instrument(contract: Contract, symbol: str | None = None) -> Instrument:
    """The core instrument of ``contract`` under ``symbol`` (default: the contract name):
    tick size from the venue, whole contracts, the tick-value multiplier."""
    return Instrument(
        symbol or contract.name,
        tick_size=contract.tick_size,
        lot_size=LOT,
        min_qty=LOT,
        multiplier=TickSpec.of(contract).multiplier,
        venue=VENUE,
        extra={
            "contract_id": contract.id,
            "contract_name": contract.name,
            "tick_value": str(contract.tick_value),
            "description": contract.description,
        },
    )


class ContractBook:
    """Contracts by name and by id (case-insensitive), as last loaded."""

    def __init__(self, contracts: Iterable[Contract] = ()) -> None:
        self._by_name: dict[str, Contract] = {}
        self._by_id: dict[str, Contract] = {}
        self.replace(contracts)

    def replace(self, contracts: Iterable[Contract]) -> None:
        """Take ``contracts`` as the current list (a contract seen before stays known: a bot
        may still hold an expiring one that ``available`` no longer lists)."""
        for contract in contracts:
            self.add(contract)

    def add(self, contract: Contract) -> None:
        self._by_name[contract.name.upper()] = contract
        self._by_id[contract.id.upper()] = contract

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, symbol: object) -> bool:
        return isinstance(symbol, str) and self.find(symbol) is not None

    def contracts(self) -> list[Contract]:
        return sorted(self._by_id.values(), key=lambda c: c.name)

    def find(self, symbol: str) -> Contract | None:
        """The contract a bot's ``symbol`` names (its name or its id), or ``None``."""
        key = symbol.strip().upper()
        return self._by_name.get(key) or self._by_id.get(key)

    def resolve(self, symbol: str) -> Contract:
        """Like ``find``; ``ValueError('symbol: …')`` naming some known contracts if none."""
        contract = self.find(symbol)
        if contract is None:
            names = [c.name for c in self.contracts()]
            listed = ", ".join(names[:8]) + (", …" if len(names) > 8 else "")
            raise ValueError(
                f"symbol: ProjectX lists no contract named '{symbol}' (expected a contract "
                f"name such as {listed or 'EPZ25'}, or a contract id)"
            )
        return contract

    def by_id(self, contract_id: str) -> Contract | None:
        return self._by_id.get(contract_id.upper())

    def name_of(self, symbol_or_id: str) -> str:
        """The contract name for a bot symbol or a contract id (unknown: returned as is)."""
        contract = self.find(symbol_or_id)
        return contract.name if contract is not None else symbol_or_id

    def instrument(self, symbol: str) -> Instrument:
        """The instrument a bot trading ``symbol`` uses (``symbol`` spelt as the bot does)."""
        return contract_instrument(self.resolve(symbol), symbol)

    def multipliers(self) -> dict[str, Decimal]:
        """Money per point per contract of every contract, by contract name (risk engine)."""
        return {c.name: TickSpec.of(c).multiplier for c in self.contracts()}

    def tick_specs(self) -> Mapping[str, TickSpec]:
        """Tick size and value by contract id."""
        return {c.id: TickSpec.of(c) for c in self._by_id.values()}


async def load_contracts(http: ProjectXHttp, *, live: bool = False) -> list[Contract]:
    """Every contract the gateway offers: ``Contract/available``, or ``Contract/search`` with
    an empty text where a gateway lacks the former (HTTP 404 or a refusal)."""
    try:
        reply = await http.transport.call(AVAILABLE_PATH, {"live": live}, kind=Kind.READ)
    except (ProjectXBadRequest, ProjectXApiError) as exc:
        _log.info("projectx: Contract/available failed (%s); searching instead", exc)
        return await http.search_contracts("", live=live)
    return parse_list(reply, "contracts", parse_contract, "Contract/available")
