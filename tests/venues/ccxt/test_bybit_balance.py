"""The Bybit balance as reported: the coin's figures in the coin, the account's available
balance in USD (docs/v5/account/wallet-balance: the account totals are USD values over all
collateral coins; the coin's ``availableToWithdraw`` is deprecated for UNIFIED)."""

from __future__ import annotations

from decimal import Decimal

from bybit_harness import Setup

from algotrade.venues.ccxt.bybit import parse

# The shape of the docs' response example: a BTC coin entry in an account whose totals are USD.
DOCS_ACCOUNT = {
    "accountType": "UNIFIED",
    "totalEquity": "18070.32797922",
    "totalWalletBalance": "18070.43799271",
    "totalMarginBalance": "18070.32797922",
    "totalAvailableBalance": "17887.72614237",
    "totalPerpUPL": "-0.11001349",
    "totalInitialMargin": "182.60183684",
    "totalMaintenanceMargin": "0.38106773",
    "coin": [
        {
            "coin": "BTC",
            "equity": "0.805994",
            "usdValue": "12920.95352538",
            "walletBalance": "0.805994",
            "unrealisedPnl": "0",
            "availableToWithdraw": "",
        }
    ],
}


def test_the_account_available_balance_is_reported_in_usd_not_in_the_coin() -> None:
    """Defect: ``totalAvailableBalance`` (USD, account-wide) was reported as the coin's
    ``available``: 17887 "BTC" available in an account holding 0.8 BTC."""
    balance = parse.balance(DOCS_ACCOUNT, "BTC", 1)
    assert balance is not None
    assert (balance.coin, balance.wallet_balance, balance.equity) == (
        "BTC",
        Decimal("0.805994"),
        Decimal("0.805994"),
    )
    assert balance.account_available_usd == Decimal("17887.72614237")
    assert not hasattr(balance, "available")


def test_an_empty_total_is_no_available_figure() -> None:
    """Isolated margin: the docs say the account-wide fields do not apply (sent empty)."""
    balance = parse.balance({**DOCS_ACCOUNT, "totalAvailableBalance": ""}, "BTC", 1)
    assert balance is not None
    assert balance.account_available_usd is None


async def test_the_venue_snapshot_labels_the_available_balance_usd(setup: Setup) -> None:
    connection, _, _ = setup
    await connection.reconcile()
    balance = connection.snapshot()["balance"]
    assert balance["coin"] == "USDT"
    assert "available" not in balance
    assert balance["account_available_usd"] == "100000"
    assert balance["wallet_balance"] == "100000"
