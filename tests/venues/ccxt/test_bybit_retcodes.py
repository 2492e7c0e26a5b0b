"""Bybit retCodes classified as docs/v5/error and docs/v5/rate-limit define them, and what the
operator sees: a refused key says which part of it to fix, an access restriction (10009) is
not taken for a key problem and is not retried, the retired IP rate limit (10018) pauses every
endpoint like HTTP 403."""

from __future__ import annotations

import pytest
from bybit_harness import KEY, Owner, Setup, Sink, connect, limit, until, venue_for

from algotrade.core.events import OrderRejected
from algotrade.core.orders import OrderStatus
from algotrade.venues.ccxt.bybit.config import BybitConfig
from algotrade.venues.ccxt.bybit.rest import BybitRest, api_error
from algotrade.venues.ccxt.credentials import ApiCredentials
from algotrade.venues.ccxt.errors import AccessRestricted, AuthFailed, RateLimited, VenueRefused
from testkit.fake_bybit import FakeBybit

CREATE = "/v5/order/create"
POSITIONS = "/v5/position/list"


@pytest.mark.parametrize(
    ("code", "hint"),
    [
        (10003, "invalid for this network"),
        (10004, "check the API secret"),
        (10005, "lacks a permission"),
        (10007, "check the API key and secret"),
        (10010, "not among the API key's bound IP addresses"),
        (33004, "has expired"),
        (-2015, "has expired"),
    ],
)
def test_refused_credentials_say_what_to_fix(code: int, hint: str) -> None:
    error = api_error(code, "retMsg")
    assert isinstance(error, AuthFailed)
    assert str(error).startswith(f"Bybit {code}: retMsg (")
    assert hint in str(error)


def test_10009_is_an_access_restriction_not_a_key_problem() -> None:
    """Defect: 10009 ("Service Restricted ... for your region"; until May 2026 "IP has been
    banned") was an ``AuthFailed``, as if the API key were wrong."""
    error = api_error(10009, "Service Restricted")
    assert isinstance(error, AccessRestricted)
    assert not isinstance(error, AuthFailed)
    assert "the API key is not the problem" in str(error)
    assert "contact Bybit support" in str(error)


def test_a_request_outside_the_time_window_names_the_clock() -> None:
    """10002: the request's timestamp is outside recv_window of Bybit's clock (not executed);
    the operator is told what to do instead of only Bybit's words."""
    error = api_error(10002, "invalid request, please check your server timestamp or recv_window")
    assert isinstance(error, VenueRefused)
    assert error.code == 10002
    assert "synchronise the clock (NTP) or raise venues.bybit.recv_window_ms" in str(error)


def test_the_retired_ip_rate_limit_code_is_an_ip_ban() -> None:
    error = api_error(10018, "Exceeded the IP Rate Limit.")
    assert isinstance(error, RateLimited)
    assert error.retry_at_ms == -1  # the caller pauses every endpoint (ip_ban_backoff_s)


async def test_an_order_refused_with_10009_is_rejected_once_saying_why(
    fake: FakeBybit, uid: str
) -> None:
    sink = Sink()
    connection = await connect(fake, Owner([sink]))
    try:
        venue = await venue_for(connection, sink)
        fake.fail_next(1, path=CREATE, ret_code=10009)
        order = sink.new(limit("buy", "0.001", "64000"))
        venue.submit(order)
        await until(lambda: order.status is OrderStatus.REJECTED, "the rejection", 5)
        assert fake.request_count(CREATE) == 1  # not retried: retrying does not help
        (rejected,) = [e for e in sink.events if isinstance(e, OrderRejected)]
        assert "Bybit 10009: Service Restricted" in rejected.reason
        assert "the API key is not the problem" in rejected.reason
        assert "contact Bybit support" in rejected.reason
        assert fake.orders(uid) == []
    finally:
        await connection.stop()


async def test_a_read_refused_with_10009_is_not_retried(fake: FakeBybit, setup: Setup) -> None:
    connection, _, _ = setup
    rest = connection.account.rest
    before = fake.request_count(POSITIONS)
    fake.fail_next(1, path=POSITIONS, ret_code=10009)
    with pytest.raises(AccessRestricted, match="contact Bybit support"):
        await connection.reconcile()
    assert fake.request_count(POSITIONS) == before + 1
    assert rest.counters()["http_failures"] == 1


async def test_10018_pauses_every_endpoint_like_http_403(fake: FakeBybit, setup: Setup) -> None:
    connection, _, _ = setup
    rest = connection.account.rest
    before = fake.request_count(POSITIONS)
    fake.fail_next(1, path=POSITIONS, ret_code=10018)
    with pytest.raises(RateLimited, match="10018"):
        await connection.reconcile()
    assert fake.request_count(POSITIONS) == before + 1  # not asked again during the ban
    assert rest.limiter.delay(CREATE) > 500


async def test_an_unknown_key_answered_with_http_401_names_the_network(
    fake: FakeBybit, uid: str
) -> None:
    """The fake answers an unknown key with HTTP 401 and retCode 10003 (docs/v5/error)."""
    rest = BybitRest(BybitConfig(rest_url=fake.base_url), ApiCredentials("x" + KEY, "secret"))
    try:
        with pytest.raises(AuthFailed, match=r"Bybit 10003: .*invalid for this network"):
            await rest.positions()
    finally:
        await rest.close()
