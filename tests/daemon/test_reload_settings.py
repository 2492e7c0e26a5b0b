"""Which settings a reload applies and which need a restart; the settings diff."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from algotrade.daemon.reload_plan import SettingChange
from algotrade.daemon.reload_settings import (
    FIELD_CHANGES,
    Change,
    change_of,
    changed_fields,
    settings_data,
    with_live_changes,
)
from algotrade.daemon.settings import DaemonSettings, load_settings


def test_every_field_of_every_section_is_classified() -> None:
    """Fails when a setting is added without saying whether a reload can change it."""
    sections = {
        name
        for name in DaemonSettings.model_fields
        if name not in DaemonSettings.model_computed_fields
    }
    assert set(FIELD_CHANGES) == sections
    for section, fields in FIELD_CHANGES.items():
        annotation = DaemonSettings.model_fields[section].annotation
        if isinstance(fields, Change):
            continue  # the whole section has one class (dict-valued, or bound together)
        assert isinstance(annotation, type), section
        assert issubclass(annotation, BaseModel), section
        assert set(fields) == set(annotation.model_fields), f"[{section}] fields vs classes"


def test_sections_bound_together_are_models_or_maps() -> None:
    # A whole-section class is only for maps (venues, bots) and sections built once at start.
    assert {s for s, f in FIELD_CHANGES.items() if isinstance(f, Change)} == {
        "recording",
        "venues",
        "bots",
    }


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("api.host", Change.RESTART),
        ("api.port", Change.RESTART),
        ("daemon.data_dir", Change.RESTART),
        ("database.url", Change.RESTART),
        ("market_data.url", Change.RESTART),
        ("logging.level", Change.LIVE),
        ("api.keys_file", Change.LIVE),
        ("risk.rules_file", Change.LIVE),
        ("reload.prune", Change.LIVE),
        ("venues", Change.RESTART),
    ],
)
def test_the_documented_classes(name: str, expected: Change) -> None:
    assert change_of(name) is expected


def _data(tmp_path: Path, toml: str) -> dict[str, Any]:
    config = tmp_path / "daemon.toml"
    config.write_text(toml, encoding="utf-8")
    return settings_data(load_settings(config, {}))


def test_the_diff_names_each_changed_setting(tmp_path: Path) -> None:
    old = _data(tmp_path, '[api]\nport = 8080\n[logging]\nlevel = "INFO"\njson = false\n')
    new = _data(tmp_path, '[api]\nport = 8081\n[logging]\nlevel = "DEBUG"\njson = true\n')
    assert changed_fields(old, new) == {
        "api.port": (8080, 8081),
        "logging.level": ("INFO", "DEBUG"),
        "logging.json_format": (False, True),
    }
    assert changed_fields(old, old) == {}


def test_after_a_reload_restart_fields_keep_their_running_value(tmp_path: Path) -> None:
    old = _data(tmp_path, '[api]\nport = 8080\n[logging]\nlevel = "INFO"\n')
    new = _data(tmp_path, '[api]\nport = 8081\n[logging]\nlevel = "DEBUG"\n')
    running = with_live_changes(old, new)
    assert running["api"]["port"] == 8080  # still what the socket is bound to
    assert running["logging"]["level"] == "DEBUG"
    # The next reload of the same file still reports the port, and nothing else.
    assert changed_fields(running, new) == {"api.port": (8080, 8081)}


def test_change_texts_mask_passwords_and_list_map_keys() -> None:
    url = SettingChange.of(
        "database.url", "postgresql://u:old-secret@h/db", "postgresql://u:new-secret@h/db"
    )
    assert "secret" not in url.text
    assert url.text == "database.url (postgresql://u:***@h/db → postgresql://u:***@h/db)"
    port = SettingChange.of("api.port", 8080, 8081)
    assert port.text == "api.port (8080 → 8081)"
    venues = SettingChange.of("venues", {"bybit": {"a": 1}}, {"bybit": {"a": 2}, "paper": {}})
    assert venues.text == "venues (changed: bybit, paper)"  # names only: values may be private
