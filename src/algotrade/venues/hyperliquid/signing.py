"""Hyperliquid action signing, compatible with the official ``hyperliquid-python-sdk``.

Two signature schemes exist on Hyperliquid:

* **L1 actions** (orders, cancels, schedule-cancel, sub-account actions, ...). The action is
  msgpack-encoded, followed by the nonce (8 bytes, big-endian), a vault flag byte (``0x00`` for
  none, ``0x01`` followed by the 20 vault address bytes) and, only when given, a ``0x00`` byte and
  ``expiresAfter`` (8 bytes, big-endian). The keccak-256 of that blob becomes the ``connectionId``
  of a "phantom agent" ``{source, connectionId}`` (source ``"a"`` on mainnet, ``"b"`` on testnet)
  which is signed as EIP-712 typed data under the ``Exchange`` domain (chain id 1337).
* **User-signed actions** (usdSend, withdraw3, approveAgent, ...). The action itself is the
  EIP-712 message under the ``HyperliquidSignTransaction`` domain, with the chain id taken from the
  action's ``signatureChainId`` and the environment pinned by ``hyperliquidChain``.

Signatures are returned as ``{"r": "0x..", "s": "0x..", "v": 27|28}`` where ``r``/``s`` are
minimal hex (no zero padding), exactly as the SDK emits them.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal

import coincurve
import msgpack
from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

__all__ = [
    "APPROVE_AGENT_TYPES",
    "DEFAULT_SIGNATURE_CHAIN_ID",
    "USD_SEND_TYPES",
    "WITHDRAW_TYPES",
    "action_hash",
    "cancel_action",
    "cancel_by_cloid_action",
    "float_to_wire",
    "l1_digest",
    "l1_typed_data",
    "order_action",
    "order_type_wire",
    "order_wire",
    "phantom_agent",
    "recover_signer",
    "recover_user_signed_signer",
    "sign_l1_action",
    "sign_user_signed_action",
    "user_signed_typed_data",
    "with_user_signed_fields",
]

Tif = Literal["Alo", "Ioc", "Gtc"]
Tpsl = Literal["tp", "sl"]
Grouping = Literal["na", "normalTpsl", "positionTpsl"]
Signature = dict[str, Any]

_ZERO_ADDRESS = "0x" + "00" * 20
_EIP712_DOMAIN_FIELDS: list[dict[str, str]] = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
_AGENT_FIELDS: list[dict[str, str]] = [
    {"name": "source", "type": "string"},
    {"name": "connectionId", "type": "bytes32"},
]

#: Chain id (hex string) the SDK uses as ``signatureChainId`` for user-signed actions (421614).
DEFAULT_SIGNATURE_CHAIN_ID = "0x66eee"

USD_SEND_TYPES: list[dict[str, str]] = [
    {"name": "hyperliquidChain", "type": "string"},
    {"name": "destination", "type": "string"},
    {"name": "amount", "type": "string"},
    {"name": "time", "type": "uint64"},
]
WITHDRAW_TYPES: list[dict[str, str]] = list(USD_SEND_TYPES)
APPROVE_AGENT_TYPES: list[dict[str, str]] = [
    {"name": "hyperliquidChain", "type": "string"},
    {"name": "agentAddress", "type": "address"},
    {"name": "agentName", "type": "string"},
    {"name": "nonce", "type": "uint64"},
]

_WIRE_DECIMALS = Decimal("0.00000001")
_WIRE_TOLERANCE = Decimal("1e-12")


# --------------------------------------------------------------------------- wire formats


def float_to_wire(x: Decimal | float | int) -> str:
    """Render a price/size the way Hyperliquid expects: at most 8 decimals, no trailing zeros.

    Raises ``ValueError`` if the value cannot be represented with 8 decimals (within 1e-12).
    """
    if isinstance(x, bool):
        raise TypeError("float_to_wire expects a number, not bool")
    exact = x if isinstance(x, Decimal) else Decimal(repr(float(x)))
    if not exact.is_finite():
        raise ValueError(f"float_to_wire: non-finite value {x!r}")
    rounded = exact.quantize(_WIRE_DECIMALS)
    if abs(rounded - exact) >= _WIRE_TOLERANCE:
        raise ValueError(f"float_to_wire causes rounding: {x!r}")
    if rounded.is_zero():
        return "0"
    return f"{rounded.normalize():f}"


def order_type_wire(
    *,
    tif: Tif | None = None,
    trigger_px: Decimal | float | None = None,
    is_market: bool = True,
    tpsl: Tpsl | None = None,
) -> dict[str, Any]:
    """Build the ``t`` field: ``{"limit": {"tif"}}`` or ``{"trigger": {..}}``.

    The trigger form carries ``isMarket``, ``triggerPx`` (wire string) and ``tpsl``, in that order.
    """
    if tif is not None:
        if trigger_px is not None or tpsl is not None:
            raise ValueError("an order type is either limit (tif) or trigger, not both")
        return {"limit": {"tif": tif}}
    if trigger_px is None or tpsl is None:
        raise ValueError("trigger orders need trigger_px and tpsl")
    # Key order matters: msgpack preserves it and therefore the action hash depends on it.
    return {
        "trigger": {"isMarket": is_market, "triggerPx": float_to_wire(trigger_px), "tpsl": tpsl}
    }


def order_wire(
    asset: int,
    is_buy: bool,
    limit_px: Decimal | float,
    sz: Decimal | float,
    reduce_only: bool,
    order_type: Mapping[str, Any],
    cloid: str | None = None,
) -> dict[str, Any]:
    """One order in wire form (``a``, ``b``, ``p``, ``s``, ``r``, ``t`` and optional ``c``).

    ``order_type`` is either already in wire form (``{"limit": {"tif": "Gtc"}}``, a trigger with a
    string ``triggerPx``) or a trigger with a numeric ``triggerPx`` which is converted here.
    ``cloid`` is a 16-byte hex string such as ``"0x0000...0001"``.
    """
    wire: dict[str, Any] = {
        "a": asset,
        "b": is_buy,
        "p": float_to_wire(limit_px),
        "s": float_to_wire(sz),
        "r": reduce_only,
        "t": _normalise_order_type(order_type),
    }
    if cloid is not None:
        wire["c"] = _validate_cloid(cloid)
    return wire


def order_action(
    orders: Sequence[Mapping[str, Any]],
    grouping: Grouping = "na",
    builder: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``order`` L1 action wrapping order wires."""
    action: dict[str, Any] = {"type": "order", "orders": [dict(o) for o in orders]}
    action["grouping"] = grouping
    if builder:
        action["builder"] = dict(builder)
    return action


