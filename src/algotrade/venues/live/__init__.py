"""Mechanisms the live venue adapters (Hyperliquid, ccxt, ProjectX) share.

Only what is truly the same logic lives here: delivering an order event to the engine,
the account's background tasks and reconciliation loop, the reconciliation report,
position comparison and credentials read from the environment or ``*_FILE`` paths. The
adapters keep their own wire formats, routing keys and messages.
"""
