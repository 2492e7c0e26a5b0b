"""Doctor checks over the network: the API port, each venue's REST base URL, the clock.

Venues are found through the registry only (no venue is named here): every ``[venues.<name>]``
section and every registered venue a ``[[bots]]`` entry trades or feeds on. Its settings model
(``VenueFactory.parse_config``) gives the REST base URL as ``base_url`` (or ``api_url`` /
``rest_url``) and, when requests are signed with a receive window, ``recv_window_ms``.

The clock is compared with the HTTP ``Date`` header of the venue's answer (whole seconds): the
server's time is taken as the middle of that second, ours as the middle of the request, so an
exact clock reads within 0.5 s plus half the round trip.
"""

from __future__ import annotations

import errno
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from algotrade.daemon.doctor import Finding, fail, ok, warn

if TYPE_CHECKING:
    import httpx

    from algotrade.daemon.settings import DaemonSettings

#: Clock skew above which doctor warns (signed requests start failing near the venue's
#: receive window; candles and fills are stamped with our clock).
WARN_SKEW_S = 1.0
#: Skew that fails when the venue names no receive window.
FAIL_SKEW_S = 5.0
_URL_ATTRIBUTES = ("base_url", "api_url", "rest_url")
_NTP = "sync the clock (timedatectl set-ntp true; chronyc tracking)"


# -- the API port -----------------------------------------------------------------------------


def check_port(settings: DaemonSettings, timeout_s: float) -> Finding:
    host, port = settings.api.host, settings.api.port
    name, where = "port", f"{host}:{port}"
    try:
        _try_bind(host, port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return _port_holder(settings, where, timeout_s)
        if exc.errno == errno.EACCES:
            return fail(name, f"{where}: needs privileges", "use a port above 1023 (api.port)")
        return fail(name, f"{where}: cannot listen: {exc.strerror}", "fix api.host / api.port")
    return ok(name, f"{where} is free")


def _try_bind(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # As uvicorn does: a closed connection's TIME_WAIT does not hold the port.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))


def _port_holder(settings: DaemonSettings, where: str, timeout_s: float) -> Finding:
    import httpx  # noqa: PLC0415

    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(settings.api.host, settings.api.host)
    url = f"http://{f'[{host}]' if ':' in host else host}:{settings.api.port}/api/health"
    try:
        document = httpx.get(url, timeout=timeout_s).json()
    except (httpx.HTTPError, ValueError):
        document = None
    if not isinstance(document, dict) or document.get("status") != "ok" or "state" not in document:
        return fail(
            "port",
            f"{where} is in use by a program that is not an algotrade daemon",
            "stop that program or set api.port / --port",
        )
    pid, ours = document.get("pid"), _lock_pid(settings.daemon.data_dir)
    state = document.get("state")
    if ours is not None and pid == ours:
        return ok("port", f"{where} is held by this install's daemon (pid {pid}, {state})")
    return warn(
        "port",
        f"{where} is held by another algotrade daemon (pid {pid}, {state}), not the one of "
        f"{settings.daemon.data_dir}",
        "stop it, or give this install another api.port",
    )


def _lock_pid(data_dir: Path) -> int | None:
    try:
        return int((data_dir / "daemon.lock").read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


# -- venues -----------------------------------------------------------------------------------


def configured_venues(settings: DaemonSettings) -> dict[str, Any]:
    """Registered venue name → its parsed settings, for every venue this install uses."""
    from algotrade.venues.registry import get_venue, venue_names  # noqa: PLC0415

    known = set(venue_names())
    names = set(settings.venues)
    for bot in settings.bots:
        names.update(str(bot.get(key)) for key in ("venue", "feed") if bot.get(key) in known)
    return {name: get_venue(name).parse_config(settings.venues.get(name)) for name in sorted(names)}


def rest_base_url(config: Any) -> str | None:
    for attribute in _URL_ATTRIBUTES:
        value = getattr(config, attribute, None)
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return value.rstrip("/")
    return None


def receive_window_s(config: Any) -> float | None:
    value = getattr(config, "recv_window_ms", None)
    return value / 1000 if isinstance(value, int | float) and value > 0 else None


def check_venues(settings: DaemonSettings, timeout_s: float) -> list[Finding]:
    venues = configured_venues(settings)
    if not venues:
        return [ok("venues", "none configured (paper trading and simulated feeds only)")]
    # Side by side: an unreachable venue costs one timeout however many there are.
    with ThreadPoolExecutor(max_workers=min(8, len(venues))) as pool:
        names, configs = list(venues), list(venues.values())
        results = pool.map(_check_venue, names, configs, [timeout_s] * len(names))
        return [finding for findings in results for finding in findings]


def _check_venue(name: str, config: Any, timeout_s: float) -> list[Finding]:
    import httpx  # noqa: PLC0415

    check = f"venue {name}"
    url = rest_base_url(config)
    if url is None:
        return [warn(check, "its settings give no REST base URL", f"check [venues.{name}]")]
    sent = time.time()
    try:
        answer = httpx.get(url, timeout=timeout_s, follow_redirects=False)
    except httpx.TimeoutException:
        return [_unreachable(check, url, f"no answer within {timeout_s:g} s")]
    except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as exc:
        return [_unreachable(check, url, f"{type(exc).__name__}: {exc}")]
    received = time.time()
    rtt = received - sent
    reached = (
        warn(check, f"{url} answers HTTP {answer.status_code}", "check the venue's status page")
        if answer.status_code >= 500
        else ok(check, f"{url} reachable ({rtt * 1000:.0f} ms)")
    )
    return [reached, _clock(name, config, answer, (sent + received) / 2)]


def _unreachable(check: str, url: str, reason: str) -> Finding:
    return fail(
        check,
        f"{url} unreachable ({' '.join(reason.split())[:200]})",
        "check the network, DNS, a firewall or proxy, and the venue's URL settings",
    )


def _clock(name: str, config: Any, answer: httpx.Response, local_mid: float) -> Finding:
    check = f"clock {name}"
    date = answer.headers.get("date")
    try:
        server = parsedate_to_datetime(date).timestamp() + 0.5 if date else None
    except (TypeError, ValueError):
        server = None
    if server is None:
        return warn(check, "the venue's answer has no usable Date header; skew not measured", _NTP)
    skew = local_mid - server
    text = f"local clock {abs(skew):.1f} s {'ahead of' if skew > 0 else 'behind'} {name}"
    window = receive_window_s(config)
    limit = window if window is not None else FAIL_SKEW_S
    if abs(skew) > limit:
        what = f"its receive window ({limit:g} s)" if window is not None else f"{limit:g} s"
        return fail(check, f"{text}, beyond {what}", _NTP)
    if abs(skew) > WARN_SKEW_S:
        return warn(check, f"{text} (above {WARN_SKEW_S:g} s)", _NTP)
    return ok(check, text)
