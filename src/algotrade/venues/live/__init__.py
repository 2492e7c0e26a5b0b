"""Mechanisms the live venue adapters (Hyperliquid, ccxt, ProjectX) share.

Only what is truly the same logic lives here: delivering an order event to the engine,
the account's background tasks and reconciliation loop, the reconciliation report,
position comparison, where a restart resumes asking for fills (and which older fills the store
booked), credentials read from the environment or ``*_FILE`` paths and the REST request queue
(at most so many requests in flight, the rest waiting their turn). The
adapters keep their own wire formats, routing keys and messages.
"""
