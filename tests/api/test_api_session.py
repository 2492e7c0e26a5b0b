"""Dashboard sessions: sign-in → cookie, cookie auth with the same-origin rule, sign-out, expiry,
and the wrong-key throttle (sign-in, X-API-Key and ?token= alike)."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.websockets import WebSocketDisconnect

from algotrade.api import ApiKeys, Role, create_app
from algotrade.api.auth import resolve_access
from algotrade.api.deps import ApiContext
from algotrade.api.errors import ApiHttpError
from algotrade.api.keys import fingerprint
from algotrade.api.session import (
    COOKIE_NAME,
    SESSION_TTL_S,
    FailureThrottle,
    SessionStore,
    client_address,
)
from algotrade.daemon.status import BotState
from testkit.api_harness import (
    ADMIN,
    ADMIN_KEY,
    TRADER_KEY,
    VERSION,
    TestClient,
    make_keys,
    make_test_client,
)
from testkit.fake_bot_service import FakeBotService, make_config

ORIGIN = "http://testserver"  # the TestClient's own origin
SAME = {"Origin": ORIGIN}
EVIL = {"Origin": "https://evil.example"}
WRONG = "wrong-key-wrong-key-0000"
_WRONG_KEYS = itertools.count()


def wrong() -> str:
    """A wrong key not sent before: the throttle counts each wrong key once per window."""
    return f"wrong-key-{next(_WRONG_KEYS):014d}"


T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _service() -> FakeBotService:
    service = FakeBotService()
    service.add_bot(make_config("alpha"))
    service.add_bot(make_config("runner"), BotState.RUNNING)
    return service


@pytest.fixture
def wall() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def mono() -> FakeClock:
    return FakeClock(1000.0)


@pytest.fixture
def app(wall: FakeClock, mono: FakeClock) -> FastAPI:
    app = create_app(_service(), make_keys(), version=VERSION)
    ctx: ApiContext = app.state.ctx
    ctx.sessions.clock = wall
    ctx.throttle.clock = mono
    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with make_test_client(app) as client:
        yield client


def sign_in(client: TestClient, key: str = ADMIN_KEY, **headers: str) -> Any:
    return client.post("/api/session", json={"api_key": key}, headers=headers)


def cookie_of(response: Any) -> str:
    header = response.headers["set-cookie"]
    assert header.startswith(f"{COOKIE_NAME}=")
    return str(header.split(";", 1)[0].split("=", 1)[1])


def with_cookie(token: str, **headers: str) -> dict[str, str]:
    return {"Cookie": f"{COOKIE_NAME}={token}", **headers}


def error(response: Any) -> tuple[int, str, str]:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    return response.status_code, body["error"]["code"], body["error"]["message"]


# -- sign-in and the cookie --------------------------------------------------------------------


def test_sign_in_sets_a_strict_http_only_cookie(client: TestClient) -> None:
    response = sign_in(client)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "role": "admin",
        "expires_at": "2023-11-15T10:13:20Z",  # 12 h after T0, absolute
        "auth_enabled": True,
    }
    attributes = [part.strip() for part in response.headers["set-cookie"].split(";")]
    assert attributes[1:] == ["Max-Age=43200", "Path=/", "HttpOnly", "SameSite=Strict"]
    assert len(cookie_of(response)) >= 40  # 32 random bytes, URL-safe base64
    assert response.headers["cache-control"] == "no-store"


def test_cookie_is_secure_over_https(app: FastAPI) -> None:
    with TestClient(app, base_url="https://testserver") as client:
        response = sign_in(client, Origin="https://testserver")
    assert response.status_code == 200
    assert response.headers["set-cookie"].endswith("; Secure")


def test_forwarded_proto_is_not_read_by_the_app(client: TestClient) -> None:
    # uvicorn rewrites the scheme for trusted proxies only; the app never reads the header.
    response = sign_in(client, **{"X-Forwarded-Proto": "https"})
    assert "Secure" not in response.headers["set-cookie"]


def test_trader_sign_in(client: TestClient) -> None:
    response = sign_in(client, TRADER_KEY)
    assert response.json()["role"] == "trader"


def test_wrong_key_is_401_in_the_api_error_shape(client: TestClient) -> None:
    response = sign_in(client, WRONG)
    status, code, message = error(response)
    assert (status, code) == (401, "unauthorized")
    assert "\n" not in message
    assert WRONG not in message
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"api_key": ""}',
        b'{"api_key": 5}',
        b"{}",
        b'{"api_key": "' + b"x" * 2000 + b'"}',
        b'{"api_key": "x", "extra": 1}',
        b"[" * 300,
    ],
)
def test_bad_sign_in_bodies_are_4xx_and_not_counted(client: TestClient, body: bytes) -> None:
    for _ in range(6):
        response = client.post(
            "/api/session", content=body, headers={"Content-Type": "application/json"}
        )
        assert 400 <= response.status_code < 500, response.text
        assert response.status_code != 429
    assert sign_in(client).status_code == 200  # malformed requests are not wrong keys


def test_sign_in_from_another_origin_is_refused(client: TestClient) -> None:
    response = sign_in(client, **EVIL)
    assert error(response)[:3] == (403, "forbidden", "cross-origin request refused")
    assert sign_in(client, **SAME).status_code == 200
    assert sign_in(client).status_code == 200  # programs send no Origin


def test_signing_in_again_ends_the_previous_session(client: TestClient) -> None:
    first = cookie_of(sign_in(client))
    second = cookie_of(sign_in(client, TRADER_KEY))
    assert first != second
    assert client.get("/api/bots", headers=with_cookie(first)).status_code == 401
    assert client.get("/api/session", headers=with_cookie(second)).json()["role"] == "trader"


# -- using the cookie ----------------------------------------------------------------------------


def test_cookie_authorises_reads(client: TestClient) -> None:
    sign_in(client, TRADER_KEY)  # the TestClient keeps the cookie
    assert client.get("/api/bots").status_code == 200
    assert client.get("/api/summary").status_code == 200
    assert client.get("/api/session").json() == {
        "role": "trader",
        "expires_at": "2023-11-15T10:13:20Z",
        "auth_enabled": True,
    }


def test_get_session_with_a_key_answers_its_role(client: TestClient) -> None:
    response = client.get("/api/session", headers=ADMIN)
    assert response.json() == {"role": "admin", "expires_at": None, "auth_enabled": True}
    assert error(client.get("/api/session"))[:2] == (401, "unauthorized")


def test_cookie_mutation_needs_the_own_origin(client: TestClient) -> None:
    token = cookie_of(sign_in(client))
    client.cookies.clear()
    start = "/api/bots/alpha/start"
    assert error(client.put(start, headers=with_cookie(token, **EVIL)))[1:] == (
        "forbidden",
        "cross-origin request refused",
    )
    # Neither Origin nor Referer: refused too (browsers send Origin on every such request).
    assert client.put(start, headers=with_cookie(token)).status_code == 403
    assert client.put(start, headers=with_cookie(token, Origin="null")).status_code == 403
    # Same host, other scheme or port: another origin.
    for other in ("https://testserver", "http://testserver:8080", "http://testserver.evil"):
        assert client.put(start, headers=with_cookie(token, Origin=other)).status_code == 403
    assert (
        client.get("/api/bots/alpha", headers=with_cookie(token)).json()["status"]["state"]
        == "stopped"
    )
    assert client.put(start, headers=with_cookie(token, **SAME)).status_code == 200
    assert (
        client.put(
            "/api/bots/alpha/stop", headers=with_cookie(token, Origin="http://TESTSERVER:80")
        ).status_code
        == 200
    )  # default port and letter case do not matter


def test_referer_stands_in_for_a_missing_origin(client: TestClient) -> None:
    token = cookie_of(sign_in(client))
    client.cookies.clear()
    good = with_cookie(token, Referer=f"{ORIGIN}/#/bots/alpha")
    assert client.put("/api/bots/alpha/start", headers=good).status_code == 200
    bad = with_cookie(token, Referer="https://evil.example/page")
    assert client.put("/api/bots/alpha/stop", headers=bad).status_code == 403


def test_forged_create_is_refused_before_the_body_is_read(client: TestClient) -> None:
    token = cookie_of(sign_in(client))
    client.cookies.clear()
    headers = with_cookie(token, **EVIL, **{"Content-Type": "application/json"})
    response = client.post("/api/bots", content=b"{not json", headers=headers)
    assert response.status_code == 403
    assert [bot["bot_id"] for bot in client.get("/api/bots", headers=ADMIN).json()] == [
        "alpha",
        "runner",
    ]


def test_trader_cookie_is_read_only(client: TestClient) -> None:
    sign_in(client, TRADER_KEY)
    status, code, message = error(client.put("/api/bots/alpha/start", headers=SAME))
    assert (status, code) == (403, "forbidden")
    assert "trader" in message
    keyed = client.put("/api/bots/alpha/start", headers={"X-API-Key": TRADER_KEY})
    assert keyed.status_code == 403  # exactly as a trader key


def test_a_key_wins_over_the_cookie_and_skips_the_origin_check(client: TestClient) -> None:
    sign_in(client)
    # A wrong key is wrong even with a good cookie alongside.
    assert client.get("/api/bots", headers={"X-API-Key": WRONG}).status_code == 401
    # A browser cannot forge a key: keyed calls are not subject to the Origin check.
    assert client.put("/api/bots/alpha/start", headers={**ADMIN, **EVIL}).status_code == 200


def test_sign_out_revokes_on_the_server(client: TestClient) -> None:
    token = cookie_of(sign_in(client))
    response = client.delete("/api/session", headers=SAME)
    assert response.status_code == 204
    attributes = [part.strip() for part in response.headers["set-cookie"].split(";")]
    assert attributes == [f"{COOKIE_NAME}=", "Max-Age=0", "Path=/", "HttpOnly", "SameSite=Strict"]
    assert COOKIE_NAME not in client.cookies
    # The old cookie, replayed, is dead on the daemon too.
    assert error(client.get("/api/bots", headers=with_cookie(token)))[:2] == (401, "unauthorized")
    assert client.delete("/api/session").status_code == 204  # idempotent


def test_sign_out_from_another_origin_is_refused(client: TestClient) -> None:
    token = cookie_of(sign_in(client))
    assert client.delete("/api/session", headers=EVIL).status_code == 403
    assert client.get("/api/bots", headers=with_cookie(token)).status_code == 200


def test_session_expires_twelve_hours_after_sign_in(client: TestClient, wall: FakeClock) -> None:
    token = cookie_of(sign_in(client))
    wall.now = T0 + SESSION_TTL_S - 1
    assert client.get("/api/bots", headers=with_cookie(token)).status_code == 200  # absolute:
    wall.now = T0 + SESSION_TTL_S  # use does not extend it
    status, _, message = error(client.get("/api/bots", headers=with_cookie(token)))
    assert status == 401
    assert "sign in again" in message


def test_unknown_cookie_is_401_and_not_a_wrong_key(client: TestClient) -> None:
    for _ in range(10):
        response = client.get("/api/bots", headers=with_cookie("made-up-token"))
        assert response.status_code == 401  # stale cookies after a restart lock no one out
    assert sign_in(client).status_code == 200


def test_session_of_a_key_no_longer_configured_stops(app: FastAPI, client: TestClient) -> None:
    # Reload/rotation would give the app new keys: the session's key fingerprint is looked up
    # in the keys in force on every request.
    token = cookie_of(sign_in(client, TRADER_KEY))
    ctx: ApiContext = app.state.ctx
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/api/bots",
        "headers": [(b"cookie", f"{COOKIE_NAME}={token}".encode())],
        "client": ("127.0.0.1", 1),
    }
    assert resolve_access(ctx, scope, "GET") is Role.TRADER
    rotated = ApiContext(
        service=ctx.service,
        auth=ApiKeys([(Role.ADMIN, ADMIN_KEY), (Role.TRADER, "new-trader-key-0123456789")]),
        metrics=ctx.metrics,
        version=VERSION,
        sessions=ctx.sessions,
        throttle=ctx.throttle,
    )
    with pytest.raises(ApiHttpError) as refused:
        resolve_access(rotated, scope, "GET")
    assert refused.value.status == 401
    assert len(ctx.sessions) == 0  # and it is gone


def test_neither_key_nor_token_is_logged(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = cookie_of(sign_in(client))
    sign_in(client, WRONG)
    client.put("/api/bots/alpha/start", headers=with_cookie(token, **EVIL))
    client.delete("/api/session", headers=SAME)
    assert "session opened" in caplog.text
    assert "session closed" in caplog.text
    for secret in (ADMIN_KEY, WRONG, token):
        assert secret not in caplog.text


# -- the throttle ---------------------------------------------------------------------------------


def test_five_wrong_keys_then_429_with_doubling_delays(client: TestClient, mono: FakeClock) -> None:
    for _ in range(4):
        assert sign_in(client, wrong()).status_code == 401
    assert sign_in(client, wrong()).status_code == 401  # the 5th is answered, then the lock
    locked = sign_in(client, ADMIN_KEY)  # not even a right key is checked now
    status, code, message = error(locked)
    assert (status, code) == (429, "too_many_requests")
    assert "retry in 1 s" in message
    assert locked.headers["retry-after"] == "1"
    delays = []
    for _ in range(12):
        mono.now += float(client.app.state.ctx.throttle.retry_after("testclient") or 0)
        assert sign_in(client, wrong()).status_code == 401
        delays.append(int(sign_in(client, wrong()).headers["retry-after"]))
    assert delays == [2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300, 300]
    # A lock is waited out with the right key; the failures stay on record (no reset on success,
    # or a trader could clear its count while guessing the admin key).
    mono.now += 300
    assert sign_in(client).status_code == 200
    assert sign_in(client, wrong()).status_code == 401
    assert sign_in(client).status_code == 429


def test_the_same_wrong_key_again_is_not_counted_again(client: TestClient) -> None:
    # A script retrying with a stale key, or a scanner probing every route with one made-up
    # key (schemathesis' ignored_auth), locked the whole address out, the operator included.
    stale = wrong()
    for _ in range(20):
        assert client.get("/api/bots", headers={"X-API-Key": stale}).status_code == 401
        assert sign_in(client, stale).status_code == 401
    assert client.get("/api/bots", headers=ADMIN).status_code == 200
    for _ in range(4):  # four more distinct wrong keys: five in all, the lock
        assert sign_in(client, wrong()).status_code == 401
    assert sign_in(client).status_code == 429


def test_failures_older_than_ten_minutes_are_forgotten(client: TestClient, mono: FakeClock) -> None:
    for _ in range(4):
        assert sign_in(client, wrong()).status_code == 401
    mono.now += 600
    for _ in range(4):
        assert sign_in(client, wrong()).status_code == 401
    assert sign_in(client).status_code == 200  # only 4 in the last 10 minutes


def test_wrong_x_api_keys_count_too(client: TestClient) -> None:
    for _ in range(5):
        assert client.get("/api/bots", headers={"X-API-Key": wrong()}).status_code == 401
    response = client.get("/api/bots", headers=ADMIN)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert sign_in(client).status_code == 429
    assert client.get("/api/bots").status_code == 401  # no key: nothing to throttle
    assert client.get("/api/health").status_code == 200


def test_wrong_ws_tokens_count_too(client: TestClient) -> None:
    for _ in range(5):
        with (
            client.websocket_connect(f"/ws?token={wrong()}") as ws,
            pytest.raises(WebSocketDisconnect) as closed,
        ):
            ws.receive_json()
        assert closed.value.code == 4401
    with (
        client.websocket_connect(f"/ws?token={ADMIN_KEY}") as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        ws.receive_json()
    assert closed.value.code == 4429
    assert "retry in 1 s" in closed.value.reason
    assert sign_in(client).status_code == 429


def test_another_address_is_not_throttled(app: FastAPI) -> None:
    with TestClient(app, client=("203.0.113.7", 1)) as attacker:
        for _ in range(6):
            sign_in(attacker, wrong())
        assert sign_in(attacker).status_code == 429
    with TestClient(app, client=("198.51.100.9", 1)) as operator:
        assert sign_in(operator).status_code == 200


# -- the WebSocket with the cookie ---------------------------------------------------------------


def _ws_outcome(client: TestClient, headers: dict[str, str]) -> int | str:
    try:
        with client.websocket_connect("/ws", headers=headers) as ws:
            ws.send_json({"op": "ping"})
            return str(ws.receive_json()["type"])
    except WebSocketDisconnect as closed:
        return closed.code


def test_ws_with_the_cookie_needs_the_own_origin(client: TestClient) -> None:
    token = cookie_of(sign_in(client, TRADER_KEY))
    client.cookies.clear()
    assert _ws_outcome(client, with_cookie(token, **SAME)) == "pong"
    assert _ws_outcome(client, with_cookie(token, **EVIL)) == 4401
    assert _ws_outcome(client, with_cookie(token)) == 4401  # no Origin: not a browser page
    assert _ws_outcome(client, with_cookie("made-up", **SAME)) == 4401
    client.delete("/api/session", headers={**with_cookie(token), **SAME})
    assert _ws_outcome(client, with_cookie(token, **SAME)) == 4401


def test_ws_with_a_key_ignores_the_origin(client: TestClient) -> None:
    assert _ws_outcome(client, {**ADMIN, **EVIL}) == "pong"


# -- auth disabled -------------------------------------------------------------------------------


def test_no_keys_no_sign_in_needed() -> None:
    app = create_app(_service(), ApiKeys.empty(), version=VERSION)
    disabled = {"role": "admin", "expires_at": None, "auth_enabled": False}
    with make_test_client(app) as client:
        assert client.get("/api/session").json() == disabled
        response = client.post("/api/session", json={"api_key": "anything"})
        assert response.json() == disabled
        assert "set-cookie" not in response.headers
        assert client.put("/api/bots/alpha/start").status_code == 200
        assert client.put("/api/bots/alpha/stop", headers=SAME).status_code == 200
        # A page elsewhere cannot drive a keyless daemon through its user's browser.
        assert client.put("/api/bots/alpha/start", headers=EVIL).status_code == 403
        assert _ws_outcome(client, EVIL) == 4401
        assert _ws_outcome(client, {}) == "pong"


# -- the store and the throttle themselves ------------------------------------------------------


def test_session_store_is_bounded_and_forgets_the_oldest() -> None:
    clock = FakeClock(T0)
    store = SessionStore(clock=clock, max_sessions=3)
    tokens = [store.create(fingerprint(ADMIN_KEY))[0] for _ in range(3)]
    clock.now += 1
    newest, _ = store.create(fingerprint(ADMIN_KEY))
    assert len(store) == 3
    assert store.get(tokens[0]) is None
    assert store.get(newest) is not None
    assert store.get(None) is None
    assert store.get("") is None
    assert len(set(tokens)) == 3


def test_session_store_keeps_no_token_or_key() -> None:
    store = SessionStore()
    token, session = store.create(fingerprint(ADMIN_KEY))
    kept = repr(store._sessions)
    assert token not in kept
    assert ADMIN_KEY not in kept
    assert session.key_fingerprint != ADMIN_KEY.encode()


def test_throttle_table_is_bounded() -> None:
    clock = FakeClock(0.0)
    throttle = FailureThrottle(clock=clock, max_addresses=100)
    for n in range(1000):
        throttle.record_failure(f"10.0.{n // 256}.{n % 256}", WRONG)
    assert len(throttle) == 100


def test_client_address_groups_ipv6_by_64() -> None:
    assert client_address("2001:db8::1") == client_address("2001:db8::ffff:1") == "2001:db8::/64"
    assert client_address("2001:db8:0:1::1") != client_address("2001:db8::1")
    assert client_address("::ffff:192.0.2.1") == "192.0.2.1"
    assert client_address("192.0.2.1") == "192.0.2.1"
    assert client_address(None) == "?"


def test_a_whole_quiet_window_after_a_lock_starts_afresh(
    client: TestClient, mono: FakeClock
) -> None:
    for _ in range(7):
        sign_in(client, wrong())
        mono.now += 10  # each lock (1, 2, 4 s) waited out
    assert sign_in(client, wrong()).status_code == 401
    assert sign_in(client).headers["retry-after"] == "8"  # the 8th wrong key: still doubling
    mono.now += 599
    assert sign_in(client, wrong()).status_code == 401  # not quiet long enough: 16 s now
    assert sign_in(client).headers["retry-after"] == "16"
    mono.now += 600
    for _ in range(4):
        assert sign_in(client, wrong()).status_code == 401
    assert sign_in(client).status_code == 200
