"""``POST /exchange`` of the fake Hyperliquid: signature and nonce checks, then the actions.

Replies follow the venue: a refused action is HTTP 200 ``{"status": "err", "response": msg}``;
an accepted one is ``{"status": "ok", "response": {...}}`` with a status per order or cancel.
A body that cannot be deserialized raises ``BadRequest`` (HTTP 422).

``modify`` ("Modify an order" in the exchange-endpoint docs: ``{"type": "modify", "oid": oid
or cloid, "order": <a full order wire>}``) is a cancel-replace, as on the venue: the order is
replaced by a new one with a new oid and the same cloid (the ``orderUpdates`` stream shows the
new oid ``open``, then the old one ``canceled``), and the reply is ``{"status": "ok",
"response": {"type": "default"}}``. Refused as a whole, the order untouched, when the target
is unknown, not open or of another asset ("Cannot modify canceled or filled order") or when the
new price or size is off the grid; a new order that fails at placement (minimum value, margin,
reduce-only, post-only crossing) leaves the old one cancelled and the reply is an ``err``
"Error placing new order during modify: ...".
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from algotrade.venues.hyperliquid.signing import recover_signer

from .orders import Order
from .state import ExchangeState
from .wire import BadRequest, fmt, parse_decimal, price_is_valid, size_is_valid

__all__ = ["NONCE_FUTURE_MS", "NONCE_PAST_MS", "Exchange"]

NONCE_PAST_MS = 2 * 24 * 3600 * 1000
NONCE_FUTURE_MS = 1 * 24 * 3600 * 1000
MIN_VALUE = Decimal(10)
_CLOID = re.compile(r"^0x[0-9a-fA-F]{32}$")
_ACTIONS = ("order", "cancel", "cancelByCloid", "updateLeverage", "scheduleCancel", "modify")
CANNOT_MODIFY = "Cannot modify canceled or filled order"


def _err(message: str) -> dict[str, Any]:
    return {"status": "err", "response": message}


def _ok(kind: str, statuses: list[Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"type": kind}
    if statuses is not None:
        response["data"] = {"statuses": statuses}
    return {"status": "ok", "response": response}


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{what}: expected an integer, got {value!r}")
    return value


def _bool(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise BadRequest(f"{what}: expected a bool, got {value!r}")
    return value


def _cloid(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _CLOID.match(value):
        raise BadRequest(f"{what}: a cloid is 0x and 32 hex digits, got {value!r}")
    return value.lower()


class Exchange:
    """Handles exchange requests against an ``ExchangeState``; records accepted actions."""

    def __init__(self, state: ExchangeState, is_mainnet: bool) -> None:
        self.state = state
        self.is_mainnet = is_mainnet
        self.nonces: dict[str, set[int]] = {}
        self.actions: list[dict[str, Any]] = []

    def handle(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise BadRequest("body must be an object")
        action, signature = body.get("action"), body.get("signature")
        if not isinstance(action, dict) or not isinstance(action.get("type"), str):
            raise BadRequest("action must be an object with a type")
        if not isinstance(signature, dict) or not {"r", "s", "v"} <= signature.keys():
            raise BadRequest("signature must be an object with r, s and v")
        nonce = _int(body.get("nonce"), "nonce")
        vault = body.get("vaultAddress")
        expires = body.get("expiresAfter")
        if vault is not None and not isinstance(vault, str):
            raise BadRequest("vaultAddress must be a string or null")
        if expires is not None:
            expires = _int(expires, "expiresAfter")
        if action["type"] not in _ACTIONS:
            return _err(f"Unknown action type {action['type']!r}")
        try:
            signer = recover_signer(action, nonce, signature, vault, self.is_mainnet, expires)
        except Exception as exc:  # a malformed r/s/v cannot be recovered
            raise BadRequest(f"invalid signature: {exc}") from None
        with self.state.lock:
            return self._authorised(action, nonce, signer.lower(), vault, expires)

    def _authorised(
        self, action: dict[str, Any], nonce: int, signer: str, vault: str | None, expires: Any
    ) -> dict[str, Any]:
        state = self.state
        user = state.signers.get(signer)
        if user is None:
            return _err(f"User or API Wallet {signer} does not exist.")
        now = state.clock()
        if expires is not None and expires < now:
            return _err(f"Action expired: expiresAfter {expires} is before {now}")
        if not now - NONCE_PAST_MS < nonce < now + NONCE_FUTURE_MS:
            return _err(f"Invalid nonce: nonce {nonce} is too far from the current time {now}")
        used = self.nonces.setdefault(signer, set())
        if nonce in used:
            return _err(f"Invalid nonce: duplicate nonce {nonce}")
        if vault is not None:
            if vault.lower() not in state.accounts:
                return _err(f"Vault not registered: {vault.lower()}")
            user = vault.lower()
        used.add(nonce)
        self.actions.append(
            {
                "action": action,
                "nonce": nonce,
                "signer": signer,
                "user": user,
                "vaultAddress": vault,
                "expiresAfter": expires,
                "time": now,
            }
        )
        kind = action["type"]
        if kind == "order":
            return self._orders(user, action)
        if kind == "cancel":
            return self._cancels(user, action, "a", "o")
        if kind == "cancelByCloid":
            return self._cancels(user, action, "asset", "cloid")
        if kind == "updateLeverage":
            return self._leverage(user, action)
        if kind == "modify":
            return self._modify(user, action)
        return _ok("default")  # scheduleCancel: accepted, not enforced

    # ------------------------------------------------------------------ order

    def _orders(self, user: str, action: dict[str, Any]) -> dict[str, Any]:
        wires = action.get("orders")
        if not isinstance(wires, list) or action.get("grouping") not in (
            "na",
            "normalTpsl",
            "positionTpsl",
        ):
            raise BadRequest("order: orders must be a list and grouping na/normalTpsl/positionTpsl")
        parsed = [self._parse(i, w) for i, w in enumerate(wires)]
        placed: list[Order] = []
        statuses = [self._place(user, p, placed) for p in parsed]
        for order in placed:  # a trigger already crossed fires once the reply is built
            if order.waiting_for_trigger and order.is_open and self.state.trigger_hit(order):
                self.state.fire_trigger(order, self.state.clock())
        return _ok("order", statuses)

    def _parse(self, i: int, wire: Any) -> dict[str, Any]:
        what = f"orders[{i}]"
        if not isinstance(wire, dict) or not {"a", "b", "p", "s", "r", "t"} <= wire.keys():
            raise BadRequest(f"{what}: needs a, b, p, s, r and t")
        order_type = wire["t"]
        out: dict[str, Any] = {
            "a": _int(wire["a"], f"{what}.a"),
            "b": _bool(wire["b"], f"{what}.b"),
            "p": parse_decimal(wire["p"], f"{what}.p"),
            "s": parse_decimal(wire["s"], f"{what}.s"),
            "r": _bool(wire["r"], f"{what}.r"),
            "c": _cloid(wire["c"], f"{what}.c") if wire.get("c") is not None else None,
            "tif": None,
            "trigger": None,
        }
        if isinstance(order_type, dict) and isinstance(order_type.get("limit"), dict):
            tif = order_type["limit"].get("tif")
            if tif not in ("Gtc", "Ioc", "Alo"):
                raise BadRequest(f"{what}: tif must be Gtc, Ioc or Alo")
            out["tif"] = tif
        elif isinstance(order_type, dict) and isinstance(order_type.get("trigger"), dict):
            trig = order_type["trigger"]
            if trig.get("tpsl") not in ("tp", "sl"):
                raise BadRequest(f"{what}: tpsl must be tp or sl")
            out["trigger"] = (
                parse_decimal(trig.get("triggerPx"), f"{what}.triggerPx"),
                _bool(trig.get("isMarket"), f"{what}.isMarket"),
                trig["tpsl"],
            )
        else:
            raise BadRequest(f"{what}: t must be a limit or a trigger")
        return out

    def _modify(self, user: str, action: dict[str, Any]) -> dict[str, Any]:
        target = action.get("oid")
        state = self.state
        if isinstance(target, str):
            oid = state.by_cloid.get((user, _cloid(target, "modify.oid")), -1)
        else:
            oid = _int(target, "modify.oid")
        o = self._parse(0, action.get("order"))
        old = state.orders.get(oid)
        if old is None or old.user != user or not old.is_open or old.asset_index != o["a"]:
            return _err(CANNOT_MODIFY)
        sz_decimals = old.asset.sz_decimals
        trigger = o["trigger"]
        if not price_is_valid(o["p"], sz_decimals) or (
            trigger is not None and not price_is_valid(trigger[0], sz_decimals)
        ):
            return _err("Order has invalid price.")
        if not size_is_valid(o["s"], sz_decimals):
            return _err("Order has invalid size.")
        if o["c"] is None:
            o["c"] = old.cloid
        placed: list[Order] = []
        status = self._place(user, o, placed, replacing=old)
        state.set_status(old, "canceled")  # after the replacement's "open", as on the venue
        if "error" in status:
            return _err(f"Error placing new order during modify: {status['error']}")
        for order in placed:
            if order.waiting_for_trigger and order.is_open and state.trigger_hit(order):
                state.fire_trigger(order, state.clock())
        return _ok("default")

    def _place(
        self,
        user: str,
        o: dict[str, Any],
        placed: list[Order],
        replacing: Order | None = None,
    ) -> dict[str, Any]:
        state = self.state
        a = o["a"]
        if not 0 <= a < len(state.assets):
            return {"error": f"Invalid asset {a}."}
        asset = state.assets[a]
        coin, is_buy, px, sz, cloid = asset.name, o["b"], o["p"], o["s"], o["c"]
        if cloid is not None:
            state.cloid_requests[cloid] += 1
            existing = state.orders.get(state.by_cloid.get((user, cloid), -1))
            if (
                existing is not None
                and existing is not replacing
                and not existing.status.lower().endswith("rejected")
            ):
                return {"error": "Order has duplicate cloid."}
        fields: dict[str, Any] = {
            "is_buy": is_buy,
            "limit_px": px,
            "orig_sz": sz,
            "sz": sz,
            "reduce_only": o["r"],
            "tif": o["tif"],
            "cloid": cloid,
        }
        if o["trigger"] is not None:
            fields["trigger_px"], fields["is_market"], fields["tpsl"] = o["trigger"]

        def reject(status: str, message: str) -> dict[str, Any]:
            order = state.new_order(user, a, **fields)
            state.set_status(order, status)
            return {"error": message}

        trigger_px = fields.get("trigger_px")
        if not price_is_valid(px, asset.sz_decimals) or (
            trigger_px is not None and not price_is_valid(trigger_px, asset.sz_decimals)
        ):
            return reject("tickRejected", "Order has invalid price.")
        if not size_is_valid(sz, asset.sz_decimals):
            return reject("rejected", "Order has invalid size.")
        if not o["r"] and px * sz < MIN_VALUE:
            return reject("minTradeNtlRejected", "Order must have minimum value of $10.")
        if o["r"]:
            allowed = state.reducible(user, coin, is_buy)
            if allowed <= 0:
                return reject("reduceOnlyRejected", "Reduce only order would increase position.")
            fields["sz"] = fields["orig_sz"] = min(sz, allowed)
        elif state.enforce_margin:
            _, lev = state.account(user).leverage_of(asset)
            if sz * px / lev > state.free_margin(user):
                return reject(
                    "perpMarginRejected", f"Insufficient margin to place order. asset={a}"
                )
        tif = o["tif"]
        crosses = tif is not None and state.crosses(coin, is_buy, px)
        if tif == "Alo" and crosses:
            bid, ask = state.bbo(coin)
            return reject(
                "badAloPxRejected",
                f"Post only order would have immediately matched, bbo was {fmt(bid)}@{fmt(ask)}. "
                f"asset={a}",
            )
        if tif == "Ioc" and not crosses:
            return reject(
                "iocCancelRejected",
                f"Order could not immediately match against any resting orders. asset={a}",
            )
        order = state.new_order(user, a, **fields)
        placed.append(order)
        if crosses:
            bid, ask = state.bbo(coin)
            fill_px = ask if is_buy else bid
            filled = state.execute(order, fill_px, crossed=True, now=order.timestamp)
            return {"filled": {"totalSz": fmt(filled), "avgPx": fmt(fill_px), "oid": order.oid}}
        state.set_status(order, "open", order.timestamp)
        return {"resting": {"oid": order.oid}}

    # ------------------------------------------------------------------ cancel, leverage

    def _cancels(self, user: str, action: dict[str, Any], a_key: str, o_key: str) -> dict[str, Any]:
        cancels = action.get("cancels")
        if not isinstance(cancels, list) or not all(
            isinstance(c, dict) and {a_key, o_key} <= c.keys() for c in cancels
        ):
            raise BadRequest(f"{action['type']}: cancels must be a list of {{{a_key}, {o_key}}}")
        statuses: list[Any] = []
        for entry in cancels:
            a = _int(entry[a_key], a_key)
            if o_key == "cloid":
                oid = self.state.by_cloid.get((user, _cloid(entry[o_key], o_key)), -1)
            else:
                oid = _int(entry[o_key], o_key)
            order = self.state.orders.get(oid)
            if order is None or order.user != user or order.asset_index != a or not order.is_open:
                statuses.append(
                    {"error": f"Order was never placed, already canceled, or filled. asset={a}"}
                )
                continue
            self.state.set_status(order, "canceled")
            statuses.append("success")
        return _ok("cancel", statuses)

    def _leverage(self, user: str, action: dict[str, Any]) -> dict[str, Any]:
        a = _int(action.get("asset"), "asset")
        is_cross = _bool(action.get("isCross"), "isCross")
        leverage = _int(action.get("leverage"), "leverage")
        if not 0 <= a < len(self.state.assets):
            return _err(f"Invalid asset {a}")
        asset = self.state.assets[a]
        if not 1 <= leverage <= asset.max_leverage:
            return _err("Invalid leverage value")
        if is_cross and asset.margin_mode in ("strictIsolated", "noCross"):
            return _err("Cross margin is not allowed for this asset")
        self.state.account(user).leverage[asset.name] = (
            "cross" if is_cross else "isolated",
            leverage,
        )
        return _ok("default")
