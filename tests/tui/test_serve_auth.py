"""Sessions and the wrong-key throttle of ``algotrade tui --serve`` (no server, no clock)."""

from __future__ import annotations

from algotrade.tui.serve_auth import FailureLimiter, SessionStore


def test_an_address_waits_after_the_limit_until_its_oldest_failure_leaves_the_window() -> None:
    limiter = FailureLimiter(limit=3, window=100.0)
    for moment in (0.0, 10.0, 20.0):
        assert limiter.retry_after("a", moment) is None
        limiter.failed("a", moment)
    assert limiter.retry_after("a", 30.0) == 70
    assert limiter.retry_after("b", 30.0) is None  # other addresses are not slowed
    assert limiter.retry_after("a", 100.0) is None  # the first failure left the window


def test_success_forgets_the_address() -> None:
    limiter = FailureLimiter(limit=1, window=100.0)
    limiter.failed("a", 0.0)
    assert limiter.retry_after("a", 1.0) == 99
    limiter.succeeded("a")
    assert limiter.retry_after("a", 1.0) is None


def test_sessions_refuse_forged_unknown_and_expired_cookies() -> None:
    store = SessionStore(lifetime=3600)
    cookie = store.create("some-key")
    session = store.get(cookie)
    assert session is not None
    assert session.api_key == "some-key"
    token, _, signature = cookie.partition(".")
    assert store.get(f"{token}.{'0' * len(signature)}") is None
    assert store.get("") is None
    assert store.get("nothing") is None
    assert "some-key" not in cookie
    store.drop(session)
    assert store.get(cookie) is None
    expired = SessionStore(lifetime=-1)
    assert expired.get(expired.create("k")) is None


def test_sessions_stay_bounded() -> None:
    store = SessionStore(limit=3)
    cookies = [store.create(f"key-{n}") for n in range(5)]
    assert len(store) == 3
    assert store.get(cookies[0]) is None
    assert store.get(cookies[-1]) is not None
