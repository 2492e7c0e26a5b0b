"""``algotrade bots create-from RUN_ID --top N``: the best parameter sets of a sweep or an
optimization, as stopped paper bots of a running daemon.

Winners are ranked like the run ranks them (``research.walkforward.score_params``): the mean
of the metric over the run's datasets, on the whole range, or on the out-of-sample windows
when the run has walk-forward folds; a set that failed anywhere is never a winner. With
``--symbol-from-result`` every (parameter set, dataset) pair is scored on its own and each
winner trades its dataset's symbol (``VENUE:SYMBOL:INTERVAL``: the venue's live candles
feed the bot, the paper venue fills it); otherwise the winning sets trade ``--symbol``.

A bot's name is derived from what it is (strategy, symbol, interval, feed, parameters), so
running the command again creates nothing twice: a bot whose name exists is skipped and
said so. Cash, commission and slippage come from the run's own backtest config.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Protocol

import typer

from algotrade.cli import bots_render as render
from algotrade.cli.daemon_client import (
    ApiKey,
    ClientOptions,
    DaemonUrl,
    Json,
    call,
    client_errors,
    client_options,
)
from algotrade.cli.data_options import DEFAULT_DATA_DIR, DataDirOption
from algotrade.core.errors import InputError
from algotrade.research.objectives import Objective, params_key, parse_objective

if TYPE_CHECKING:
    from algotrade.client import AlgoTradeClient  # httpx: imported when a command runs

MAX_BOT_ID = 64
DIGEST_CHARS = 8
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_OOS_TAG = re.compile(r"^oos:\d+$")


class ResultLike(Protocol):
    """What a stored result row offers (``research.evaluate.ResultRow``)."""

    @property
    def params(self) -> dict[str, Any]: ...
    @property
    def dataset(self) -> str: ...
    @property
    def tag(self) -> str: ...
    @property
    def metrics(self) -> dict[str, float | None]: ...
    @property
    def error(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Winner:
    params: dict[str, Any]
    value: float
    dataset: str | None  # the dataset it was scored on alone (--symbol-from-result)


@dataclass(frozen=True, slots=True)
class BotPlan:
    bot_id: str
    config: dict[str, Any]
    winner: Winner


@dataclass(frozen=True, slots=True)
class Target:
    """Where the bots trade when the result does not say: ``--symbol``/``--interval``/
    ``--feed`` given by the user (None: from the dataset); ``--account``: the risk engine's
    account the bots are on (None: the daemon's default)."""

    symbol: str | None = None
    interval: str | None = None
    feed: str | None = None
    account: str | None = None


def scored_rows(rows: Sequence[ResultLike]) -> list[ResultLike]:
    """The rows a run is ranked on: the whole range, else the out-of-sample windows (never
    in-sample windows, nor the partial windows pruning evaluates)."""
    whole = [row for row in rows if row.tag == ""]
    return whole or [row for row in rows if _OOS_TAG.match(row.tag)]


def pick_winners(
    rows: Sequence[ResultLike], objective: Objective, n: int, *, per_dataset: bool
) -> list[Winner]:
    """The ``n`` best parameter sets (``per_dataset``: (set, dataset) pairs) by mean metric."""
    from algotrade.research.walkforward import score_params  # noqa: PLC0415 - numpy

    wanted = scored_rows(rows)
    groups: dict[str | None, list[ResultLike]] = {}
    for row in wanted:
        groups.setdefault(row.dataset if per_dataset else None, []).append(row)
    winners = []
    for dataset, group in groups.items():
        for score in score_params(group, objective):
            if score.value is not None:
                winners.append(Winner(dict(score.params), score.value, dataset))
    winners.sort(
        key=lambda w: (
            *objective.sort_key(w.value),
            w.dataset or "",
            params_key(w.params),
        )
    )
    return winners[:n]


def parse_dataset(key: str) -> tuple[str | None, str, str | None]:
    """``VENUE:SYMBOL:INTERVAL`` → its parts (symbols may hold ``:``); ``file:SYMBOL`` → no
    venue, no interval."""
    if key.startswith("file:"):
        return None, key.removeprefix("file:"), None
    venue, _, rest = key.partition(":")
    symbol, _, interval = rest.rpartition(":")
    if not venue or not symbol or not interval:
        raise InputError(f"result dataset {key!r}: expected VENUE:SYMBOL:INTERVAL")
    return venue, symbol, interval


def _has_live_feed(name: str) -> bool:
    """Whether bots can take ``name``'s candles (a registered venue offering a feed)."""
    from algotrade.venues.registry import get_venue  # noqa: PLC0415 (the CLI starts light)

    try:
        return get_venue(name).provides_feed
    except (LookupError, ImportError):
        return False


def _live_feeds() -> list[str]:
    from algotrade.venues.registry import venue_names  # noqa: PLC0415 (the CLI starts light)

    return [name for name in venue_names() if _has_live_feed(name)]


def _origin(winner: Winner, datasets: Sequence[str]) -> str:
    shown = [winner.dataset] if winner.dataset is not None else list(datasets)
    more = f" and {len(shown) - 3} more" if len(shown) > 3 else ""
    return f"the run's datasets ({', '.join(shown[:3])}{more})"


def shared_origin(datasets: Sequence[str]) -> tuple[str | None, str | None, str | None]:
    """Venue, symbol and interval common to every dataset (None where they differ)."""
    parts = [parse_dataset(key) for key in dict.fromkeys(datasets)]
    if not parts:
        return None, None, None
    shared = [values[0] if len(set(values)) == 1 else None for values in zip(*parts, strict=True)]
    return shared[0], shared[1], shared[2]


def bot_name(prefix: str, strategy: str, config: Mapping[str, Any]) -> str:
    """``<prefix><symbol>-<digest>``, at most 64 characters: the digest covers everything
    that makes the bot what it is, so equal bots get equal names."""
    what = json.dumps(
        {
            "strategy": strategy,
            "symbol": config["symbol"],
            "interval": config["interval"],
            "feed": config["feed"],
            "params": config["params"],
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    digest = hashlib.sha256(what.encode()).hexdigest()[:DIGEST_CHARS]
    symbol = _UNSAFE.sub("-", str(config["symbol"])).strip("-.") or "symbol"
    room = MAX_BOT_ID - len(prefix) - len(digest) - 1
    if room < 1:
        raise InputError(f"--name-prefix: {prefix!r} is too long for a bot name (at most 64)")
    return f"{prefix}{symbol[:room]}-{digest}"


def plan_bots(
    winners: Sequence[Winner],
    *,
    strategy: str,
    run_config: Mapping[str, Any],
    target: Target,
    datasets: Sequence[str] = (),
    prefix: str | None = None,
) -> list[BotPlan]:
    """The paper bot config of each winner (module doc); a winner scored over all of the
    run's ``datasets`` takes their venue and interval when they share one."""
    stem = Path(strategy).stem if strategy.endswith(".py") else strategy
    chosen_prefix = f"{_UNSAFE.sub('-', stem)}-" if prefix is None else prefix
    plans: list[BotPlan] = []
    for winner in winners:
        venue, symbol, interval = shared_origin(
            datasets if winner.dataset is None else [winner.dataset]
        )
        symbol = target.symbol or symbol
        interval = target.interval or interval
        feed = target.feed or venue
        if symbol is None:
            raise InputError(
                "--symbol: the run covers several symbols; give --symbol SYMBOL or "
                "--symbol-from-result"
            )
        if interval is None:
            raise InputError(
                f"--interval: {_origin(winner, datasets)} give no one interval; give it"
            )
        if feed is None:
            raise InputError(f"--feed: {_origin(winner, datasets)} name no one venue; give it")
        if target.feed is None and not _has_live_feed(feed):
            raise InputError(
                f"--feed: {_origin(winner, datasets)} came from '{feed}', which has no live "
                f"feed; give --feed sim (SIMULATED prices) or a venue's feed "
                f"({', '.join(_live_feeds())})"
            )
        config = {
            "symbol": symbol,
            "strategy": strategy,
            "params": winner.params,
            "interval": interval,
            "feed": feed,
            "venue": "paper",
            "mode": "paper",
            "initial_capital": str(run_config["cash"]),
            "commission": str(run_config["commission"]),
            "slippage_bps": str(run_config["slippage_bps"]),
            # The run's backtests capped no single order; a bot's default (1 % of equity ×
            # leverage an order) would refuse the very sizes that won.
            "risk_per_trade_pct": "100",
        }
        if target.account is not None:
            config["account_id"] = target.account
        bot_id = bot_name(chosen_prefix, strategy, config)
        if any(plan.bot_id == bot_id for plan in plans):
            continue  # the same bot twice (equal sets on one symbol): once is enough
        plans.append(BotPlan(bot_id, {"bot_id": bot_id, **config}, winner))
    return plans


def load_plans(
    data_dir: Path,
    run_id: str,
    *,
    top: int,
    metric: str | None,
    per_dataset: bool,
    target: Target,
    prefix: str | None,
) -> tuple[list[BotPlan], Objective]:
    """Read the run (``RunStore``) and plan its winners' bots; every problem a one-line
    ``InputError`` before the daemon is asked anything."""
    from algotrade.research.run_store import RunStore, check_run_id, metric_columns  # noqa: PLC0415

    store = RunStore(data_dir)
    spec = store.load_run(check_run_id(run_id))["spec"]
    objective = parse_objective(metric or str(spec.get("metric") or "sharpe"))
    stored = metric_columns(store.results(run_id))
    if objective.metric not in stored:
        known = ", ".join(sorted(stored)) or "none: the run has no results yet"
        raise InputError(
            f"--metric: run {run_id} has no metric {objective.metric!r}; metrics: {known}"
        )
    rows = store.rows(run_id)
    winners = pick_winners(rows, objective, top, per_dataset=per_dataset)
    if not winners:
        raise InputError(f"run {run_id}: no parameter set has a value of {objective.metric}")
    datasets = sorted({row.dataset for row in scored_rows(rows)})
    plans = plan_bots(
        winners, strategy=str(spec["strategy"]), run_config=spec["config"], target=target,
        datasets=datasets, prefix=prefix,
    )  # fmt: skip
    return plans, objective


def create_bots(
    client: AlgoTradeClient, plans: Sequence[BotPlan]
) -> list[tuple[str, BotPlan, dict[str, Any] | None]]:
    """``(created|exists, plan, status)`` per plan; a bot whose name is taken is left as it
    is (also when another client created it a moment ago: the daemon answers 409)."""
    from algotrade.client import ApiError  # noqa: PLC0415 (httpx: when a command runs)

    existing = {bot["bot_id"] for bot in client.list_bots()}
    outcomes: list[tuple[str, BotPlan, dict[str, Any] | None]] = []
    for plan in plans:
        if plan.bot_id in existing:
            outcomes.append(("exists", plan, None))
            continue
        try:
            status = client.create_bot(plan.config)
        except ApiError as exc:
            if exc.status != 409:
                raise
            outcomes.append(("exists", plan, None))
            continue
        outcomes.append(("created", plan, status))
    return outcomes


def create_from(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="RUN_ID", help="a sweep or optimize run id")],
    top: Annotated[int, typer.Option(min=1, max=100, help="how many winners")] = 1,
    metric: Annotated[
        str | None,
        typer.Option(help="rank by METRIC or METRIC:max|min (default: the run's own metric)"),
    ] = None,
    symbol_from_result: Annotated[
        bool,
        typer.Option(
            "--symbol-from-result",
            help="score each (set, symbol) alone; each bot trades its result's symbol",
        ),
    ] = False,
    symbol: Annotated[
        str | None, typer.Option(help="symbol the winners trade (without --symbol-from-result)")
    ] = None,
    interval: Annotated[
        str | None, typer.Option(help="bar interval (default: the result's)")
    ] = None,
    feed: Annotated[
        str | None,
        typer.Option(help="the bots' price feed (default: the result's venue, its live candles)"),
    ] = None,
    name_prefix: Annotated[
        str | None,
        typer.Option("--name-prefix", help="bot names start with this (default: '<strategy>-')"),
    ] = None,
    account: Annotated[
        str | None,
        typer.Option(help="the risk engine's account of the bots (default: the daemon's 'paper')"),
    ] = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    daemon_url: DaemonUrl = None,
    api_key: ApiKey = None,
    json_flag: Json = False,
) -> None:
    """Create stopped paper bots from the best results of a sweep or optimize run."""
    options = client_options(ctx, daemon_url, api_key, json_flag)
    with client_errors():
        if symbol_from_result and symbol is not None:
            raise InputError("--symbol: not with --symbol-from-result (each result has its own)")
        plans, objective = load_plans(
            data_dir, run_id, top=top, metric=metric, per_dataset=symbol_from_result,
            target=Target(symbol, interval, feed, account), prefix=name_prefix,
        )  # fmt: skip
    outcomes = call(options, lambda client: create_bots(client, plans))
    _report(options, outcomes, objective)


def _report(
    options: ClientOptions,
    outcomes: Sequence[tuple[str, BotPlan, dict[str, Any] | None]],
    objective: Objective,
) -> None:
    if options.json:
        render.print_json(
            [
                {
                    "bot_id": plan.bot_id,
                    "action": action,
                    objective.metric: plan.winner.value,
                    "config": plan.config,
                }
                for action, plan, _ in outcomes
            ]
        )
        return
    for action, plan, _ in outcomes:
        config = plan.config
        what = (
            f"{config['strategy']} on {config['symbol']} {config['interval']} "
            f"(feed {config['feed']}), {objective.metric} {plan.winner.value:.4g}, "
            f"params {params_key(config['params'])}"
        )
        if action == "created":
            render.write_line(f"created bot '{plan.bot_id}' (stopped, paper): {what}")
        else:
            render.write_line(f"skipped bot '{plan.bot_id}': a bot of that name exists")
