"""``ExchangeClient``: signed actions on Hyperliquid's ``/exchange`` endpoint.

Orders are checked locally before anything is sent: every order must carry a cloid (the
deterministic ``cloid_for`` of our client order id, so a restarted daemon finds its orders
again) and pass ``rules.validate_order``; one bad order in a batch raises ``HlOrderRejected``
naming the rule and nothing is sent. Each action is signed with a fresh, strictly increasing
nonce (``NonceSource``).

Order kinds:

- ``limit``: the given price and time in force.
- ``market``: an IOC limit at ``rules.market_price(mid, side, config.market_slippage)``, with
  the mid given by the caller or read from ``allMids``.
- ``stop``: a trigger order (``isMarket: true``) firing at ``trigger_px``; its limit price is
  the slippage bound around the trigger price unless ``limit_px`` is given.

An action the venue refuses as a whole (``{"status": "err"}``) raises ``HlOrderRejected``
(``rule="venue"``) for orders and modifications and ``HyperliquidError`` for cancels and
leverage changes; per-order refusals come back as ``PlacedOrder(kind="error")``.

``modify`` changes a resting order ("Modify an order": ``{"type": "modify", "oid": <oid or
cloid>, "order": <the full new order>}``). The venue carries it out as a cancel-replace: the
order gets a new oid (same cloid) and ``s`` is the size that will rest, i.e. what is left.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from algotrade.core.money import decimal_text
from algotrade.venues.hyperliquid.config import HlCredentials, HyperliquidConfig
from algotrade.venues.hyperliquid.errors import HlOrderRejected, HlPayloadError, HyperliquidError
from algotrade.venues.hyperliquid.http import HlHttp
from algotrade.venues.hyperliquid.info import InfoClient
from algotrade.venues.hyperliquid.rules import (
    MIN_ORDER_VALUE,
    HlAsset,
    market_price,
    validate_order,
)
from algotrade.venues.hyperliquid.schemas import (
    PlacedOrder,
    action_error,
    parse_cancel_statuses,
    parse_order_statuses,
)
from algotrade.venues.hyperliquid.signing import (
    Grouping,
    cancel_action,
    cancel_by_cloid_action,
    order_action,
    order_type_wire,
    order_wire,
    sign_l1_action,
)

__all__ = [
    "ExchangeClient",
    "NonceSource",
    "OrderKind",
    "OrderSpec",
    "cloid_for",
]

_log = logging.getLogger(__name__)

OrderKind = Literal["limit", "market", "stop"]
TimeInForce = Literal["Gtc", "Ioc", "Alo"]
TpSl = Literal["tp", "sl"]
_KINDS = frozenset({"limit", "market", "stop"})
_TIFS = frozenset({"Gtc", "Ioc", "Alo"})
_CLOID = re.compile(r"0x[0-9a-fA-F]{32}")


def cloid_for(client_order_id: str) -> str:
    """The venue cloid of one of our client order ids: ``0x`` + the first 16 bytes of its
    SHA-256, in hex. Deterministic, so it can be recomputed after a restart."""
    if not client_order_id:
        raise ValueError("client_order_id must not be empty")
    return "0x" + hashlib.sha256(client_order_id.encode("utf-8")).digest()[:16].hex()


class NonceSource:
    """Nonces for signed actions: the clock in ms, strictly increasing even when called
    twice in one millisecond or when the clock steps back."""

    def __init__(self, clock_ms: Callable[[], int] | None = None) -> None:
        self._clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            nonce = max(int(self._clock_ms()), self._last + 1)
            self._last = nonce
            return nonce

    __call__ = next

    @classmethod
    def for_signer(cls, private_key: str) -> NonceSource:
        """The process-wide source of one signing key. Hyperliquid keeps nonces per signer,
        so two clients signing with one key (two bots on one account, a CLI reconcile
        next to a bot) must draw from one sequence, or the same millisecond gives both
        the same nonce and the venue rejects the second action."""
        key = hashlib.sha256(private_key.encode("utf-8")).hexdigest()
        with _SHARED_NONCES_LOCK:
            source = _SHARED_NONCES.get(key)
            if source is None:
                source = _SHARED_NONCES[key] = cls()
            return source


_SHARED_NONCES: dict[str, NonceSource] = {}
_SHARED_NONCES_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderSpec:
    """One order to place. ``cloid`` is required (see ``cloid_for``); ``limit_px`` is required
    for ``limit`` orders, ``trigger_px`` for ``stop`` orders. Prices and sizes must already
    be on Hyperliquid's grids (``rules.round_price``/``round_size``): they are checked, not
    rounded. ``tpsl`` (stops only) defaults to ``"sl"``."""

    coin: str
    is_buy: bool
    size: Decimal
    cloid: str
    kind: OrderKind = "limit"
    limit_px: Decimal | None = None
    tif: TimeInForce = "Gtc"
    reduce_only: bool = False
    trigger_px: Decimal | None = None
    tpsl: TpSl | None = None  # stop orders: None means "sl"

    @property
    def side(self) -> Literal["buy", "sell"]:
        return "buy" if self.is_buy else "sell"


class ExchangeClient:
    """Places and cancels orders and changes leverage for one account.

    ``assets`` maps coin names to their ``HlAsset`` (``InfoClient.assets()``); an order for a
    coin not in it is rejected locally (``rule="unknown_coin"``).
    """

    def __init__(
        self,
        http: HlHttp,
        credentials: HlCredentials,
        config: HyperliquidConfig,
        assets: Mapping[str, HlAsset],
        *,
        nonces: NonceSource | None = None,
    ) -> None:
        self._http = http
        self._credentials = credentials
        self._config = config
        self._assets = assets
        self._nonces = nonces or NonceSource.for_signer(credentials.private_key)
        self._info = InfoClient(http)

    # ------------------------------------------------------------------ orders

    async def place_orders(
        self,
        orders: Sequence[OrderSpec],
        *,
        mid: Decimal | None = None,
        mids: Mapping[str, Decimal] | None = None,
        grouping: Grouping = "na",
    ) -> list[PlacedOrder]:
        """Place a batch; one ``PlacedOrder`` per order, in order.

        Market orders are priced from a mid: ``mid`` when all of the batch's market orders
        are for one coin, else ``mids`` by coin; any coin still missing is read from
        ``allMids``. Raises ``HlOrderRejected`` before sending if any order breaks a local
        rule, or if the venue refuses the whole action (``rule="venue"``)."""
        if not orders:
            return []
        for spec in orders:
            self._check_spec(spec)
        _reject_duplicate_cloids(orders)
        known = await self._mids_for(orders, mid, mids)
        wires = [self._wire(spec, known) for spec in orders]
        action = order_action(wires, grouping)
        payload = await self._send(action, batch_length=len(wires))
        refusal = action_error(payload)
        if refusal is not None:
            raise HlOrderRejected(f"order action refused by the venue: {refusal}", rule="venue")
        placed = parse_order_statuses(payload)
        if len(placed) == 1 and len(wires) > 1 and placed[0].error:
            # "Some errors are a deterministic function of the payload itself ... only one
            # error is returned for the entire payload" (error-responses docs): none placed.
            placed = placed * len(wires)
        if len(placed) != len(wires):
            raise HlPayloadError(
                f"order reply has {len(placed)} statuses for {len(wires)} orders: {payload!r:.300}"
            )
        for spec, result in zip(orders, placed, strict=True):
            _log.info(
                "hyperliquid order %s %s %s %s cloid=%s -> %s%s",
                spec.kind,
                spec.side,
                decimal_text(spec.size),
                spec.coin,
                spec.cloid,
                result.kind,
                f" ({result.error})" if result.error else "",
            )
        return placed

    async def _mids_for(
        self,
        orders: Sequence[OrderSpec],
        mid: Decimal | None,
        mids: Mapping[str, Decimal] | None,
    ) -> dict[str, Decimal]:
        known = dict(mids or {})
        market_coins = {spec.coin for spec in orders if spec.kind == "market"}
        if mid is not None:
            if len(market_coins) > 1:
                raise ValueError(
                    f"mid: one mid price given for market orders on {len(market_coins)} coins "
                    f"({', '.join(sorted(market_coins))}); pass mids by coin instead"
                )
            known.update(dict.fromkeys(market_coins, mid))
        missing = market_coins - known.keys()
        if missing:
            all_mids = await self._info.all_mids()
            for coin in sorted(missing):
                if coin not in all_mids:
                    raise HlOrderRejected(
                        f"{coin}: allMids has no mid price to price a market order", rule="mid"
                    )
                known[coin] = all_mids[coin]
        return known

    def _check_spec(self, spec: OrderSpec) -> None:
        if not isinstance(spec.cloid, str) or not _is_cloid(spec.cloid):
            raise HlOrderRejected(
                f"order for {spec.coin}: cloid {spec.cloid!r} is missing or not 0x + 32 hex "
                "digits (every order carries a cloid; see cloid_for)",
                rule="cloid",
            )
        if spec.coin not in self._assets:
            raise HlOrderRejected(f"unknown coin {spec.coin!r}", rule="unknown_coin")
        if spec.kind not in _KINDS:
            raise HlOrderRejected(
                f"order {spec.cloid}: kind {spec.kind!r} is not one of limit, market, stop",
                rule="kind",
            )
        if spec.tif not in _TIFS:
            raise HlOrderRejected(
                f"order {spec.cloid}: tif {spec.tif!r} is not one of Gtc, Ioc, Alo", rule="tif"
            )
        if spec.kind == "limit" and spec.limit_px is None:
            raise HlOrderRejected(
                f"order {spec.cloid}: a limit order needs limit_px", rule="limit_px"
            )
        if spec.kind == "stop":
            if spec.trigger_px is None:
                raise HlOrderRejected(
                    f"order {spec.cloid}: a stop order needs trigger_px", rule="trigger_px"
                )
            if spec.tpsl not in (None, "tp", "sl"):
                raise HlOrderRejected(
                    f"order {spec.cloid}: tpsl {spec.tpsl!r} is not 'tp' or 'sl'", rule="tpsl"
                )

    def _wire(self, spec: OrderSpec, mids: Mapping[str, Decimal]) -> dict[str, Any]:
        asset = self._assets[spec.coin]
        slippage = self._config.market_slippage
        order_type: dict[str, Any]
        if spec.kind == "limit":
            assert spec.limit_px is not None
            price = spec.limit_px
            order_type = order_type_wire(tif=spec.tif)
        elif spec.kind == "market":
            price = market_price(mids[spec.coin], spec.side, slippage, asset)
            order_type = order_type_wire(tif="Ioc")
        else:
            assert spec.trigger_px is not None
            validate_order(spec.trigger_px, spec.size, asset, min_value=Decimal(0))
            price = (
                spec.limit_px
                if spec.limit_px is not None
                else market_price(spec.trigger_px, spec.side, slippage, asset)
            )
            order_type = order_type_wire(
                trigger_px=spec.trigger_px, is_market=True, tpsl=spec.tpsl or "sl"
            )
        # Reduce-only orders close what is there, however small: the venue has the last word
        # on their value (a leftover below $10 must stay closable).
        validate_order(
            price, spec.size, asset, min_value=Decimal(0) if spec.reduce_only else MIN_ORDER_VALUE
        )
        return order_wire(
            asset.asset, spec.is_buy, price, spec.size, spec.reduce_only, order_type, spec.cloid
        )

    async def modify(
        self, target: int | str, spec: OrderSpec, *, mid: Decimal | None = None
    ) -> None:
        """Replace the resting order ``target`` (its oid, or its cloid) by ``spec`` (same
        checks and pricing as ``place_orders``; ``spec.size`` is the size to rest). Returns
        when the venue accepted it; raises ``HlOrderRejected`` for a local rule or when the
        venue refuses (``rule="venue"``; the message says why, e.g. "Cannot modify canceled
        or filled order")."""
        if isinstance(target, str) and not _is_cloid(target):
            raise ValueError(f"modify target {target!r} is neither an oid nor a cloid")
        self._check_spec(spec)
        wire = self._wire(spec, await self._mids_for([spec], mid, None))
        action = {"type": "modify", "oid": target, "order": wire}
        payload = await self._send(action, batch_length=1)
        refusal = action_error(payload)
        if refusal is None:
            refusal = _modify_status_error(payload)
        if refusal is not None:
            raise HlOrderRejected(f"modify refused by the venue: {refusal}", rule="venue")
        _log.info(
            "hyperliquid modify %s -> %s %s %s %s cloid=%s",
            target,
            spec.kind,
            spec.side,
            decimal_text(spec.size),
            spec.coin,
            spec.cloid,
        )

    # ------------------------------------------------------------------ cancels, leverage

    async def cancel(self, coin: str, oid: int) -> str:
        """Cancel by venue order id: ``"success"`` or the venue's reason."""
        action = cancel_action([(self._asset(coin).asset, oid)])
        return await self._cancel(action, "cancel", f"cancel {coin} oid {oid}")

    async def cancel_by_cloid(self, coin: str, cloid: str) -> str:
        """Cancel by client order id: ``"success"`` or the venue's reason."""
        if not _is_cloid(cloid):
            raise ValueError(f"cloid {cloid!r} is not 0x + 32 hex digits")
        action = cancel_by_cloid_action([(self._asset(coin).asset, cloid)])
        return await self._cancel(action, "cancelByCloid", f"cancel {coin} cloid {cloid}")

    async def _cancel(self, action: dict[str, Any], kind: str, what: str) -> str:
        payload = await self._send(action, batch_length=1)
        refusal = action_error(payload)
        if refusal is not None:
            raise HyperliquidError(f"{what}: refused by the venue: {refusal}")
        statuses = parse_cancel_statuses(payload, kind)
        if len(statuses) != 1:
            raise HlPayloadError(f"{what}: expected one status, got {payload!r:.300}")
        _log.info("hyperliquid %s -> %s", what, statuses[0])
        return statuses[0]

    async def update_leverage(self, coin: str, leverage: int, is_cross: bool | None = None) -> None:
        """Set the leverage (and cross/isolated margin) used for ``coin``; by default cross
        margin, or isolated where the venue allows nothing else."""
        asset = self._asset(coin)
        if is_cross is None:
            is_cross = not asset.isolated_only
        if isinstance(leverage, bool) or not 1 <= leverage <= asset.max_leverage:
            raise HyperliquidError(
                f"leverage {leverage} for {coin} is outside 1..{asset.max_leverage}"
            )
        action = {
            "type": "updateLeverage",
            "asset": asset.asset,
            "isCross": is_cross,
            "leverage": leverage,
        }
        payload = await self._send(action, batch_length=1)
        refusal = action_error(payload)
        if refusal is not None:
            raise HyperliquidError(f"update leverage {coin} to {leverage}: refused: {refusal}")

    # ------------------------------------------------------------------ internals

    def _asset(self, coin: str) -> HlAsset:
        asset = self._assets.get(coin)
        if asset is None:
            raise HyperliquidError(f"unknown coin {coin!r}")
        return asset

    async def _send(self, action: dict[str, Any], *, batch_length: int) -> Any:
        nonce = self._nonces.next()
        vault = self._config.vault_address
        signature = sign_l1_action(
            self._credentials.private_key, action, vault, nonce, self._config.is_mainnet
        )
        body = {"action": action, "nonce": nonce, "signature": signature, "vaultAddress": vault}
        return await self._http.exchange(body, batch_length=batch_length)


def _modify_status_error(payload: Any) -> str | None:
    """The documented reply is ``{"type": "default"}``; a reply carrying order statuses (as
    ``batchModify`` answers) is read too, and its error, if any, returned."""
    response = payload.get("response")
    data = response.get("data") if isinstance(response, dict) else None
    if not isinstance(data, dict) or "statuses" not in data:
        return None
    placed = parse_order_statuses(payload)
    return next((p.error or "error" for p in placed if p.kind == "error"), None)


def _is_cloid(cloid: str) -> bool:
    return _CLOID.fullmatch(cloid) is not None


def _reject_duplicate_cloids(orders: Sequence[OrderSpec]) -> None:
    seen: set[str] = set()
    for spec in orders:
        if spec.cloid in seen:
            raise HlOrderRejected(f"cloid {spec.cloid} appears twice in one batch", rule="cloid")
        seen.add(spec.cloid)
