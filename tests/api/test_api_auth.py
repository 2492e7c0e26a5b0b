"""API keys: parsing from env/file, constant-time matching, and the route × role matrix."""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from algotrade.api import ApiKeys, Role, create_app
from algotrade.core.errors import ConfigError
from algotrade.daemon.status import BotState
from testkit.api_harness import (
    ADMIN,
    ADMIN_KEY,
    TRADER,
    TRADER_KEY,
    VERSION,
    TestClient,
    make_keys,
    make_test_client,
)
from testkit.fake_bot_service import FakeBotService, make_config

# -- ApiKeys -----------------------------------------------------------------------------------


def test_keys_from_env_and_file(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys"
    keys_file.write_text(
        "# operators\n\ntrader:file-trader-key-123456\n  admin:file-admin-key-1234567  \n"
    )
    env = {"ALGOTRADE_API_KEYS": f"admin:{ADMIN_KEY}, trader:{TRADER_KEY},"}
    keys = ApiKeys.from_sources(env, keys_file)
    assert keys.enabled
    assert keys.authenticate(ADMIN_KEY) is Role.ADMIN
    assert keys.authenticate(TRADER_KEY) is Role.TRADER
    assert keys.authenticate("file-trader-key-123456") is Role.TRADER
    assert keys.authenticate("file-admin-key-1234567") is Role.ADMIN
    assert keys.authenticate("file-admin-key-123456") is None  # a prefix is not a key
    assert keys.authenticate(None) is None
    assert keys.authenticate("") is None
    assert keys.authenticate("ключ-не-ascii-🔑") is None  # non-ASCII input must not crash


def test_env_keys_may_be_one_per_line() -> None:
    """ALGOTRADE_API_KEYS_FILE holds the variable's text: commas or one key per line."""
    keys = ApiKeys.from_sources({"ALGOTRADE_API_KEYS": f"admin:{ADMIN_KEY}\ntrader:{TRADER_KEY}\n"})
    assert keys.authenticate(ADMIN_KEY) is Role.ADMIN
    assert keys.authenticate(TRADER_KEY) is Role.TRADER


def test_no_sources_means_no_keys() -> None:
    keys = ApiKeys.from_sources({}, None)
    assert not keys.enabled
    assert not ApiKeys.empty().enabled
    assert keys.authenticate(ADMIN_KEY) is None


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("admin:short-key", "shorter than 16"),
        ("root:SECRETSECRETSECRET123", "unknown role"),
        ("SECRETSECRETSECRET123", "expected role:key"),
        ("admin:SECRET SECRET SECRET123", "printable ASCII"),
    ],
)
def test_bad_env_entry_names_entry_not_key(entry: str, problem: str) -> None:
    env = {"ALGOTRADE_API_KEYS": f"trader:{TRADER_KEY},{entry}"}
    with pytest.raises(ConfigError) as caught:
        ApiKeys.from_sources(env, None)
    message = str(caught.value)
    assert "ALGOTRADE_API_KEYS entry 2" in message
    assert problem in message
    assert "SECRET" not in message
    assert "short-key" not in message


def test_bad_file_line_names_file_and_line(tmp_path: Path) -> None:
    keys_file = tmp_path / "api.keys"
    keys_file.write_text(f"# comment\nadmin:{ADMIN_KEY}\n\nguest:SECRETSECRETSECRET123\n")
    with pytest.raises(ConfigError) as caught:
        ApiKeys.from_sources({}, keys_file)
    message = str(caught.value)
    assert f"{keys_file} line 4" in message
    assert "SECRET" not in message


def test_missing_keys_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"API keys file .*absent: No such file"):
        ApiKeys.from_sources({}, tmp_path / "absent")


def test_same_key_for_two_roles_is_rejected() -> None:
    env = {"ALGOTRADE_API_KEYS": f"admin:{ADMIN_KEY},trader:{ADMIN_KEY}"}
    with pytest.raises(ConfigError, match="entry 2: same key as ALGOTRADE_API_KEYS entry 1") as e:
        ApiKeys.from_sources(env, None)
    assert ADMIN_KEY not in str(e.value)


def test_repr_never_shows_keys() -> None:
    keys = ApiKeys([(Role.ADMIN, ADMIN_KEY), (Role.TRADER, TRADER_KEY)])
    assert repr(keys) == "ApiKeys(admin=1, trader=1)"
    assert keys.secrets() == (ADMIN_KEY, TRADER_KEY)  # for the log redactor


