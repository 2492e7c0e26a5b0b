"""The ``[reload]`` settings, and which settings a reload can change while the daemon runs.

Every field of every settings section is classified here (a test fails when a new field is
left out): ``LIVE`` fields are applied by a reload, ``RESTART`` fields are bound at start
(sockets, files, connections, pools) and a change to one is reported as "needs restart",
never half-applied.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ReloadSection(BaseModel):
    """``[reload]``: whether a change of the config file (and of the keys and risk files)
    triggers a reload besides SIGHUP and ``POST /api/reload``, and whether bots missing from
    ``[[bots]]`` are deleted (docs/reload.md)."""

    model_config = ConfigDict(extra="forbid")

    watch: bool = Field(
        default=False,
        description="reload when the config file (or the keys or risk files) change",
    )
    watch_interval_s: float = Field(default=1.0, gt=0, le=3600, description="how often to look")
    debounce_s: float = Field(
        default=0.5,
        ge=0,
        le=60,
        description="a changed file must stay unchanged this long before the reload (editors "
        "write in several steps)",
    )
    prune: bool = Field(
        default=False,
        description="delete bots that are not in [[bots]] (stopped first); off: left alone",
    )


class Change(Enum):
    LIVE = "live"
    RESTART = "restart"


L, R = Change.LIVE, Change.RESTART

# section → field → how a change applies. Dict-valued sections (venues, bots) are one entry.
FIELD_CHANGES: dict[str, dict[str, Change] | Change] = {
    "daemon": {
        "data_dir": R,
        "max_bots": R,
        "resume_all": R,  # read once, when bots are restored
        "shutdown_timeout_s": R,
        "heartbeat_interval_s": R,
        "bot_workers": R,  # the worker processes start with the daemon
    },
    "api": {
        "host": R,
        "port": R,
        "keys_file": L,  # re-read: the keys rotate
        "ws_queue_size": R,
        "access_log": R,
    },
    "database": {"url": R},
    "market_data": {"url": R},
    "logging": {
        "level": L,
        "json_format": R,
        "max_bytes": R,
        "backups": R,
        "repeat_limit": R,
        "repeat_window_s": R,
    },
    "risk": {"accounts_file": L, "rules_file": L, "tick_interval_s": R},
    "recording": R,  # its buffers, flush task and watched feeds are built at start
    "reload": {"watch": R, "watch_interval_s": R, "debounce_s": R, "prune": L},
    "venues": R,  # live connections
    "bots": L,  # declarative: created and updated through the API's paths
}


def settings_data(settings: BaseModel) -> dict[str, Any]:
    """What ``changed_fields`` compares: every section by field name (``logging.json_format``,
    not its alias)."""
    return settings.model_dump(mode="python", by_alias=False, exclude={"database_url"})


def changed_fields(old: dict[str, Any], new: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Dotted setting name → (old, new) for every setting that differs (``bots`` excluded: a
    reload compares bots one by one). ``old``/``new`` come from ``settings_data``."""
    changes: dict[str, tuple[Any, Any]] = {}
    for section, fields in FIELD_CHANGES.items():
        if section == "bots":
            continue
        before, after = old.get(section), new.get(section)
        if isinstance(fields, Change) or not isinstance(before, dict):
            if before != after:
                changes[section] = (before, after)
            continue
        after = after or {}
        for name in fields:
            if before.get(name) != after.get(name):
                changes[f"{section}.{name}"] = (before.get(name), after.get(name))
    return changes


def change_of(dotted: str) -> Change:
    section, _, name = dotted.partition(".")
    fields = FIELD_CHANGES[section]
    return fields if isinstance(fields, Change) else fields[name]


def with_live_changes(running: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The settings in force after a reload: ``new``'s live fields, ``running``'s restart
    fields (a later reload still reports a restart field as changed until the restart)."""
    result = {
        section: dict(value) if isinstance(value, dict) else value
        for section, value in running.items()
    }
    for dotted in changed_fields(running, new):
        if change_of(dotted) is not Change.LIVE:
            continue
        section, _, name = dotted.partition(".")
        if name:
            result[section][name] = new[section][name]
        else:
            result[section] = new[section]
    result["bots"] = new.get("bots", [])
    return result
