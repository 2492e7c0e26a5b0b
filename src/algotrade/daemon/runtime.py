"""Running the daemon: lock, store, bots, API server, file channel, signals, shutdown.

SIGTERM/SIGINT (or a SHUTDOWN file command): stop taking commands, stop the file channel and
the API server, detach every bot from its feed, flush what bots did to the store, close, and
exit 0. During start-up they cut the restore and the resumes short wherever they are (a resume
waiting on an unreachable venue included); the bots not resumed yet stay as stored.

Under systemd (``NOTIFY_SOCKET``) it speaks the notify protocol (daemon/systemd_notify.py):
READY once the API listens, STATUS, WATCHDOG from the loop, STOPPING. SIGHUP (``kill -HUP``,
``systemctl reload``) reloads the configuration, as do ``POST /api/reload`` and, with
``[reload] watch = true``, a change of the config file (daemon/reload.py, docs/reload.md);
RELOADING/READY frame each reload. A second daemon on the same data directory exits non-zero
naming the holder's PID.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import uvicorn

from algotrade import __version__
from algotrade.api.app import create_app
from algotrade.api.auth import ApiKeys
from algotrade.api.deps import ApiContext
from algotrade.api.server import ConnectionLimits, server_config
from algotrade.core.errors import AlgoTradeError
from algotrade.daemon.bus import EventBus
from algotrade.daemon.file_channel import FileChannel
from algotrade.daemon.heap import before_exit, settle_after_start
from algotrade.daemon.lock import DataDirLock
from algotrade.daemon.logging_setup import LoggingHandles, configure_logging
from algotrade.daemon.preflight import check_bind, load_risk, preflight
from algotrade.daemon.recorder import BarRecorder
from algotrade.daemon.recorder_watch import WatchFeeds
from algotrade.daemon.reload import ApiReload, Reloader
from algotrade.daemon.reload_apply import ApplyTarget
from algotrade.daemon.reload_audit import Trigger
from algotrade.daemon.reload_plan import Keys, Running
from algotrade.daemon.reload_settings import settings_data
from algotrade.daemon.reload_watch import FileWatch
from algotrade.daemon.secret_env import file_variables, with_secret_files
from algotrade.daemon.service import BotService
from algotrade.daemon.settings import DaemonSettings, SettingsOrigin
from algotrade.daemon.stop_budget import StopBudget
from algotrade.daemon.systemd_notify import SystemdNotifier, bot_count_status
from algotrade.store.store import Store

_log = logging.getLogger("algotrade.daemon")

SIGHUP_MESSAGE = "SIGHUP received: reloading the configuration"
# API connections the daemon keeps at most (api.server.ConnectionLimits): plenty for the CLI,
# TUI, dashboards and scripts, and never more than half the open-file limit, so a connection
# flood leaves descriptors for the store, the logs and the venues.
MAX_API_CONNECTIONS = 1024
MIN_API_CONNECTIONS = 16
# How often the systemd STATUS line is refreshed (sent only when the bot counts changed).
STATUS_EVERY_S = 5.0


class PortInUse(AlgoTradeError):
    """The API port is taken."""


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the daemon owns SIGTERM/SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PortInUse(
                f"cannot listen on {host}:{port}: {exc.strerror or exc} (api.port / --port)"
            ) from None


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed (it comes with uvicorn[standard]): a faster event loop."""
    try:
        import uvloop  # noqa: PLC0415
    except ImportError:
        return None
    return uvloop.new_event_loop


def raise_open_file_limit() -> int | None:
    """Raise the soft open-file limit to the hard one (shells often start at 1024); the soft
    limit in force after, or None where the platform has none (Windows)."""
    try:
        import resource  # noqa: PLC0415 (POSIX only)
    except ImportError:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return None
    # Linux refuses an unlimited soft limit for files: with no hard limit ask for a large one.
    target = 1 << 20 if hard == resource.RLIM_INFINITY else hard
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            _log.warning("cannot raise the open-file limit from %d to %d: %s", soft, target, exc)
    return soft


