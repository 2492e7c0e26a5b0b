"""``NAME_FILE`` variables for the daemon's own settings (Docker and systemd secrets).

Compose mounts secrets as files under ``/run/secrets`` and systemd hands them over with
``LoadCredential=``; a secret must not sit in the environment of every process. For each
settings variable (``ALGOTRADE__…``) and for ``ALGOTRADE_API_KEYS`` the daemon also accepts
``<NAME>_FILE`` naming a file that holds the value: ``ALGOTRADE__DATABASE__URL_FILE``,
``ALGOTRADE_API_KEYS_FILE``. Setting both is an error, as is a missing, empty or (for a
secret) group/world-readable file. Venue credentials read their own ``*_FILE`` variables
(``venues/live/credentials.py``); this module applies the same rule to the rest.

The files are read again on every call, so a reload picks up a rotated secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from algotrade.venues.live.credentials import env_value

FILE_SUFFIX = "_FILE"
API_KEYS_VAR = "ALGOTRADE_API_KEYS"
SETTINGS_PREFIX = "ALGOTRADE__"


def with_secret_files(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with each ``NAME_FILE`` of a daemon setting replaced by ``NAME`` = its content.

    ``ConfigError`` naming the variable (never the value) for both set, or a bad file."""
    expanded = dict(env)
    for file_var in [name for name in env if is_daemon_secret_var(name)]:
        name = file_var[: -len(FILE_SUFFIX)]
        value = env_value(env, name, file_var, secret=True)
        del expanded[file_var]
        if value is not None:
            expanded[name] = value
    return expanded


def file_variables(env: Mapping[str, str]) -> dict[str, Path]:
    """Every ``ALGOTRADE…_FILE`` variable that names a file — the daemon's own and the venues'
    credentials — by variable name (what a reload watches and doctor checks)."""
    found: dict[str, Path] = {}
    for name, value in env.items():
        upper = name.upper()
        if upper.startswith("ALGOTRADE") and upper.endswith(FILE_SUFFIX) and value.strip():
            found[name] = Path(value.strip())
    return found


def is_daemon_secret_var(name: str) -> bool:
    """``name`` is a ``*_FILE`` variable of the daemon's own settings or API keys."""
    if not name.endswith(FILE_SUFFIX):
        return False
    base = name[: -len(FILE_SUFFIX)]
    return base == API_KEYS_VAR or (
        base.startswith(SETTINGS_PREFIX) and len(base) > len(SETTINGS_PREFIX)
    )