@pytest.mark.parametrize("key", ["", "k3y", "x" * 15, "spaces in a long key"])
def test_keys_given_in_code_are_checked_too(key: str) -> None:
    with pytest.raises(ConfigError, match=r"^API key 2: ") as caught:
        ApiKeys([(Role.ADMIN, ADMIN_KEY), (Role.TRADER, key)])
    assert key not in str(caught.value) or not key


def test_authenticate_compares_every_key(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bytes] = []
    real_compare = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append(b)
        return real_compare(a, b)

    # auth.py calls hmac.compare_digest through the module, so patching the module counts.
    monkeypatch.setattr(hmac, "compare_digest", counting)
    keys = ApiKeys([(Role.ADMIN, ADMIN_KEY), (Role.TRADER, TRADER_KEY), (Role.TRADER, "x" * 20)])
    assert keys.authenticate(ADMIN_KEY) is Role.ADMIN  # matches the first key...
    assert len(calls) == 3  # ...and still compares against all of them


# -- the route × key matrix ---------------------------------------------------------------------


class _AnyStr(str):
    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and bool(other)

    __hash__ = str.__hash__


ANY_STR = _AnyStr()

NEW_BOT = {"bot_id": "newbot", "symbol": "ETH-USD", "strategy": "rsi"}

# (method, path, body, status for a key that may call it)
JOB = "bt-20260101000000000-abcdef"
ROUTES: list[tuple[str, str, dict[str, Any] | None, int]] = [
    ("GET", "/api/bots", None, 200),
    ("POST", "/api/bots", NEW_BOT, 201),
    ("GET", "/api/bots/alpha", None, 200),
    ("DELETE", "/api/bots/alpha", None, 204),
    ("PUT", "/api/bots/alpha/start", None, 200),
    ("PUT", "/api/bots/runner/stop", None, 200),
    ("PUT", "/api/bots/runner/pause", None, 200),
    ("PUT", "/api/bots/sleeper/resume", None, 200),
    ("PATCH", "/api/bots/alpha/config", {"leverage": "2"}, 200),
    ("GET", "/api/bots/alpha/orders", None, 200),
    ("GET", "/api/bots/alpha/fills", None, 200),
    ("GET", "/api/bots/alpha/equity", None, 200),
    ("GET", "/api/bots/alpha/positions", None, 200),
    ("GET", "/api/bots/alpha/bars", None, 200),
    ("GET", "/api/bots/alpha/logs", None, 200),
    ("GET", "/api/summary", None, 200),
    ("GET", "/api/strategies", None, 200),
    ("GET", "/api/health", None, 200),
    ("GET", "/api/version", None, 200),
    ("GET", "/metrics", None, 200),
    # The fake service has no risk engine: authorised callers get 404 risk_disabled, but
    # the key is checked first, like everywhere else.
    ("GET", "/api/risk/accounts", None, 404),
    ("GET", "/api/risk/accounts/acct", None, 404),
    ("GET", "/api/risk/lockouts", None, 404),
    ("GET", "/api/risk/enforcements", None, 404),
    ("GET", "/api/risk/audit", None, 404),
    ("POST", "/api/risk/accounts/acct/unlock", {"reason": "checked"}, 404),
    ("PUT", "/api/risk/rules", {"rules": {}}, 404),
    # No live venue is connected in the fake service: reconcile answers 409.
    ("GET", "/api/venues", None, 200),
    ("POST", "/api/venues/hyperliquid/reconcile", None, 409),
    # The app has no data directory here: backtests answer 404 backtests_disabled, after the
    # key is checked like everywhere else.
    ("GET", "/api/backtests", None, 404),
    ("POST", "/api/backtests", {"strategy": "ma_crossover", "synthetic": {}}, 404),
    ("GET", f"/api/backtests/{JOB}", None, 404),
    ("GET", f"/api/backtests/{JOB}/report", None, 404),
    ("DELETE", f"/api/backtests/{JOB}", None, 404),
    ("GET", "/api/datasets", None, 404),
    # Nor a reloader (no config source): reload answers 404 reload_disabled, after the key.
    ("GET", "/api/reload", None, 404),
    ("POST", "/api/reload", None, 404),
    # Sign-in checks the key in its body (whatever header is sent); sign-out always answers 204.
    ("POST", "/api/session", {"api_key": TRADER_KEY}, 200),
    ("GET", "/api/session", None, 200),
    ("DELETE", "/api/session", None, 204),
]
KEYS = {
    "no key": {},
    "bad key": {"X-API-Key": "not-a-valid-key-at-all"},
    "trader": TRADER,
    "admin": ADMIN,
}


