"""``venue:SYMBOL,SYMBOL`` references to catalog series (``--symbols hyperliquid:BTC,ETH``)."""

from __future__ import annotations

from algotrade.core.errors import InputError


def parse_refs(text: str, *, field: str = "--symbols") -> tuple[str, list[str]]:
    """``"hyperliquid:BTC,ETH"`` → ``("hyperliquid", ["BTC", "ETH"])``; symbols keep their
    order, repeats are dropped. Symbols may contain ``:`` (``bybit:BTC/USDT:USDT``)."""
    venue, sep, rest = text.partition(":")
    venue = venue.strip()
    if not sep or not venue or not rest.strip():
        raise InputError(
            f"{field}: {text!r} is not a reference; expected VENUE:SYMBOL[,SYMBOL…], "
            "e.g. hyperliquid:BTC,ETH"
        )
    symbols: list[str] = []
    for part in rest.split(","):
        symbol = part.strip()
        if not symbol:
            raise InputError(f"{field}: {text!r} has an empty symbol")
        if symbol not in symbols:
            symbols.append(symbol)
    return venue, symbols
