"""A credential read from the environment: the variable itself or a file named by another."""

from __future__ import annotations

import stat
from collections.abc import Mapping
from pathlib import Path

from algotrade.core.errors import ConfigError

__all__ = ["env_value"]


def env_value(env: Mapping[str, str], name: str, file_name: str, *, secret: bool) -> str | None:
    """The value of ``name``, else the content of the file ``file_name`` names (Docker/systemd
    secrets), stripped; ``None`` when neither is set. ``ConfigError`` naming the variable
    (never its value) when both are set, or the file is missing, unreadable or empty, or —
    for a ``secret`` — readable by group or others."""
    direct = env.get(name, "").strip()
    path_text = env.get(file_name, "").strip()
    if direct and path_text:
        raise ConfigError(f"both {name} and {file_name} are set; use one")
    if direct:
        return direct
    if not path_text:
        return None
    path = Path(path_text)
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise ConfigError(f"{file_name}: {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file_name}: cannot read {path}: {type(exc).__name__}") from None
    if secret and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{file_name}: {path} is readable by others (mode {stat.S_IMODE(mode):o}); chmod 600 it"
        )
    if not text:
        raise ConfigError(f"{file_name}: {path} is empty")
    return text