def cancel_action(cancels: Sequence[tuple[int, int]]) -> dict[str, Any]:
    """``cancel`` action from ``(asset, oid)`` pairs."""
    return {"type": "cancel", "cancels": [{"a": asset, "o": oid} for asset, oid in cancels]}


def cancel_by_cloid_action(cancels: Sequence[tuple[int, str]]) -> dict[str, Any]:
    """``cancelByCloid`` action from ``(asset, cloid)`` pairs."""
    return {
        "type": "cancelByCloid",
        "cancels": [{"asset": asset, "cloid": _validate_cloid(c)} for asset, c in cancels],
    }


def _normalise_order_type(order_type: Mapping[str, Any]) -> dict[str, Any]:
    if "limit" in order_type:
        return {"limit": {"tif": order_type["limit"]["tif"]}}
    if "trigger" in order_type:
        trig = order_type["trigger"]
        px = trig["triggerPx"]
        return {
            "trigger": {
                "isMarket": bool(trig["isMarket"]),
                "triggerPx": px if isinstance(px, str) else float_to_wire(px),
                "tpsl": trig["tpsl"],
            }
        }
    raise ValueError(f"invalid order type: {order_type!r}")


def _validate_cloid(cloid: str) -> str:
    body = cloid[2:] if cloid.startswith("0x") else ""
    if len(body) != 32:
        raise ValueError(f"cloid must be 0x followed by 32 hex digits: {cloid!r}")
    int(body, 16)  # raises ValueError for non-hex
    return cloid


