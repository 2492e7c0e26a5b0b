"""Which ccxt exchanges this package can trade, by ccxt exchange id.

A ``CcxtFactory(exchange_id)`` (``factory.py``) needs two things from an exchange, both found
here by its id without importing ccxt:

* its **spec** (``ExchangeSpec``): the settings model of its ``[venues.<name>]`` section, the
  bot intervals its candle stream serves, the intervals ``fetch-data`` can download, the
  environment variables holding its credentials, and its display name;
* its **driver** module, imported only when the daemon connects (or ``fetch-data`` downloads):
  it defines ``async def open_session(config, credentials) -> ExchangeSession`` and
  ``def history_config(testnet, api_url) -> BaseModel`` (see ``session.py`` for the protocol:
  REST calls returning the neutral types of ``model.py``, and the public/private streams).

Everything above the driver — the shared account connection, per-bot execution venues,
reconciliation, the candle hub, rate limiting, instrument rules — is exchange-neutral.

Adding an exchange (only Bybit is supported and tested): write a spec module and a driver
module for it (the Bybit ones are ``bybit/config.py`` and ``bybit/driver.py``), add the id to
``SPECS`` (or call ``register_exchange``) and register a venue name for it, e.g. in a plugin
module named by ``ALGOTRADE_VENUE_PLUGINS``::

    from algotrade.venues.ccxt.exchanges import register_exchange
    from algotrade.venues.ccxt.factory import CcxtFactory
    from algotrade.venues.registry import register_venue

    register_exchange("okx", spec="my_pkg.okx_spec:SPEC", driver="my_pkg.okx_driver")
    register_venue("okx", CcxtFactory("okx"))
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

__all__ = ["SPECS", "ExchangeSpec", "driver_module", "driver_of", "register_exchange", "spec_of"]


@dataclass(frozen=True, slots=True)
class ExchangeSpec:
    """What the registry needs of a ccxt exchange before anything connects."""

    exchange_id: str
    title: str  # "Bybit", for messages
    config_model: type[BaseModel]
    #: Bot interval ("1m") → the exchange's candle interval name ("1").
    bot_intervals: Mapping[str, str]
    #: fetch-data interval → length in ms.
    history_intervals: Mapping[str, int]
    #: (key variable, secret variable); each may also be given as ``<NAME>_FILE``.
    credential_env: tuple[str, str]
    extra: Mapping[str, Any] = field(default_factory=dict)


#: exchange id → ("module:ATTR" of its spec, module path of its driver).
SPECS: dict[str, tuple[str, str]] = {
    "bybit": ("algotrade.venues.ccxt.bybit.config:SPEC", "algotrade.venues.ccxt.bybit.driver"),
}


def register_exchange(exchange_id: str, *, spec: str, driver: str) -> None:
    """Make ``exchange_id`` available to ``CcxtFactory`` (spec as ``module:ATTR``)."""
    SPECS[exchange_id] = (spec, driver)


def spec_of(exchange_id: str) -> ExchangeSpec:
    entry = SPECS.get(exchange_id)
    if entry is None:
        raise LookupError(
            f"ccxt exchange '{exchange_id}' has no driver in algotrade (supported: "
            f"{', '.join(sorted(SPECS))}); see algotrade.venues.ccxt.exchanges"
        )
    module_name, _, attr = entry[0].partition(":")
    spec = getattr(importlib.import_module(module_name), attr or "SPEC")
    if not isinstance(spec, ExchangeSpec):
        raise TypeError(f"{entry[0]} is not an ExchangeSpec")
    return spec


def driver_module(exchange_id: str) -> str:
    """The path of the exchange's driver module (not imported)."""
    spec_of(exchange_id)  # a clear error for an unknown id
    return SPECS[exchange_id][1]


def driver_of(exchange_id: str) -> Any:
    """The driver module (imports ccxt): only at connect / download time."""
    return importlib.import_module(driver_module(exchange_id))
