"""API key and secret of a ccxt exchange, from the environment only.

``<KEY_VAR>``/``<SECRET_VAR>`` (e.g. ``ALGOTRADE_BYBIT_API_KEY``/``ALGOTRADE_BYBIT_API_SECRET``)
or files named by ``<KEY_VAR>_FILE``/``<SECRET_VAR>_FILE`` (Docker/systemd secrets). They are
never read from the settings file, never logged and never returned: ``ApiCredentials`` hides
the secret from ``repr``/``str`` and shows only the last four characters of the key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from algotrade.core.errors import ConfigError
from algotrade.venues.live.credentials import env_value

__all__ = ["ApiCredentials", "load_credentials", "missing_credentials_message"]


@dataclass(frozen=True, slots=True)
class ApiCredentials:
    api_key: str = field(repr=False)
    api_secret: str = field(repr=False)

    @property
    def masked_key(self) -> str:
        return "…" + self.api_key[-4:] if len(self.api_key) > 8 else "…"

    def __repr__(self) -> str:
        return f"ApiCredentials(api_key={self.masked_key}, api_secret=***)"

    __str__ = __repr__


def missing_credentials_message(title: str, names: tuple[str, str]) -> str:
    key, secret = names
    return (
        f"trading on {title} needs credentials: set {key} and {secret} "
        f"(or {key}_FILE and {secret}_FILE)"
    )


def load_credentials(
    names: tuple[str, str], environ: Mapping[str, str] | None = None
) -> ApiCredentials | None:
    """The credentials named by ``names`` (key variable, secret variable); ``None`` when
    neither is given (market data needs none). Half-given credentials, both spellings of
    one, or an unreadable/empty/world-readable secret file raise ``ConfigError`` naming the
    variable (never its value)."""
    env = os.environ if environ is None else environ
    key_name, secret_name = names
    key = env_value(env, key_name, f"{key_name}_FILE", secret=False)
    secret = env_value(env, secret_name, f"{secret_name}_FILE", secret=True)
    if key is None and secret is None:
        return None
    if key is None:
        raise ConfigError(f"{key_name} (or {key_name}_FILE) is not set; {secret_name} is")
    if secret is None:
        raise ConfigError(f"{secret_name} (or {secret_name}_FILE) is not set; {key_name} is")
    return ApiCredentials(key, secret)
