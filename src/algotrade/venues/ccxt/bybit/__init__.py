"""Bybit v5 (linear USDT perpetuals) for the ccxt venue: settings (``config``), REST through
ccxt (``rest``), payload parsing (``parse``), the public/private WebSocket (``ws``) and the
driver that ties them into an ``ExchangeSession`` (``driver``)."""