# --------------------------------------------------------------------------- L1 actions


def _address_bytes(address: str) -> bytes:
    raw = bytes.fromhex(address.removeprefix("0x"))
    if len(raw) != 20:
        raise ValueError(f"not a 20-byte address: {address!r}")
    return raw


def action_hash(
    action: Any,
    vault_address: str | None,
    nonce: int,
    expires_after: int | None = None,
) -> bytes:
    """keccak256(msgpack(action) || nonce_be8 || vault flag[+addr] [|| 0x00 || expires_be8])."""
    packed = msgpack.packb(action)
    if not isinstance(packed, bytes):  # pragma: no cover - msgpack always returns bytes here
        raise TypeError("msgpack did not return bytes")
    blob = bytearray(packed)
    blob += nonce.to_bytes(8, "big")
    if vault_address is None:
        blob += b"\x00"
    else:
        blob += b"\x01" + _address_bytes(vault_address)
    if expires_after is not None:
        blob += b"\x00" + expires_after.to_bytes(8, "big")
    return bytes(keccak(bytes(blob)))


def phantom_agent(connection_id: bytes, is_mainnet: bool) -> dict[str, Any]:
    return {"source": "a" if is_mainnet else "b", "connectionId": connection_id}


def l1_typed_data(connection_id: bytes, is_mainnet: bool) -> dict[str, Any]:
    """Full EIP-712 payload for an L1 action's phantom agent."""
    return {
        "domain": {
            "chainId": 1337,
            "name": "Exchange",
            "verifyingContract": _ZERO_ADDRESS,
            "version": "1",
        },
        "types": {"Agent": _AGENT_FIELDS, "EIP712Domain": _EIP712_DOMAIN_FIELDS},
        "primaryType": "Agent",
        "message": phantom_agent(connection_id, is_mainnet),
    }


def _l1_signable(
    action: Any,
    vault_address: str | None,
    nonce: int,
    is_mainnet: bool,
    expires_after: int | None,
) -> SignableMessage:
    digest = action_hash(action, vault_address, nonce, expires_after)
    return encode_typed_data(full_message=l1_typed_data(digest, is_mainnet))


@functools.lru_cache(maxsize=8)
def _local_account(private_key: str) -> LocalAccount:
    # Parsing a key derives its public key (an elliptic-curve multiplication): once per key,
    # not once per signature.
    account: LocalAccount = Account.from_key(private_key)
    return account


def _sign(private_key: str, signable: SignableMessage) -> Signature:
    signed = _local_account(private_key).sign_message(signable)
    return {"r": hex(signed.r), "s": hex(signed.s), "v": int(signed.v)}


def _recover(signable: SignableMessage, signature: Mapping[str, Any]) -> str:
    vrs = (_as_int(signature["v"]), _as_int(signature["r"]), _as_int(signature["s"]))
    return to_checksum_address(Account.recover_message(signable, vrs=vrs))


def _as_int(value: int | str) -> int:
    return value if isinstance(value, int) else int(value, 16)


