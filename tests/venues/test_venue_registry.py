"""The venue registry: a venue registered from outside the package trades through a real
daemon; names are validated against the registry; venues load lazily; no venue name is
written into ``daemon/``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from algotrade.daemon.bot_config import BotConfig
from algotrade.venues import registry
from algotrade.venues.registry import (
    BUILTIN_VENUES,
    PLUGINS_ENV,
    VenueFactory,
    get_venue,
    register_venue,
    unregister_venue,
    venue_names,
)
from testkit.api_harness import ADMIN_KEY, TRADER_KEY
from testkit.daemon_process import DaemonProcess, wait_until

TESTS = Path(__file__).parents[1]
SRC = TESTS.parent / "src" / "algotrade"
SCRIPTED = TESTS / "testkit" / "strategies" / "scripted.py"
# Venue names that must never be spelt in the daemon's code (the registry names them).
VENUE_WORDS = (*BUILTIN_VENUES, "bybit", "projectx", "topstep")


@pytest.fixture
def demo() -> Iterator[VenueFactory]:
    """The demo venue registered in this process, forgotten afterwards."""
    import testkit.demo_venue as module

    register_venue(module.NAME, module.DemoFactory())
    yield get_venue(module.NAME)
    unregister_venue(module.NAME)


def bot(**changes: Any) -> dict[str, Any]:
    return {"bot_id": "b", "symbol": "DEMO-BTC", "strategy": "ma_crossover", **changes}


# ---------------------------------------------------------------------------- the registry
def test_builtin_venues_are_listed_without_being_imported() -> None:
    code = (
        "import sys\n"
        "from algotrade.venues.registry import venue_names\n"
        "print(venue_names(), any(m.startswith('algotrade.venues.hyperliquid') "
        "for m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    names, imported = out.rsplit(" ", 1)
    assert "'hyperliquid'" in names
    assert imported.strip() == "False"


def test_unknown_venue_names_the_known_ones(demo: VenueFactory) -> None:
    with pytest.raises(
        LookupError,
        match=r"unknown venue 'nope' \(known: bybit, demo, hyperliquid, projectx\)",
    ):
        get_venue("nope")
    assert {"demo", "hyperliquid"} <= set(venue_names())


def test_register_by_module_path_loads_on_first_use() -> None:
    register_venue("demo2", "testkit.demo_venue:DemoFactory")
    try:
        factory = get_venue("demo2")
        assert factory.name == "demo2"
        assert factory.config_model().__name__ == "DemoConfig"
    finally:
        unregister_venue("demo2")
        unregister_venue("demo")  # importing the module registered "demo" as well


def test_builtin_names_cannot_be_taken() -> None:
    with pytest.raises(ValueError, match="built into the daemon"):
        register_venue("paper", "x:y")


def test_bot_config_validates_feed_and_venue_names(demo: VenueFactory) -> None:
    live = BotConfig.model_validate(bot(feed="demo", venue="demo", mode="live", interval="1s"))
    assert (live.feed, live.venue) == ("demo", "demo")
    with pytest.raises(
        ValidationError,
        match=r"unknown venue 'nope' \(known: paper, bybit, demo, hyperliquid, projectx\)",
    ):
        BotConfig.model_validate(bot(venue="nope", mode="live"))
    with pytest.raises(
        ValidationError,
        match=r"unknown feed 'nope' \(known: sim, replay, bybit, demo, hyperliquid, projectx\)",
    ):
        BotConfig.model_validate(bot(feed="nope"))
    # The venue's own rules run as part of the bot's validation.
    with pytest.raises(ValidationError, match="leverage: the demo venue allows at most 5"):
        BotConfig.model_validate(bot(venue="demo", mode="live", leverage="6"))
    with pytest.raises(ValidationError, match="sends real orders: set mode 'live'"):
        BotConfig.model_validate(bot(venue="demo"))


def test_venue_section_is_validated_by_its_factory(demo: VenueFactory, tmp_path: Path) -> None:
    from algotrade.core.errors import ConfigError
    from algotrade.daemon.settings import load_settings

    config = tmp_path / "c.toml"
    config.write_text("[venues.demo]\ntick_seconds = 0\n")
    with pytest.raises(ConfigError, match=r"venues\.demo\.tick_seconds: Input should be greater"):
        load_settings(config, {})
    config.write_text("[venues.nowhere]\nx = 1\n")
    with pytest.raises(
        ConfigError,
        match=r"venues\.nowhere: unknown venue \(known: bybit, demo, hyperliquid, projectx\)",
    ):
        load_settings(config, {})
    # The older spelling: a top-level section named after the venue, and its env variables.
    config.write_text("[demo]\ntick_seconds = 2\n")
    settings = load_settings(config, {"ALGOTRADE__DEMO__START_PRICE": "7"})
    assert settings.venues == {"demo": {"tick_seconds": 2, "start_price": "7"}}


# ---------------------------------------------------------------------------- lazy loading
def test_daemon_api_and_cli_do_not_import_a_venue_until_one_is_used() -> None:
    code = (
        "import sys\n"
        "import algotrade.daemon, algotrade.daemon.runtime, algotrade.daemon.service\n"
        "import algotrade.api.app, algotrade.cli.main\n"
        "from algotrade.daemon.bot_config import BotConfig\n"
        "from algotrade.daemon.settings import load_settings\n"
        "load_settings(None, {})\n"
        "BotConfig.model_validate({'bot_id': 'b', 'symbol': 'S', 'strategy': 'rsi'})\n"
        "print(sorted(m for m in sys.modules if m.startswith('algotrade.venues.hyperliquid')))\n"
        "BotConfig.model_validate({'bot_id': 'b', 'symbol': 'S', 'strategy': 'rsi',\n"
        "                          'feed': 'hyperliquid'})\n"
        "print(sorted(m for m in sys.modules if m.startswith('algotrade.venues.hyperliquid')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0] == "[]"
    # Naming the venue loads its factory (config and intervals), not its network code.
    loaded = set(json.loads(out[1].replace("'", '"')))
    assert "algotrade.venues.hyperliquid.factory" in loaded
    assert not loaded & {
        "algotrade.venues.hyperliquid.account",
        "algotrade.venues.hyperliquid.ws",
        "algotrade.venues.hyperliquid.signing",
    }


def test_daemon_code_names_no_venue() -> None:
    """Venues are looked up by name in the registry; ``daemon/`` spells none of them, in its
    code or in the example config it ships."""
    offenders = []
    for path in sorted((SRC / "daemon").rglob("*")):
        scanned = path.suffix in (".py", ".pyi", ".toml") and "__pycache__" not in path.parts
        if not path.is_file() or not scanned:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if any(word in line.lower() for word in VENUE_WORDS):
                offenders.append(f"{path.relative_to(SRC)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


# ---------------------------------------------------------------------------- end to end
@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[DaemonProcess]:
    config = tmp_path / "daemon.toml"
    config.write_text("[venues.demo]\ntick_seconds = 0.05\nstart_price = 100\n")
    pythonpath = os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))
    process = DaemonProcess(
        tmp_path / "data",
        None,
        "--config",
        str(config),
        env={
            "ALGOTRADE_API_KEYS": f"admin:{ADMIN_KEY},trader:{TRADER_KEY}",
            PLUGINS_ENV: "testkit.demo_venue",
            "PYTHONPATH": pythonpath,
        },
        api_key=ADMIN_KEY,
    ).start()
    try:
        yield process
    finally:
        process.kill()


def test_a_plugin_venue_trades_through_a_real_daemon(daemon: DaemonProcess) -> None:
    steps = ["buy:0.5", "", "sell:0.2", ""]
    daemon.ok(
        "POST",
        "/api/bots",
        json={
            "bot_id": "d1",
            "symbol": "DEMO-BTC",
            "strategy": str(SCRIPTED),
            "params": {"steps": steps},
            "interval": "1s",
            "feed": "demo",
            "venue": "demo",
            "mode": "live",
            "risk_per_trade_pct": "100",
        },
    )
    assert daemon.ok("GET", "/api/venues") == []  # connected on first use, not before
    daemon.ok("PUT", "/api/bots/d1/start")

    def position() -> Decimal:
        status = daemon.ok("GET", "/api/bots/d1")["status"]
        return Decimal(status["position"].get("DEMO-BTC", "0"))

    wait_until(lambda: len(daemon.all_pages("/api/bots/d1/fills")) == 2, 20, "two fills booked")
    assert position() == Decimal("0.3")
    status = daemon.ok("GET", "/api/bots/d1")["status"]
    assert status["venue"] == "demo"
    assert status["simulated"] is False
    (state,) = daemon.ok("GET", "/api/venues")
    assert (state["venue"], state["connected"], state["bots"]) == ("demo", True, ["d1"])
    assert (state["orders"], state["fills"]) == (2, 2)  # the orders went to the demo venue

    after = daemon.ok("POST", "/api/venues/demo/reconcile")
    assert after["reconciles"] == 1

    missing = daemon.call("POST", "/api/venues/nowhere/reconcile")
    assert missing.status_code == 404
    assert "nowhere" in missing.text
    assert "demo" in missing.text

    bad = daemon.call(
        "POST", "/api/bots", json={**bot(bot_id="d2", venue="elsewhere", mode="live")}
    )
    assert bad.status_code == 422, bad.text
    assert "venue" in bad.text
    assert "unknown venue 'elsewhere'" in bad.text
    assert "demo" in bad.text
    assert "hyperliquid" in bad.text
    bad_feed = daemon.call("POST", "/api/bots", json=bot(bot_id="d3", feed="elsewhere"))
    assert bad_feed.status_code == 422
    assert "feed" in bad_feed.text
    assert "unknown feed 'elsewhere'" in bad_feed.text


def test_plugin_module_that_cannot_load_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PLUGINS_ENV, "testkit.no_such_module")
    try:
        with pytest.raises(registry.ConfigError, match=f"{PLUGINS_ENV}: cannot import"):
            registry.reload_plugins()
    finally:
        monkeypatch.delenv(PLUGINS_ENV)
        registry.reload_plugins()
