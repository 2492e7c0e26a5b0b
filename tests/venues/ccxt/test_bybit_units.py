"""Units of the ccxt/Bybit venue without a server: settings, credentials from the environment
and secret files, client id mapping, the rate limiter, payload parsing, bot validation, and that
naming the venue does not import ccxt."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from bybit_harness import BotSpecStub

from algotrade.core.errors import ConfigError
from algotrade.core.events import OrderSide
from algotrade.venues.ccxt.bybit import parse
from algotrade.venues.ccxt.bybit.config import DEFAULT_RATE_LIMITS, BybitConfig
from algotrade.venues.ccxt.bybit.rest import api_error
from algotrade.venues.ccxt.bybit.ws import BybitWebSocket, auth_args
from algotrade.venues.ccxt.credentials import ApiCredentials, load_credentials
from algotrade.venues.ccxt.errors import (
    AuthFailed,
    DuplicateClientId,
    OrderFinished,
    OrderUnknown,
    OutcomeUnknown,
    PayloadError,
    RateLimited,
    VenueRefused,
)
from algotrade.venues.ccxt.exchanges import spec_of
from algotrade.venues.ccxt.factory import CcxtFactory, bybit
from algotrade.venues.ccxt.model import link_id_for
from algotrade.venues.ccxt.ratelimit import WINDOW_MARGIN_S, RateLimiter
from algotrade.venues.registry import get_venue

NAMES = ("ALGOTRADE_BYBIT_API_KEY", "ALGOTRADE_BYBIT_API_SECRET")


# ---------------------------------------------------------------------------- settings
def test_settings_defaults_overrides_and_one_line_errors() -> None:
    default = BybitConfig()
    assert default.base_url == "https://api.bybit.com"
    assert default.public_stream_url == "wss://stream.bybit.com/v5/public/linear"
    assert default.private_stream_url == "wss://stream.bybit.com/v5/private"
    testnet = BybitConfig(network="testnet")  # type: ignore[arg-type]
    assert testnet.base_url == "https://api-testnet.bybit.com"
    assert testnet.private_stream_url == "wss://stream-testnet.bybit.com/v5/private"
    custom = BybitConfig(rest_url="http://127.0.0.1:9/", rate_limits={"/v5/order/create": 3})
    assert custom.base_url == "http://127.0.0.1:9"
    assert custom.rate_limits == {**DEFAULT_RATE_LIMITS, "/v5/order/create": 3}
    for raw, message in [
        ({"api_key": "x"}, "venues.bybit.api_key: Extra inputs are not permitted"),
        ({"rest_url": "api.bybit.com"}, "venues.bybit.rest_url: Value error, 'api.bybit.com'"),
        ({"category": "spot"}, "venues.bybit.category: Input should be 'linear'"),
        ({"network": "demo"}, "venues.bybit.network: Input should be 'mainnet' or 'testnet'"),
        ({"rate_limits": {"/v5/order/create": 0}}, "venues.bybit.rate_limits: Value error"),
        ({"order_link_prefix": "way-too-long"}, "venues.bybit.order_link_prefix: String"),
    ]:
        with pytest.raises(ConfigError) as error:
            bybit.parse_config(raw)
        assert str(error.value).startswith(message), str(error.value)
        assert "\n" not in str(error.value)


def test_bot_validation_names_the_field() -> None:
    bybit.validate_feed(BotSpecStub(interval="15m"))
    with pytest.raises(ValueError, match=r"^interval: Bybit candles come in 1m, 3m, .*got '7m'"):
        bybit.validate_feed(BotSpecStub(interval="7m"))
    bad = BotSpecStub()
    bad.feed_options = {"depth": 5}
    with pytest.raises(ValueError, match=r"^feed_options"):
        bybit.validate_feed(bad)
    bybit.validate_execution(BotSpecStub(leverage="2.5"))
    with pytest.raises(ValueError, match=r"^leverage: Bybit takes 1 or more in steps of 0.01"):
        bybit.validate_execution(BotSpecStub(leverage="2.505"))
    with pytest.raises(LookupError, match="ccxt exchange 'kraken' has no driver"):
        CcxtFactory("kraken")


def test_naming_the_venue_does_not_import_ccxt_or_network_code() -> None:
    code = (
        "import sys\n"
        "from algotrade.venues.registry import get_venue\n"
        "factory = get_venue('bybit')\n"
        "factory.config_model(); factory.history_intervals\n"
        "import algotrade.venues.ccxt.factory\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('ccxt', 'websockets')\n"
        "      or m.startswith(('algotrade.venues.ccxt.account', 'algotrade.venues.ccxt.bybit.r',\n"
        "                       'algotrade.venues.ccxt.bybit.ws'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
    assert get_venue("bybit") is bybit
    assert spec_of("bybit").title == "Bybit"


# ---------------------------------------------------------------------------- credentials
def test_credentials_from_the_environment_or_files(tmp_path: Path) -> None:
    assert load_credentials(NAMES, {}) is None
    direct = load_credentials(NAMES, {NAMES[0]: " key-123456 ", NAMES[1]: "s3cret-value"})
    assert direct == ApiCredentials("key-123456", "s3cret-value")
    assert repr(direct) == "ApiCredentials(api_key=…3456, api_secret=***)"
    assert "s3cret" not in f"{direct} {direct!r}"
    key_file, secret_file = tmp_path / "key", tmp_path / "secret"
    key_file.write_text("file-key-0001\n")
    secret_file.write_text("file-secret\n")
    secret_file.chmod(0o600)
    env = {f"{NAMES[0]}_FILE": str(key_file), f"{NAMES[1]}_FILE": str(secret_file)}
    assert load_credentials(NAMES, env) == ApiCredentials("file-key-0001", "file-secret")
    errors = [
        ({NAMES[0]: "k"}, f"{NAMES[1]} (or {NAMES[1]}_FILE) is not set; {NAMES[0]} is"),
        ({NAMES[0]: "k", f"{NAMES[0]}_FILE": str(key_file), NAMES[1]: "s"}, "both"),
        ({**env, f"{NAMES[1]}_FILE": str(tmp_path / "nope")}, f"{NAMES[1]}_FILE: "),
    ]
    for environ, message in errors:
        with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
            load_credentials(NAMES, environ)
    secret_file.chmod(0o644)
    with pytest.raises(ConfigError, match=r"readable by others .* chmod 600"):
        load_credentials(NAMES, env)
    secret_file.write_text("")
    secret_file.chmod(0o600)
    with pytest.raises(ConfigError, match="is empty"):
        load_credentials(NAMES, env)


# ---------------------------------------------------------------------------- client ids
def test_client_order_ids_map_to_valid_order_link_ids() -> None:
    assert link_id_for("b1-17") == "b1-17"
    assert link_id_for("b1-17", "d2") == "d2b1-17"
    for coid in ("bot.with.dots-3", "x" * 40 + "-1", "b-1"):
        link = link_id_for(coid, "p_")
        assert len(link) <= 36
        assert link.replace("_", "").replace("-", "").isalnum()
        assert link == link_id_for(coid, "p_")  # deterministic: found again after a restart
    assert link_id_for("bot.with.dots-3").startswith("h")
    assert link_id_for("bot.with.dots-3") != link_id_for("bot.with.dots-4")
    with pytest.raises(ValueError, match="must not be empty"):
        link_id_for("")


# ---------------------------------------------------------------------------- errors, limits
def test_retcodes_map_to_what_the_caller_should_do() -> None:
    limited = api_error(
        10006, "Too many visits!", {"X-Bapi-Limit-Reset-Timestamp": "1700000001234"}
    )
    assert isinstance(limited, RateLimited)
    assert limited.retry_at_ms == 1700000001234
    assert isinstance(api_error(110072, "dup"), DuplicateClientId)
    assert isinstance(api_error(110001, "gone"), OrderUnknown)
    assert isinstance(api_error(110008, "done"), OrderFinished)
    assert isinstance(api_error(10004, "sign"), AuthFailed)
    assert isinstance(api_error(10016, "server"), OutcomeUnknown)
    refused = api_error(110007, "not enough balance")
    assert isinstance(refused, VenueRefused)
    assert (refused.code, str(refused)) == (110007, "Bybit 110007: not enough balance")


async def test_rate_limiter_windows_and_pauses() -> None:
    now = [100.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(
        {"/a": 2},
        ip_per_5s=3,
        clock=lambda: now[0],
        wall_ms=lambda: int(now[0] * 1000),
        sleep=sleep,
        margin_s=0,
    )
    for _ in range(2):
        await limiter.acquire("/a")
    assert slept == []
    await limiter.acquire("/a")  # the third in one second waits for the window
    assert slept == [pytest.approx(1.0)]
    assert limiter.delay("/b") == pytest.approx(4.0)  # the IP window: 3 per 5 s
    now[0] += 10
    assert limiter.pause_until("/a", int(now[0] * 1000) + 2500) == pytest.approx(2.5)
    assert limiter.delay("/a") == pytest.approx(2.5)
    assert limiter.delay("/b") == 0
    limiter.pause_until(None, int(now[0] * 1000) + 1000)
    assert limiter.delay("/b") == pytest.approx(1.0)
    assert limiter.stats.pauses == 2


async def test_rate_limiter_windows_keep_a_margin_for_arrival_jitter() -> None:
    # The venue counts arrivals: requests sent exactly one window apart can arrive inside one
    # window, so by default the client waits the window plus WINDOW_MARGIN_S.
    now = [0.0]
    limiter = RateLimiter({"/a": 1}, ip_per_5s=100, clock=lambda: now[0])
    await limiter.acquire("/a")
    now[0] = 1.0
    assert limiter.delay("/a") == pytest.approx(WINDOW_MARGIN_S)
    now[0] = 1.0 + WINDOW_MARGIN_S
    assert limiter.delay("/a") == 0


# ---------------------------------------------------------------------------- payloads
ORDER: dict[str, Any] = {
    "orderId": "o-1",
    "orderLinkId": "b1-1",
    "symbol": "BTCUSDT",
    "side": "Sell",
    "orderType": "Limit",
    "timeInForce": "PostOnly",
    "price": "65000.5",
    "qty": "0.010",
    "cumExecQty": "0.004",
    "orderStatus": "PartiallyFilled",
    "rejectReason": "EC_NoError",
    "cancelType": "UNKNOWN",
    "reduceOnly": False,
    "createdTime": "1700000000000",
    "updatedTime": "1700000000500",
}


def test_payloads_parse_exactly_and_name_what_is_wrong() -> None:
    order = parse.order(ORDER)
    assert (order.side, order.price, order.qty, order.cum_qty) == (
        OrderSide.SELL,
        Decimal("65000.5"),
        Decimal("0.010"),
        Decimal("0.004"),
    )
    assert order.is_open
    ended = parse.order(
        {**ORDER, "orderStatus": "Cancelled", "rejectReason": "EC_PostOnlyWillTakeLiquidity"}
    )
    assert ended.end_reason == "post-only order would have taken liquidity"
    odd = parse.order({**ORDER, "orderStatus": "Deactivated", "cancelType": "CancelByTpSlTsClear"})
    assert odd.end_reason == "venue: Deactivated (CancelByTpSlTsClear/EC_NoError)"
    short = parse.position(
        {
            "symbol": "ETHUSDT",
            "side": "Sell",
            "size": "1.5",
            "entryPrice": "3000",
            "unrealisedPnl": "",
            "markPrice": "3001",
        }
    )
    assert (short.size, short.avg_price, short.unrealized_pnl) == (
        Decimal("-1.5"),
        Decimal(3000),
        0,
    )
    with pytest.raises(PayloadError, match="order: 'qty' missing or not a number"):
        parse.order({**ORDER, "qty": None})
    with pytest.raises(PayloadError, match="execution: 'side' must be Buy or Sell"):
        parse.fill({"execId": "e", "orderId": "o", "symbol": "S", "side": "Long"})
    with pytest.raises(PayloadError, match="kline row: expected"):
        parse.candle_row(["1", "2"], "BTCUSDT", "1")


async def test_garbage_frames_are_counted_and_skipped() -> None:
    ws = BybitWebSocket("ws://unused", BybitConfig())
    got: list[dict[str, Any]] = []
    await ws.subscribe("order", got.append)
    for frame in ("not json", "[1, 2]", '{"no": "topic"}', '{"topic": "mystery", "data": []}'):
        ws._on_frame(frame)
    ws._on_frame(json.dumps({"topic": "order", "data": [{"x": 1}]}))
    assert ws.counts["malformed"] == 3
    assert len(got) == 1
    assert isinstance(got[0]["data"][0]["x"], int)
    assert asyncio.iscoroutinefunction(ws.start)


def test_ws_auth_signature_follows_the_docs() -> None:
    import hashlib
    import hmac

    key, expires, signature = auth_args(ApiCredentials("k", "secret"), 1_700_000_000_000)
    assert (key, expires) == ("k", 1_700_000_010_000)
    expected = hmac.new(b"secret", b"GET/realtime1700000010000", hashlib.sha256).hexdigest()
    assert signature == expected