def connection_limits(open_file_limit: int | None) -> ConnectionLimits:
    cap = MAX_API_CONNECTIONS
    if open_file_limit is not None:
        cap = max(MIN_API_CONNECTIONS, min(cap, open_file_limit // 2))
    return ConnectionLimits(max_connections=cap)


def run_daemon(settings: DaemonSettings) -> int:
    """Blocking entry point for ``algotrade daemon``; returns the exit code."""
    # A bad key, risk file or bot stops the start here, before any lock (doctor runs the same).
    keys = preflight(settings, with_secret_files(os.environ)).keys
    data_dir = Path(settings.daemon.data_dir)
    lock = DataDirLock(data_dir)
    lock.acquire()
    try:
        check_port_free(settings.api.host, settings.api.port)
        handles = configure_logging(settings, secrets=keys.secrets())
        limits = connection_limits(raise_open_file_limit())
        try:
            with asyncio.Runner(loop_factory=_loop_factory()) as runner:
                return runner.run(_serve(settings, keys, limits, handles))
        finally:
            handles.close()
    finally:
        lock.release()
        before_exit()


def _listen_for_reloads(
    reloader: Reloader,
    settings: DaemonSettings,
    service: BotService,
    ticks: list[asyncio.Task[None]],
) -> None:
    """SIGHUP reloads from now on; with ``[reload] watch`` so does a changed file."""

    def on_sighup() -> None:
        _log.warning(SIGHUP_MESSAGE)
        service.supervisor.spawn(reloader.reload(Trigger.signal("SIGHUP")), name="reload")

    if hasattr(signal, "SIGHUP"):
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, on_sighup)
    if settings.reload.watch:

        async def on_change(path: Path) -> None:
            await reloader.reload(Trigger.file(str(path)))

        watch = FileWatch(
            lambda: _watched_files(reloader),
            on_change,
            interval_s=settings.reload.watch_interval_s,
            debounce_s=settings.reload.debounce_s,
        )
        ticks.append(service.supervisor.spawn(watch.run(), name="reload-watch"))


async def _wait_listening(server: uvicorn.Server, server_task: asyncio.Task[None]) -> None:
    """Until the API server listens (uvicorn sets ``started`` once its sockets are bound and
    accepting) or has given up."""
    while not server.started and not server_task.done():
        await asyncio.sleep(0.01)


async def _report_status(notifier: SystemdNotifier, service: BotService) -> None:
    """Keep systemd's STATUS line (``systemctl status``) on the current bot counts."""
    last = ""
    while True:
        await asyncio.sleep(STATUS_EVERY_S)
        status = bot_count_status(service.health())
        if status != last:
            notifier.status(status)
            last = status


async def _serve(
    settings: DaemonSettings, keys: ApiKeys, limits: ConnectionLimits, handles: LoggingHandles
) -> int:
    notifier = SystemdNotifier.from_env()
    try:
        return await _serve_notified(settings, keys, limits, notifier, handles)
    finally:
        notifier.close()


def _watched_files(reloader: Reloader) -> list[Path]:
    """What a reload reads: the config file, the keys and risk files in force, and the
    ``ALGOTRADE…_FILE`` secrets."""
    running = reloader.running.settings
    paths = [reloader.origin.config_file, running["api"]["keys_file"]]
    paths += [running["risk"]["accounts_file"], running["risk"]["rules_file"]]
    paths += file_variables(os.environ).values()
    return list(dict.fromkeys(Path(path) for path in paths if path is not None))


def _make_reloader(
    settings: DaemonSettings,
    origin: SettingsOrigin,
    keys: ApiKeys,
    service: BotService,
    store: Store,
    notifier: SystemdNotifier,
    app_ctx: ApiContext,
    handles: LoggingHandles,
) -> Reloader:
    def swap_keys(new: Keys) -> None:
        assert isinstance(new, ApiKeys)
        handles.add_secrets(new.secrets())  # masked before anyone can send them
        app_ctx.replace_keys(new)

    def check_keys(new: Keys) -> None:
        assert isinstance(new, ApiKeys)
        check_bind(settings.api.host, new)  # the host in force: a change needs a restart

    return Reloader(
        origin=origin,
        running=Running(
            settings_data(settings), keys, service.risk.config if service.risk else None
        ),
        target=ApplyTarget(service, swap_keys, handles.set_level),
        store=store,
        notifier=notifier,
        load_keys=ApiKeys.from_sources,
        check_keys=check_keys,
    )


async def _start_unless_stopped(
    service: BotService, seed_bots: list[dict[str, Any]], stop: asyncio.Event
) -> bool:
    """Restore the stored bots, create the configured ones and resume those that opted in;
    False when a stop (SIGTERM, SIGINT) came first: the start-up is then cancelled wherever it
    was (a resume waiting on an unreachable venue included; ``service.shutdown`` ends those)."""
    if stop.is_set():
        return False
    gc.disable()  # restoring 10k bots makes ~250k long-lived objects: no full sweeps meanwhile
    starting = asyncio.ensure_future(service.start(seed_bots=seed_bots))
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()
            await asyncio.wait({starting})
            if starting.cancelled():
                return False
        starting.result()  # its error, if it failed
        return True
    finally:
        stopping.cancel()
        if not starting.done():  # this coroutine itself was cancelled
            starting.cancel()
        gc.enable()


async def _stop_service(
    service: BotService,
    recorder: BarRecorder | None,
    store: Store,
    budget: StopBudget,
    recorder_share: float,
) -> int:
    """Stop the bots, flush their books, close the recorder and the store; 1 when the bots and
    the flush did not finish within the budget (nothing acknowledged is lost), else 0."""
    exit_code = 0
    service_s = budget.left(floor=0.5)
    try:
        await service.shutdown(timeout=service_s)
    except TimeoutError:
        _log.error(
            "bots and the flush of their books did not finish within %.1f s; exiting anyway",
            service_s,
        )
        exit_code = 1
    finally:
        if recorder is not None:  # after every feed stopped: the last bars are flushed
            await recorder.close(timeout=budget.closing(recorder_share, floor=0.5))
    await asyncio.to_thread(store.close)
    return exit_code


async def _serve_notified(
    settings: DaemonSettings,
    keys: ApiKeys,
    limits: ConnectionLimits,
    notifier: SystemdNotifier,
    handles: LoggingHandles,
) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if hasattr(signal, "SIGHUP"):
        # Its default action kills the process (exit 129). Until the reloader exists (bots
        # restoring) a SIGHUP is only logged; from then on it reloads.
        loop.add_signal_handler(
            signal.SIGHUP, _log.warning, "SIGHUP received while starting: ignored (no reload yet)"
        )

    store = Store(settings.database_url)
    # Not cut short by a stop (one that came meanwhile is seen right after): a migration is
    # applied whole, and the store's thread could not be interrupted anyway.
    await asyncio.to_thread(store.open)
    recorder: BarRecorder | None = None
    if settings.recording.enabled:
        recorder = BarRecorder.from_settings(Path(settings.daemon.data_dir), settings.recording)
        recorder.start()
    service = BotService(
        store,
        max_bots=settings.daemon.max_bots,
        resume_all=settings.daemon.resume_all,
        risk_config=load_risk(settings),
        risk_tick_interval=settings.risk.tick_interval_s,
        bus=EventBus(settings.api.ws_queue_size),
        heartbeat_interval=settings.daemon.heartbeat_interval_s,
        venues=settings.venues,
        recorder=recorder,
        bot_workers=settings.daemon.bot_workers,
    )
    timeout = settings.daemon.shutdown_timeout_s
    # One budget for the whole stop: what the API and the file channel leave goes to the bots
    # and the flush of their books (a fixed share left a busy flush 2.5 s of 10).
    recorder_share = timeout / 4 if recorder is not None else 0.0
    if not await _start_unless_stopped(service, settings.bots, stop):
        _log.info(
            "stop requested while starting: shutting down; bots not resumed yet stay as stored "
            "(those that opted in resume at the next start)"
        )
        notifier.stopping("stopping while starting: flushing bots' books")
        budget = StopBudget(timeout, reserve=recorder_share)
        exit_code = await _stop_service(service, recorder, store, budget, recorder_share)
        _log.info("stopped")
        return exit_code
    settle_after_start()
    watch: WatchFeeds | None = None
    if recorder is not None and settings.recording.watch:
        specs = settings.recording.watch_specs()
        watch = WatchFeeds(specs, service.venues, recorder, service.supervisor.spawn)
        watch.start()
    app = create_app(
        service,
        keys,
        version=__version__,
        data_dir=Path(settings.daemon.data_dir),
        market_data_url=settings.market_data.url,
    )
    reloader: Reloader | None = None
    if settings.origin is not None:
        ctx: ApiContext = app.state.ctx
        reloader = _make_reloader(
            settings, settings.origin, keys, service, store, notifier, ctx, handles
        )
        ctx.reloader = ApiReload(reloader)
    # Reloads are taken from here on, before the API listens: a client that saw the API answer
    # and then sent SIGHUP gets a reload, never the start-up "ignored".
    ticks: list[asyncio.Task[None]] = []
    if reloader is not None:
        _listen_for_reloads(reloader, settings, service, ticks)
    # uvicorn runs with lifespan="off": the app's startup/shutdown hooks (e.g. the backtest
    # worker pool, killed at shutdown rather than waited for) are run here instead.
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    config, _ = server_config(
        app,
        host=settings.api.host,
        port=settings.api.port,
        access_log=settings.api.access_log,
        limits=limits,
    )
    server = _Server(config)
    server_task = loop.create_task(server.serve(), name="api-server")
    channel = FileChannel(Path(settings.daemon.data_dir) / "signals", service)
    await channel.start()
    await _wait_listening(server, server_task)
    where = f"http://{settings.api.host}:{settings.api.port}"
    _log.info(
        "algotrade %s daemon ready on %s (pid %d, data dir %s, %d bots)",
        __version__,
        where,
        os.getpid(),
        settings.daemon.data_dir,
        service.health()["bots"],
    )
    _log.info(
        "API connections: at most %d; %.0f s to send a request head, %.0f s for a body",
        limits.max_connections,
        limits.head_timeout_s,
        limits.body_timeout_s,
    )
    if not keys.enabled:
        _log.warning("no API keys configured: the API is open to local users (loopback only)")
    sys.stderr.flush()
    # systemd: ready only now, with the books restored and the API answering; then the
    # watchdog pings from this loop (a blocked loop stops them) and the STATUS line.
    if server.started:
        notifier.ready(bot_count_status(service.health()))
        watchdog = notifier.start_watchdog()
        if notifier.enabled:
            ticks.append(loop.create_task(_report_status(notifier, service), name="sd-status"))
        if watchdog is not None:
            ticks.append(watchdog)

    waiters = [
        loop.create_task(stop.wait()),
        loop.create_task(service.shutdown_requested.wait()),
        server_task,
    ]
    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    exit_code = 0
    if server_task.done() and not stop.is_set() and not service.shutdown_requested.is_set():
        _log.error("the API server stopped unexpectedly")
        exit_code = 1
    _log.info("shutting down")
    notifier.stopping("stopping: finishing bots and flushing books")
    budget = StopBudget(timeout, reserve=recorder_share)
    # A start waiting on its venue would hold its request, and the API server's stop with it.
    service.interrupt_starts()
    await channel.stop(timeout=timeout / 3)
    server.should_exit = True
    with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
        await asyncio.wait_for(server_task, timeout=timeout / 3)
    await lifespan.__aexit__(None, None, None)
    if watch is not None:
        watch.stop()
    stopped = await _stop_service(service, recorder, store, budget, recorder_share)
    exit_code = exit_code or stopped or (1 if service.failed else 0)
    for waiter in waiters:
        waiter.cancel()
    for tick in ticks:  # the watchdog pings until the books are flushed: a hang there is real
        tick.cancel()
    _log.info("stopped")
    return exit_code