# The L1 EIP-712 digest has one shape (domain "Exchange" v1 on chain 1337, struct
# Agent(string source, bytes32 connectionId)), so it is hashed here directly: eth-account's
# generic typed-data encoder costs ~0.5 ms per order. l1_digest equals the hash of
# l1_typed_data (tested), and recover_signer keeps the generic path as the cross-check.
_DOMAIN_SEPARATOR = keccak(
    keccak(b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
    + keccak(b"Exchange")
    + keccak(b"1")
    + (1337).to_bytes(32, "big")
    + bytes(32)
)
_AGENT_TYPEHASH = keccak(b"Agent(string source,bytes32 connectionId)")
_SOURCE_HASH = {True: keccak(b"a"), False: keccak(b"b")}


def l1_digest(
    action: Any,
    vault_address: str | None,
    nonce: int,
    is_mainnet: bool,
    expires_after: int | None = None,
) -> bytes:
    """The 32-byte EIP-712 digest an L1 action's signature signs."""
    connection_id = action_hash(action, vault_address, nonce, expires_after)
    struct = keccak(_AGENT_TYPEHASH + _SOURCE_HASH[is_mainnet] + connection_id)
    return keccak(b"\x19\x01" + _DOMAIN_SEPARATOR + struct)


def sign_l1_action(
    private_key: str,
    action: Any,
    vault_address: str | None,
    nonce: int,
    is_mainnet: bool,
    expires_after: int | None = None,
) -> Signature:
    """Sign an L1 action; returns ``{"r", "s", "v"}`` as the exchange endpoint expects."""
    digest = l1_digest(action, vault_address, nonce, is_mainnet, expires_after)
    # libsecp256k1 directly: RFC 6979 nonces and low-s, the same signature eth-keys gives.
    raw = _secp256k1_key(private_key).sign_recoverable(digest, hasher=None)
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big")
    return {"r": hex(r), "s": hex(s), "v": raw[64] + 27}


@functools.lru_cache(maxsize=8)
def _secp256k1_key(private_key: str) -> coincurve.PrivateKey:
    return coincurve.PrivateKey(bytes.fromhex(private_key.removeprefix("0x")))


def recover_signer(
    action: Any,
    nonce: int,
    signature: Mapping[str, Any],
    vault_address: str | None,
    is_mainnet: bool,
    expires_after: int | None = None,
) -> str:
    """Checksum address of whoever signed ``action`` (an agent wallet or the user)."""
    signable = _l1_signable(action, vault_address, nonce, is_mainnet, expires_after)
    return _recover(signable, signature)


# --------------------------------------------------------------------------- user-signed actions


def with_user_signed_fields(
    action: Mapping[str, Any],
    is_mainnet: bool,
    signature_chain_id: str = DEFAULT_SIGNATURE_CHAIN_ID,
) -> dict[str, Any]:
    """Copy of ``action`` with ``signatureChainId`` and ``hyperliquidChain`` set (as sent)."""
    out = dict(action)
    out["signatureChainId"] = signature_chain_id
    out["hyperliquidChain"] = "Mainnet" if is_mainnet else "Testnet"
    return out


def user_signed_typed_data(
    action: Mapping[str, Any],
    payload_types: Sequence[Mapping[str, str]],
    primary_type: str,
) -> dict[str, Any]:
    """EIP-712 payload for a user-signed action (which must carry ``signatureChainId``)."""
    return {
        "domain": {
            "name": "HyperliquidSignTransaction",
            "version": "1",
            "chainId": int(action["signatureChainId"], 16),
            "verifyingContract": _ZERO_ADDRESS,
        },
        "types": {
            primary_type: [dict(t) for t in payload_types],
            "EIP712Domain": _EIP712_DOMAIN_FIELDS,
        },
        "primaryType": primary_type,
        "message": dict(action),
    }


def sign_user_signed_action(
    private_key: str,
    action: Mapping[str, Any],
    payload_types: Sequence[Mapping[str, str]],
    primary_type: str,
) -> Signature:
    """Sign a user-signed action, e.g. ``primary_type="HyperliquidTransaction:UsdSend"``.

    ``action`` must already contain ``signatureChainId`` and ``hyperliquidChain``
    (see :func:`with_user_signed_fields`); fields not listed in ``payload_types`` are ignored.
    """
    data = user_signed_typed_data(action, payload_types, primary_type)
    return _sign(private_key, encode_typed_data(full_message=data))


def recover_user_signed_signer(
    action: Mapping[str, Any],
    signature: Mapping[str, Any],
    payload_types: Sequence[Mapping[str, str]],
    primary_type: str,
) -> str:
    data = user_signed_typed_data(action, payload_types, primary_type)
    return _recover(encode_typed_data(full_message=data), signature)
