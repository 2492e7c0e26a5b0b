"""Hyperliquid venue support: action wire formats and EIP-712 signing (see ``signing``)."""