def _expected(method: str, path: str, ok: int, who: str) -> int:
    if path == "/api/health":
        return ok  # open to probes
    if path == "/api/session" and method != "GET":
        return ok  # sign-in authenticates its body; anyone may sign out
    if who in ("no key", "bad key"):
        return 401
    if who == "trader" and method != "GET":
        return 403
    return ok


def _matrix_service() -> FakeBotService:
    service = FakeBotService()
    service.add_bot(make_config("alpha"))
    service.add_bot(make_config("runner"), BotState.RUNNING)
    service.add_bot(make_config("sleeper"), BotState.PAUSED)
    return service


@pytest.mark.parametrize("who", list(KEYS))
@pytest.mark.parametrize(("method", "path", "body", "ok"), ROUTES)
def test_auth_matrix(
    method: str, path: str, body: dict[str, Any] | None, ok: int, who: str
) -> None:
    service = _matrix_service()
    app = create_app(service, make_keys(), version=VERSION)
    with make_test_client(app) as client:
        before = client.get("/api/bots", headers=ADMIN).json()
        response = client.request(method, path, json=body, headers=KEYS[who])
        after = client.get("/api/bots", headers=ADMIN).json()
    expected = _expected(method, path, ok, who)
    assert response.status_code == expected, response.text
    if expected in (401, 403):
        code = "unauthorized" if expected == 401 else "forbidden"
        assert response.json() == {"error": {"code": code, "message": ANY_STR}}
        assert after == before  # a refused call changes nothing


def test_matrix_covers_every_route(app: FastAPI) -> None:
    # Every documented operation is in the matrix, so a new route cannot skip the auth test.
    app_routes = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    matrix = {(method, _template(path)) for method, path, _, _ in ROUTES}
    assert matrix == app_routes


def _template(path: str) -> str:
    for bot in ("alpha", "runner", "sleeper"):
        path = path.replace(f"/{bot}", "/{bot_id}")
    path = path.replace(f"/{JOB}", "/{job_id}")
    return path.replace("/acct", "/{account_id}").replace("/hyperliquid/", "/{venue}/")


def test_auth_error_wins_over_body_errors(client: TestClient) -> None:
    # FastAPI parses the body before dependencies run; the key must still be checked first.
    json_type = {"Content-Type": "application/json"}
    response = client.post("/api/bots", content=b"{not json", headers=json_type)
    assert response.status_code == 401
    headers = {**TRADER, "Content-Type": "application/json"}
    response = client.post("/api/bots", content=b"{not json", headers=headers)
    assert response.status_code == 403
    headers = {**ADMIN, "Content-Type": "application/json"}
    response = client.post("/api/bots", content=b"{not json", headers=headers)
    assert response.status_code == 422


def test_no_keys_configured_opens_everything() -> None:
    service = _matrix_service()
    app = create_app(service, ApiKeys.empty(), version=VERSION)
    with make_test_client(app) as client:
        assert client.get("/api/bots").status_code == 200
        assert client.put("/api/bots/alpha/start").status_code == 200
        assert client.get("/metrics").status_code == 200
        with client.websocket_connect("/ws") as ws:
            ws.send_json({"op": "ping"})
            assert ws.receive_json() == {"type": "pong"}


def test_rejected_keys_are_not_logged(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="algotrade.api")
    secret = "wrong-but-secret-key-0001"
    assert client.get("/api/bots", headers={"X-API-Key": secret}).status_code == 401
    assert "unauthorized" in caplog.text
    assert secret not in caplog.text


# -- authorisation comes before the body --------------------------------------------------------

