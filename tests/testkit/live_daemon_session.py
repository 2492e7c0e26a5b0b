"""What the daemon-level acceptance tests on a fake venue share: a ``daemon.toml`` with one
venue table (short timeouts, quick reconnects), daemons started with the API keys and the
venue's credentials in their environment (a restart keeps the port), and a live bot's spec."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from testkit.api_harness import ADMIN_KEY, TRADER_KEY
from testkit.daemon_process import DaemonProcess

__all__ = ["MINUTE_MS", "LiveDaemonSession", "live_bot_spec"]

D = TypeVar("D", bound=DaemonProcess)

MINUTE_MS = 60_000
_QUICK = (
    "request_timeout_s = 1.0\n"
    "reconcile_interval_s = 1.0\n"
    "reconnect_min_s = 0.2\n"
    "reconnect_max_s = 0.5\n"
)


class LiveDaemonSession:
    """``[table]`` (testnet, ``settings`` lines and the quick timings) in ``daemon.toml``;
    ``daemon()`` is a daemon on it with ``env`` (the venue's credentials) added."""

    def __init__(self, tmp_path: Path, table: str, settings: str, env: dict[str, str]) -> None:
        self.tmp_path = tmp_path
        self.env = env
        self.config = tmp_path / "daemon.toml"
        self.config.write_text(f'[{table}]\nnetwork = "testnet"\n' + settings + _QUICK)
        self.port: int | None = None

    def daemon(self, kind: type[D] = DaemonProcess) -> D:  # type: ignore[assignment]
        """A daemon process of ``kind`` (e.g. ``ControlledDaemonProcess`` for crash soaks)."""
        process = kind(
            self.tmp_path / "data",
            self.port,
            "--config",
            str(self.config),
            env={"ALGOTRADE_API_KEYS": f"admin:{ADMIN_KEY},trader:{TRADER_KEY}", **self.env},
            api_key=ADMIN_KEY,
        )
        self.port = process.port
        return process


def live_bot_spec(
    bot_id: str, symbol: str, venue: str, strategy: Path, steps: list[str], /, **extra: Any
) -> dict[str, Any]:
    """A live one-minute bot running ``strategy`` with ``steps``, fed and trading on ``venue``
    (``extra`` may override any field, ``venue`` and ``mode`` included)."""
    return {
        "bot_id": bot_id,
        "symbol": symbol,
        "strategy": str(strategy),
        "params": {"steps": steps},
        "interval": "1m",
        "feed": venue,
        "venue": venue,
        "mode": "live",
        "risk_per_trade_pct": "100",
        **extra,
    }
