"""The PostgreSQL test helper skips when no server can be had, but fails under CI."""

from __future__ import annotations

import pytest

from testkit.postgres import conninfo, in_ci, unavailable, with_database


@pytest.mark.parametrize("value", ["true", "1", "yes"])
def test_under_ci_a_missing_server_fails(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    assert in_ci()
    with pytest.raises(pytest.fail.Exception, match="required under CI"):
        unavailable("no server")


@pytest.mark.parametrize("value", [None, "", "false", "0"])
def test_elsewhere_a_missing_server_skips(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    assert not in_ci()
    with pytest.raises(pytest.skip.Exception, match="not available"):
        unavailable("no server")


def test_urls() -> None:
    url = "postgresql+psycopg://postgres:pw@127.0.0.1:5432/postgres"
    assert conninfo(url) == "postgresql://postgres:pw@127.0.0.1:5432/postgres"
    assert with_database(url, "algotrade_test_ab") == (
        "postgresql+psycopg://postgres:pw@127.0.0.1:5432/algotrade_test_ab"
    )