GARBAGE_BODIES: dict[str, tuple[bytes, str]] = {
    "broken JSON": (b"{not json", "application/json"),
    "not UTF-8": (b'{"bot_id": "\xff\xfe"}', "application/json"),
    "nested 200k deep": (b"[" * 200_000, "application/json"),
    "5000-digit number": (b'{"leverage": ' + b"9" * 5000 + b"}", "application/json"),
    "over the size limit": (b" " * (2 << 20), "application/json"),
    "wrong media type": (b"hello", "text/plain"),
    "wrong schema": (b'{"rules": 1, "reason": [], "symbol": {}}', "application/json"),
}
REFUSED = {"no key": ({}, 401), "bad key": (KEYS["bad key"], 401), "trader": (TRADER, 403)}
PATH_VALUES = {"bot_id": "alpha", "account_id": "acct", "venue": "hyperliquid", "job_id": "job-1"}


def _mutating_operations() -> list[tuple[str, str]]:
    spec = create_app(FakeBotService(), make_keys(), version=VERSION).openapi()
    return sorted(
        (method.upper(), path.format(**PATH_VALUES))
        for path, operations in spec["paths"].items()
        for method in operations
        # Sign-in reads its body to find the key; sign-out needs none (tests/api/test_api_session)
        if method.upper() in ("POST", "PUT", "PATCH", "DELETE") and path != "/api/session"
    )


MUTATING = _mutating_operations()


def test_every_mutating_route_is_covered() -> None:
    assert len(MUTATING) >= 10, MUTATING


@pytest.mark.parametrize("who", list(REFUSED))
@pytest.mark.parametrize("garbage", list(GARBAGE_BODIES))
def test_refused_callers_get_401_or_403_whatever_the_body(who: str, garbage: str) -> None:
    # FastAPI reads and validates a body before it runs dependencies; a caller who may not make
    # the call must hear that first, and never learn how its body was wrong.
    headers, status = REFUSED[who]
    body, media_type = GARBAGE_BODIES[garbage]
    app = create_app(_matrix_service(), make_keys(), version=VERSION)
    with make_test_client(app) as client:
        for method, path in MUTATING:
            for target in (path, path.replace("alpha", "not a valid id!")):
                response = client.request(
                    method, target, content=body, headers={**headers, "Content-Type": media_type}
                )
                if who == "bad key" and response.status_code == 429:
                    # Five wrong keys lock the address out: no key is even checked then.
                    assert response.json()["error"]["code"] == "too_many_requests"
                    continue
                assert response.status_code == status, (method, target, response.text)
                expected = "unauthorized" if status == 401 else "forbidden"
                assert response.json()["error"]["code"] == expected


ADMIN_HEARS = {
    "broken JSON": (422, "body: invalid JSON at character 1"),
    "not UTF-8": (400, "body: not UTF-8 text"),
    "nested 200k deep": (400, "body: JSON nested too deeply"),
    "5000-digit number": (400, "body: a JSON number has more than 4300 digits"),
    "over the size limit": (413, "request body is larger than 1048576 bytes"),
    "wrong media type": (422, "body: "),
    "wrong schema": (422, "body.symbol: "),
}


@pytest.mark.parametrize("garbage", list(GARBAGE_BODIES))
def test_an_admin_learns_what_is_wrong_with_the_body(garbage: str) -> None:
    body, media_type = GARBAGE_BODIES[garbage]
    status, needle = ADMIN_HEARS[garbage]
    app = create_app(_matrix_service(), make_keys(), version=VERSION)
    with make_test_client(app) as client:
        response = client.post(
            "/api/bots", content=body, headers={**ADMIN, "Content-Type": media_type}
        )
    assert response.status_code == status, response.text
    assert needle in response.json()["error"]["message"]


def test_deep_json_is_refused_before_parsing_even_with_a_raised_recursion_limit() -> None:
    """Found in CI: with the recursion limit raised (as some libraries do), parsing a body
    200k deep overflowed the C stack and killed the process. The depth is checked first."""
    import sys

    from algotrade.api.errors import json_nesting_exceeds

    before = sys.getrecursionlimit()
    sys.setrecursionlimit(10**6)
    try:
        assert json_nesting_exceeds(b"[" * 200_000)
        assert not json_nesting_exceeds(b'{"a": "' + b"[" * 5000 + b'"}')  # inside a string
        assert not json_nesting_exceeds(b"[" * 200 + b"]" * 200)
        assert json_nesting_exceeds(b"[" * 201 + b"]" * 201)
    finally:
        sys.setrecursionlimit(before)
