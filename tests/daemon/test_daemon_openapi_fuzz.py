"""Schemathesis against a REAL daemon process, with the checks an outside checker runs: no
input causes a 5xx, every answer is documented (status, content type, headers, body schema), a
request that breaks the schema is refused and one that fits it is accepted, the API key is
enforced; and a caller who may not make a call hears 401/403 whatever it sent.

The daemon runs the whole stack: real service and SQLite store, the account risk engine
(examples/risk), and a live Hyperliquid venue pointed at the local fake, with admin and trader
keys. tests/api/test_openapi_fuzz.py fuzzes the API over a fake service; this one makes sure the
real layers underneath never turn odd input into a server error either.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from eth_account import Account
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    allow_header_conformance,
    ensure_resource_availability,
    object_level_authorization,
    positive_data_acceptance,
    unsupported_method,
    use_after_free,
)
from schemathesis.core.parameters import ParameterLocation

from testkit.api_harness import ADMIN_KEY, TRADER_KEY
from testkit.daemon_process import DaemonProcess
from testkit.fake_hyperliquid import FakeHyperliquid

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).parents[2] / "examples" / "risk"
SCRIPTED = Path(__file__).parents[1] / "testkit" / "strategies" / "scripted.py"
KNOWN = {"bot_id": ("fuzz-a", "fuzz-b", "fuzz-hl"), "account_id": ("acct-1", "acct-2")}
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
OPEN_PATHS = frozenset({"/api/health"})
# Integers past every bound a route could forget: signed/unsigned 64-bit overflow, huge, negative.
BOUNDARY_INTEGERS = (-1, -(2**63) - 1, 2**31, 2**63 - 1, 2**63, 2**64, 10**30, 10**4000)
# Examples per operation and generation mode (valid, then invalid data). Admin cases run the
# checks; refused callers only need a few bodies each to show the body is never looked at.
ADMIN_EXAMPLES = 20
REFUSED_EXAMPLES = 6
# Every schemathesis check runs on the admin cases except those this way of driving it cannot
# exercise: unsupported_method and allow_header_conformance look at the coverage phase's
# undocumented-method and OPTIONS requests (test_undocumented_methods_are_405_with_allow_...
# sends those), use_after_free and ensure_resource_availability at the stateful phase's
# sequences, object_level_authorization needs per-user objects (roles here, not owners).
# ignored_auth retries each accepted call without the key and with a made-up one: it passes
# because the throttle counts a repeated wrong key once (else 127.0.0.1 got locked out).
# negative_data_rejection rarely meets a lax field this way (a mutated body is mostly refused
# for another reason first): tests/api/test_request_field_types.py checks every request field.
NOT_APPLICABLE = [
    unsupported_method,
    allow_header_conformance,
    use_after_free,
    ensure_resource_availability,
    object_level_authorization,
]
# positive_data_acceptance (a request that fits the schema gets a 2xx) cannot hold where
# validity depends on what no schema can say: which accounts accounts.yaml has, which strategy
# files exist and which parameters each takes, the feeds and venues registered, that bot_id
# equals the current one, the datasets on disk, the rules between fields (dataset xor
# synthetic, fast < slow, a live venue needs mode live), each rule's parameters. These answer
# 422 naming the field. The closed sets that can be published (rule names, backtest
# strategies, bounds, patterns) are.
SEMANTIC_VALIDATION = frozenset(
    {
        ("POST", "/api/bots"),
        ("PATCH", "/api/bots/{bot_id}/config"),
        ("POST", "/api/backtests"),
        ("PUT", "/api/risk/rules"),
    }
)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    with FakeHyperliquid() as venue:
        user, agent = Account.create(), Account.create()
        venue.add_account(user.address, [agent.address], balance=100_000)
        for name in ("accounts.yaml", "risk.yaml"):
            (tmp / name).write_text((EXAMPLES / name).read_text())
        config = tmp / "daemon.toml"
        config.write_text(
            "[risk]\n"
            f'accounts_file = "{tmp / "accounts.yaml"}"\n'
            f'rules_file = "{tmp / "risk.yaml"}"\n'
            "[hyperliquid]\n"
            'network = "testnet"\n'
            f'api_url = "{venue.base_url}"\n'
            f'ws_url = "{venue.ws_url}"\n'
            "request_timeout_s = 1.0\n"
            "reconcile_interval_s = 1.0\n"
        )
        process = DaemonProcess(
            tmp / "data",
            None,
            "--config",
            str(config),
            env={
                "ALGOTRADE_API_KEYS": f"admin:{ADMIN_KEY},trader:{TRADER_KEY}",
                "ALGOTRADE_HYPERLIQUID_ACCOUNT_ADDRESS": user.address,
                "ALGOTRADE_HYPERLIQUID_PRIVATE_KEY": agent.key.hex(),
            },
            api_key=ADMIN_KEY,
        ).start()
        try:
            for i, bot_id in enumerate(KNOWN["bot_id"][:2]):
                process.ok(
                    "POST",
                    "/api/bots",
                    json={
                        "bot_id": bot_id,
                        "symbol": "SIM-F",
                        "strategy": "ma_crossover",
                        "params": {"fast": 2, "slow": 4},
                        "feed_options": {"seed": i, "tick_seconds": 0.05},
                        "account_id": KNOWN["account_id"][i],
                    },
                )
            process.ok(
                "POST",
                "/api/bots",
                json={
                    "bot_id": KNOWN["bot_id"][2],
                    "symbol": "BTC",
                    "strategy": str(SCRIPTED),
                    "params": {"steps": []},
                    "interval": "1m",
                    "feed": "hyperliquid",
                    "venue": "hyperliquid",
                    "mode": "live",
                    "account_id": KNOWN["account_id"][0],
                },
            )
            for bot_id in (KNOWN["bot_id"][0], KNOWN["bot_id"][2]):
                process.ok("PUT", f"/api/bots/{bot_id}/start")
            yield process
        except BaseException:
            process.kill()
            raise
        code, _, stderr = process.terminate()
    assert code == 0, stderr
    assert "Traceback" not in stderr, stderr


def _with_key(case: Any, key: str | None) -> None:
    # Negative cases may carry a generated X-API-Key; the caller under test sends its own.
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "x-api-key"}
    if key is not None:
        headers["X-API-Key"] = key
    case.headers = headers


def _steer(case: Any, known: int | None) -> None:
    # Random ids almost never exist; steer some cases to real bots and accounts (not a case
    # whose path is the invalid part: it would become valid and must not be accepted).
    if known is None or not case.path_parameters:
        return
    if case.meta is not None and case.meta.is_negative_at(ParameterLocation.PATH):
        return
    for name, values in KNOWN.items():
        if name in case.path_parameters:
            case.path_parameters[name] = values[known % len(values)]


def _run(strategy: Any, examples: int, test: Any) -> None:
    @given(case=strategy, known=st.sampled_from((None, 0, 1, 2)))
    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=True,  # the same cases every run: no flaky CI; a failure prints the call
    )
    def fuzz(case: Any, known: int | None) -> None:
        _steer(case, known)
        test(case)

    # An operation with nothing to make invalid has no negative cases.
    with contextlib.suppress(Unsatisfiable):
        fuzz()


def test_real_daemon_passes_the_checks_and_refuses_before_reading(
    daemon: DaemonProcess,
) -> None:
    # schemathesis.pytest.from_fixture does not work with pytest 9, so each operation's case
    # strategy is driven by hypothesis here directly.
    schema = schemathesis.openapi.from_url(
        f"{daemon.url}/openapi.json", headers={"X-API-Key": ADMIN_KEY}
    )
    # Sign-in and sign-out have their own rules (the key is in the body, anyone may sign out)
    # and random keys would lock 127.0.0.1 out: tests/daemon/test_session_daemon.py covers them.
    operations = [
        op
        for op in (result.ok() for result in schema.get_all_operations())
        if not (op.path == "/api/session" and op.method.upper() != "GET")
    ]
    assert len(operations) >= 20
    assert any(op.path.startswith("/api/risk/") for op in operations)
    assert any(op.path.startswith("/api/venues/") for op in operations)

    def as_admin(case: Any) -> None:
        _with_key(case, None)
        excluded = list(NOT_APPLICABLE)
        if (case.operation.method.upper(), case.operation.path) in SEMANTIC_VALIDATION:
            excluded.append(positive_data_acceptance)
        # The key as the caller's own header: ignored_auth then retries the call without it
        # and with a wrong one, which must be refused.
        admin = {"X-API-Key": ADMIN_KEY}
        case.call_and_validate(headers=admin, excluded_checks=excluded, timeout=30)

    def refused(key: str | None, status: int) -> Any:
        def check(case: Any) -> None:
            _with_key(case, key)
            response = case.call(timeout=30)
            assert response.status_code == status, (case.as_curl_command(), response.text)

        return check

    for operation in operations:
        method = operation.method.upper()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)
            _run(strategy, ADMIN_EXAMPLES, as_admin)
            if method in MUTATING:
                _run(strategy, REFUSED_EXAMPLES, refused(TRADER_KEY, 403))
            if operation.path not in OPEN_PATHS:
                _run(strategy, REFUSED_EXAMPLES, refused(None, 401))


def test_undocumented_methods_are_405_with_allow_naming_the_documented_ones(
    daemon: DaemonProcess,
) -> None:
    # What schemathesis' unsupported_method and allow_header_conformance check in its coverage
    # phase: a method the document does not list for a path is 405, OPTIONS included, and Allow
    # names exactly the documented methods (it named the first matching route's only).
    client = httpx.Client(base_url=daemon.url, headers={"X-API-Key": ADMIN_KEY}, timeout=30)
    with client:
        spec = client.get("/openapi.json").json()
        checked = 0
        for template, item in spec["paths"].items():
            url = _concrete(template)
            documented = sorted(method.upper() for method in item)
            for method in ("OPTIONS", *sorted((MUTATING | {"GET"}) - set(documented))):
                response = client.request(method, url)
                assert response.status_code == 405, (method, url, response.text)
                assert sorted(response.headers["allow"].split(", ")) == documented, (method, url)
                checked += 1
    assert checked >= 3 * len(spec["paths"])


def _concrete(template: str) -> str:
    path = template.replace("{venue}", "hyperliquid")
    path = path.replace("{job_id}", "bt-00000000000000000-000000")
    for name, values in KNOWN.items():
        path = path.replace(f"{{{name}}}", values[0])
    return path


def test_numeric_parameters_at_and_past_their_bounds_are_4xx(daemon: DaemonProcess) -> None:
    # Random generation rarely hits an exact edge; every integer parameter of every route gets
    # the values that broke paging before (an offset of 2**63 was a 500 from SQLite).
    client = httpx.Client(base_url=daemon.url, headers={"X-API-Key": ADMIN_KEY}, timeout=30)
    with client:
        spec = client.get("/openapi.json").json()
        checked = 0
        for template, operations in spec["paths"].items():
            path = _concrete(template)
            for method, operation in operations.items():
                for parameter in operation.get("parameters", []):
                    if parameter["in"] != "query" or _type_of(parameter["schema"]) != "integer":
                        continue
                    for value in BOUNDARY_INTEGERS:
                        query = {parameter["name"]: str(value)}
                        response = client.request(method, path, params=query)
                        where = f"{method.upper()} {path}?{parameter['name']}={str(value)[:30]}"
                        assert response.status_code < 500, (where, response.text)
                        checked += 1
    assert checked >= 8 * len(BOUNDARY_INTEGERS)  # offset and limit of every paged route


def _type_of(schema: dict[str, Any]) -> str | None:
    if "type" in schema:
        return str(schema["type"])
    for option in schema.get("anyOf", []):
        if option.get("type") not in (None, "null"):
            return str(option["type"])
    return None
