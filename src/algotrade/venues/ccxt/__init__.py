"""ccxt-backed venues: one package for exchanges reached through ccxt (REST) and their own
WebSocket streams. Bybit v5 linear perpetuals is the supported exchange (see docs/bybit.md);
``exchanges.py`` says how another ccxt exchange is added."""
