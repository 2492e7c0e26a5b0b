"""Hyperliquid signing checked against the SDK's published vectors (tests/signing_test.py).

Vectors were taken from hyperliquid-dex/hyperliquid-python-sdk (commit 04f25f28, msgpack-based
L1 signing). Values such as ``1000`` hashed via the SDK's ``float_to_int_for_hashing`` are written
out as their integer result (1000 * 10**8).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak

from algotrade.venues.hyperliquid.signing import (
    USD_SEND_TYPES,
    WITHDRAW_TYPES,
    action_hash,
    cancel_action,
    cancel_by_cloid_action,
    float_to_wire,
    l1_digest,
    l1_typed_data,
    order_action,
    order_type_wire,
    order_wire,
    recover_signer,
    recover_user_signed_signer,
    sign_l1_action,
    sign_user_signed_action,
    with_user_signed_fields,
)

KEY = "0x0123456789012345678901234567890123456789012345678901234567890123"
ADDRESS = Account.from_key(KEY).address
VAULT = "0x1719884eb866cb12b2287399b15f7db5e7d775ea"
DUMMY_ACTION: dict[str, Any] = {"type": "dummy", "num": 1000 * 10**8}


def _sig(r: str, s: str, v: int) -> dict[str, Any]:
    return {"r": r, "s": s, "v": v}


def _limit_order(cloid: str | None = None) -> dict[str, Any]:
    return order_action(
        [order_wire(1, True, 100, 100, False, order_type_wire(tif="Gtc"), cloid=cloid)]
    )


# --------------------------------------------------------------------------- published vectors


def test_phantom_agent_creation_matches_production() -> None:
    action = order_action([order_wire(4, True, 1670.1, 0.0147, False, order_type_wire(tif="Ioc"))])
    digest = action_hash(action, None, 1677777606040)
    assert "0x" + digest.hex() == (
        "0x0fcbeda5ae3c4950a548021552a4fea2226858c4453571bf3f24ba017eac2908"
    )


def test_phantom_agent_creation_matches_production_with_decimal_inputs() -> None:
    action = order_action(
        [
            order_wire(
                4, True, Decimal("1670.1"), Decimal("0.0147"), False, order_type_wire(tif="Ioc")
            )
        ]
    )
    digest = action_hash(action, None, 1677777606040)
    assert digest.hex() == "0fcbeda5ae3c4950a548021552a4fea2226858c4453571bf3f24ba017eac2908"


L1_VECTORS: list[tuple[str, dict[str, Any], str | None, bool, dict[str, Any]]] = [
    (
        "l1_action_signing_matches/mainnet",
        DUMMY_ACTION,
        None,
        True,
        _sig(
            "0x53749d5b30552aeb2fca34b530185976545bb22d0b3ce6f62e31be961a59298",
            "0x755c40ba9bf05223521753995abb2f73ab3229be8ec921f350cb447e384d8ed8",
            27,
        ),
    ),
    (
        "l1_action_signing_matches/testnet",
        DUMMY_ACTION,
        None,
        False,
        _sig(
            "0x542af61ef1f429707e3c76c5293c80d01f74ef853e34b76efffcb57e574f9510",
            "0x17b8b32f086e8cdede991f1e2c529f5dd5297cbe8128500e00cbaf766204a613",
            28,
        ),
    ),
    (
        "l1_action_signing_order_matches/mainnet",
        _limit_order(),
        None,
        True,
        _sig(
            "0xd65369825a9df5d80099e513cce430311d7d26ddf477f5b3a33d2806b100d78e",
            "0x2b54116ff64054968aa237c20ca9ff68000f977c93289157748a3162b6ea940e",
            28,
        ),
    ),
    (
        "l1_action_signing_order_matches/testnet",
        _limit_order(),
        None,
        False,
        _sig(
            "0x82b2ba28e76b3d761093aaded1b1cdad4960b3af30212b343fb2e6cdfa4e3d54",
            "0x6b53878fc99d26047f4d7e8c90eb98955a109f44209163f52d8dc4278cbbd9f5",
            27,
        ),
    ),
    (
        "l1_action_signing_order_with_cloid_matches/mainnet",
        _limit_order("0x00000000000000000000000000000001"),
        None,
        True,
        _sig(
            "0x41ae18e8239a56cacbc5dad94d45d0b747e5da11ad564077fcac71277a946e3",
            "0x3c61f667e747404fe7eea8f90ab0e76cc12ce60270438b2058324681a00116da",
            27,
        ),
    ),
    (
        "l1_action_signing_order_with_cloid_matches/testnet",
        _limit_order("0x00000000000000000000000000000001"),
        None,
        False,
        _sig(
            "0xeba0664bed2676fc4e5a743bf89e5c7501aa6d870bdb9446e122c9466c5cd16d",
            "0x7f3e74825c9114bc59086f1eebea2928c190fdfbfde144827cb02b85bbe90988",
            28,
        ),
    ),
    (
        "l1_action_signing_matches_with_vault/mainnet",
        DUMMY_ACTION,
        VAULT,
        True,
        _sig(
            "0x3c548db75e479f8012acf3000ca3a6b05606bc2ec0c29c50c515066a326239",
            "0x4d402be7396ce74fbba3795769cda45aec00dc3125a984f2a9f23177b190da2c",
            28,
        ),
    ),
    (
        "l1_action_signing_matches_with_vault/testnet",
        DUMMY_ACTION,
        VAULT,
        False,
        _sig(
            "0xe281d2fb5c6e25ca01601f878e4d69c965bb598b88fac58e475dd1f5e56c362b",
            "0x7ddad27e9a238d045c035bc606349d075d5c5cd00a6cd1da23ab5c39d4ef0f60",
            27,
        ),
    ),
    (
        "l1_action_signing_tpsl_order_matches/mainnet",
        order_action(
            [order_wire(1, True, 100, 100, False, order_type_wire(trigger_px=103, tpsl="sl"))]
        ),
        None,
        True,
        _sig(
            "0x98343f2b5ae8e26bb2587daad3863bc70d8792b09af1841b6fdd530a2065a3f9",
            "0x6b5bb6bb0633b710aa22b721dd9dee6d083646a5f8e581a20b545be6c1feb405",
            27,
        ),
    ),
    (
        "l1_action_signing_tpsl_order_matches/testnet",
        order_action(
            [
                order_wire(
                    1,
                    True,
                    100,
                    100,
                    False,
                    {"trigger": {"triggerPx": 103, "isMarket": True, "tpsl": "sl"}},
                )
            ]
        ),
        None,
        False,
        _sig(
            "0x971c554d917c44e0e1b6cc45d8f9404f32172a9d3b3566262347d0302896a2e4",
            "0x206257b104788f80450f8e786c329daa589aa0b32ba96948201ae556d5637eac",
            28,
        ),
    ),
    (
        "create_sub_account_action/mainnet",
        {"type": "createSubAccount", "name": "example"},
        None,
        True,
        _sig(
            "0x51096fe3239421d16b671e192f574ae24ae14329099b6db28e479b86cdd6caa7",
            "0xb71f7d293af92d3772572afb8b102d167a7cef7473388286bc01f52a5c5b423",
            27,
        ),
    ),
    (
        "create_sub_account_action/testnet",
        {"type": "createSubAccount", "name": "example"},
        None,
        False,
        _sig(
            "0xa699e3ed5c2b89628c746d3298b5dc1cca604694c2c855da8bb8250ec8014a5b",
            "0x53f1b8153a301c72ecc655b1c315d64e1dcea3ee58921fd7507e35818fcc1584",
            28,
        ),
    ),
    (
        "sub_account_transfer_action/mainnet",
        {
            "type": "subAccountTransfer",
            "subAccountUser": "0x1d9470d4b963f552e6f671a81619d395877bf409",
            "isDeposit": True,
            "usd": 10,
        },
        None,
        True,
        _sig(
            "0x43592d7c6c7d816ece2e206f174be61249d651944932b13343f4d13f306ae602",
            "0x71a926cb5c9a7c01c3359ec4c4c34c16ff8107d610994d4de0e6430e5cc0f4c9",
            28,
        ),
    ),
    (
        "sub_account_transfer_action/testnet",
        {
            "type": "subAccountTransfer",
            "subAccountUser": "0x1d9470d4b963f552e6f671a81619d395877bf409",
            "isDeposit": True,
            "usd": 10,
        },
        None,
        False,
        _sig(
            "0xe26574013395ad55ee2f4e0575310f003c5bb3351b5425482e2969fa51543927",
            "0xefb08999196366871f919fd0e138b3a7f30ee33e678df7cfaf203e25f0a4278",
            28,
        ),
    ),
    (
        "schedule_cancel_action/no_time/mainnet",
        {"type": "scheduleCancel"},
        None,
        True,
        _sig(
            "0x6cdfb286702f5917e76cd9b3b8bf678fcc49aec194c02a73e6d4f16891195df9",
            "0x6557ac307fa05d25b8d61f21fb8a938e703b3d9bf575f6717ba21ec61261b2a0",
            27,
        ),
    ),
    (
        "schedule_cancel_action/no_time/testnet",
        {"type": "scheduleCancel"},
        None,
        False,
        _sig(
            "0xc75bb195c3f6a4e06b7d395acc20bbb224f6d23ccff7c6a26d327304e6efaeed",
            "0x342f8ede109a29f2c0723bd5efb9e9100e3bbb493f8fb5164ee3d385908233df",
            28,
        ),
    ),
    (
        "schedule_cancel_action/time/mainnet",
        {"type": "scheduleCancel", "time": 123456789},
        None,
        True,
        _sig(
            "0x609cb20c737945d070716dcc696ba030e9976fcf5edad87afa7d877493109d55",
            "0x16c685d63b5c7a04512d73f183b3d7a00da5406ff1f8aad33f8ae2163bab758b",
            28,
        ),
    ),
    (
        "schedule_cancel_action/time/testnet",
        {"type": "scheduleCancel", "time": 123456789},
        None,
        False,
        _sig(
            "0x4e4f2dbd4107c69783e251b7e1057d9f2b9d11cee213441ccfa2be63516dc5bc",
            "0x706c656b23428c8ba356d68db207e11139ede1670481a9e01ae2dfcdb0e1a678",
            27,
        ),
    ),
]


@pytest.mark.parametrize(
    ("action", "vault", "is_mainnet", "expected"),
    [pytest.param(a, va, m, e, id=name) for name, a, va, m, e in L1_VECTORS],
)
def test_l1_vectors(
    action: dict[str, Any], vault: str | None, is_mainnet: bool, expected: dict[str, Any]
) -> None:
    assert sign_l1_action(KEY, action, vault, 0, is_mainnet) == expected
    assert recover_signer(action, 0, expected, vault, is_mainnet) == ADDRESS


USER_SIGNED_DESTINATION = "0x5e9ee1089755c3435139848e47e6635505d5a13a"


@pytest.mark.parametrize(
    ("types", "primary", "expected"),
    [
        pytest.param(
            USD_SEND_TYPES,
            "HyperliquidTransaction:UsdSend",
            _sig(
                "0x637b37dd731507cdd24f46532ca8ba6eec616952c56218baeff04144e4a77073",
                "0x11a6a24900e6e314136d2592e2f8d502cd89b7c15b198e1bee043c9589f9fad7",
                27,
            ),
            id="sign_usd_transfer_action",
        ),
        pytest.param(
            WITHDRAW_TYPES,
            "HyperliquidTransaction:Withdraw",
            _sig(
                "0x8363524c799e90ce9bc41022f7c39b4e9bdba786e5f9c72b20e43e1462c37cf9",
                "0x58b1411a775938b83e29182e8ef74975f9054c8e97ebf5ec2dc8d51bfc893881",
                28,
            ),
            id="sign_withdraw_from_bridge_action",
        ),
    ],
)
def test_user_signed_vectors(
    types: list[dict[str, str]], primary: str, expected: dict[str, Any]
) -> None:
    message = {"destination": USER_SIGNED_DESTINATION, "amount": "1", "time": 1687816341423}
    action = with_user_signed_fields(message, is_mainnet=False)
    assert action["signatureChainId"] == "0x66eee"
    assert action["hyperliquidChain"] == "Testnet"
    assert "hyperliquidChain" not in message  # input not mutated
    assert sign_user_signed_action(KEY, action, types, primary) == expected
    assert recover_user_signed_signer(action, expected, types, primary) == ADDRESS


# --------------------------------------------------------------------------- float_to_wire


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (100, "100"),
        (1670.1, "1670.1"),
        (0.0147, "0.0147"),
        (0.1 + 0.2, "0.3"),
        (1e-8, "0.00000001"),
        (123123123123.0, "123123123123"),
        (-0.0, "0"),
        (0, "0"),
        (-1.5, "-1.5"),
        (Decimal("1670.10000000"), "1670.1"),
        (Decimal("0.00001231"), "0.00001231"),
        (Decimal("1E+3"), "1000"),
        (Decimal("-0"), "0"),
    ],
)
def test_float_to_wire(value: Decimal | float, expected: str) -> None:
    assert float_to_wire(value) == expected


@pytest.mark.parametrize("value", [0.000012312312, Decimal("0.123456789"), 1e-9])
def test_float_to_wire_rejects_rounding(value: Decimal | float) -> None:
    with pytest.raises(ValueError, match="rounding"):
        float_to_wire(value)


def test_float_to_wire_rejects_non_finite() -> None:
    with pytest.raises(ValueError, match="non-finite"):
        float_to_wire(float("nan"))


# --------------------------------------------------------------------------- wire builders


def test_order_wire_shape_and_key_order() -> None:
    wire = order_wire(
        3,
        False,
        Decimal("2000.5"),
        Decimal("0.25"),
        True,
        order_type_wire(trigger_px=Decimal("1999"), is_market=False, tpsl="tp"),
        cloid="0x000000000000000000000000000000ff",
    )
    assert wire == {
        "a": 3,
        "b": False,
        "p": "2000.5",
        "s": "0.25",
        "r": True,
        "t": {"trigger": {"isMarket": False, "triggerPx": "1999", "tpsl": "tp"}},
        "c": "0x000000000000000000000000000000ff",
    }
    assert list(wire) == ["a", "b", "p", "s", "r", "t", "c"]
    assert list(wire["t"]["trigger"]) == ["isMarket", "triggerPx", "tpsl"]
    action = order_action([wire], grouping="normalTpsl")
    assert action == {"type": "order", "orders": [wire], "grouping": "normalTpsl"}
    assert list(action) == ["type", "orders", "grouping"]


def test_order_type_wire_validation() -> None:
    with pytest.raises(ValueError, match="either"):
        order_type_wire(tif="Gtc", trigger_px=1, tpsl="sl")
    with pytest.raises(ValueError, match="trigger"):
        order_type_wire()
    with pytest.raises(ValueError, match="invalid order type"):
        order_wire(1, True, 1, 1, False, {"market": {}})


def test_invalid_cloid_rejected() -> None:
    with pytest.raises(ValueError, match="cloid"):
        order_wire(1, True, 1, 1, False, order_type_wire(tif="Alo"), cloid="0x01")


def test_cancel_actions() -> None:
    assert cancel_action([(1, 42), (2, 7)]) == {
        "type": "cancel",
        "cancels": [{"a": 1, "o": 42}, {"a": 2, "o": 7}],
    }
    cloid = "0x00000000000000000000000000000001"
    assert cancel_by_cloid_action([(5, cloid)]) == {
        "type": "cancelByCloid",
        "cancels": [{"asset": 5, "cloid": cloid}],
    }


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("is_mainnet", [True, False])
@pytest.mark.parametrize("vault", [None, VAULT])
@pytest.mark.parametrize("expires_after", [None, 1_700_000_000_000])
def test_round_trip(is_mainnet: bool, vault: str | None, expires_after: int | None) -> None:
    key = "0x" + "11" * 32
    address = Account.from_key(key).address
    action = cancel_action([(0, 123)])
    nonce = 1_700_000_000_123
    sig = sign_l1_action(key, action, vault, nonce, is_mainnet, expires_after=expires_after)
    assert isinstance(sig["v"], int)
    assert sig["r"].startswith("0x")
    assert sig["s"].startswith("0x")
    assert recover_signer(action, nonce, sig, vault, is_mainnet, expires_after) == address

    tampered = cancel_action([(0, 124)])
    assert recover_signer(tampered, nonce, sig, vault, is_mainnet, expires_after) != address
    assert recover_signer(action, nonce + 1, sig, vault, is_mainnet, expires_after) != address
    assert recover_signer(action, nonce, sig, vault, not is_mainnet, expires_after) != address
    other_vault = None if vault else VAULT
    assert recover_signer(action, nonce, sig, other_vault, is_mainnet, expires_after) != address
    other_expiry = None if expires_after else 1
    assert recover_signer(action, nonce, sig, vault, is_mainnet, other_expiry) != address


def test_expires_after_changes_hash_layout() -> None:
    action = {"type": "scheduleCancel"}
    base = action_hash(action, None, 5)
    assert action_hash(action, None, 5, expires_after=None) == base
    assert action_hash(action, None, 5, expires_after=10) != base


def test_recover_accepts_int_signature_parts() -> None:
    sig = sign_l1_action(KEY, DUMMY_ACTION, None, 0, True)
    as_ints = {"r": int(sig["r"], 16), "s": int(sig["s"], 16), "v": sig["v"]}
    assert recover_signer(DUMMY_ACTION, 0, as_ints, None, True) == ADDRESS


@pytest.mark.parametrize("is_mainnet", [True, False])
@pytest.mark.parametrize("vault", [None, VAULT])
def test_hand_hashed_digest_equals_the_generic_typed_data_hash(
    is_mainnet: bool, vault: str | None
) -> None:
    # sign_l1_action hashes the fixed Agent struct itself (fast); it must be the exact hash
    # eth-account's generic EIP-712 encoder gives for l1_typed_data.
    action = cancel_action([(3, 77)])
    nonce = 1_700_000_000_999
    connection_id = action_hash(action, vault, nonce)
    signable = encode_typed_data(full_message=l1_typed_data(connection_id, is_mainnet))
    expected = keccak(b"\x19" + signable.version + signable.header + signable.body)
    assert l1_digest(action, vault, nonce, is_mainnet) == expected
