"""``/api/backtests`` and ``/api/datasets``: backtests run in a worker process for the dashboard.

Anyone with a key reads jobs, reports and the dataset list; only admins start or delete a job
(POST/DELETE are refused to traders by the access middleware, like every write). A request
names a dataset by its file name in ``<data_dir>/datasets/`` or as a stored series,
``catalog:VENUE:SYMBOL:INTERVAL`` (the bar catalog) or ``warm:VENUE:SYMBOL:INTERVAL`` (the
PostgreSQL warm tier at ``market_data.url``); a path, ``..`` or anything else is refused with
422 naming ``dataset``. The report is the backtester's own
self-contained HTML (plotly inline, nothing from a CDN), served with a policy that lets it run
its own inline scripts in a sandbox and nothing else.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from starlette.responses import FileResponse

from algotrade.api.auth import require_access
from algotrade.api.errors import ApiHttpError
from algotrade.api.schemas import QUERY_INTEGER, READ_RESPONSES, WRITE_RESPONSES
from algotrade.backtest.job_spec import JobSpec, SyntheticSpec
from algotrade.core.errors import AlgoTradeError, InputError
from algotrade.core.field_types import DecimalValue, IsoDateTime, Number, StrictInt
from algotrade.core.timeutil import datetime_to_ns
from algotrade.daemon.backtest_datasets import (
    catalog_datasets,
    list_datasets,
    parse_series_dataset,
    series_dataset_problem,
    series_runner,
    warm_datasets,
)
from algotrade.daemon.backtest_jobs import JOB_ID_PATTERN, BacktestJobs
from algotrade.daemon.bus import EventBus, Topic
from algotrade.daemon.service_api import ServiceError
from algotrade.data.bar_files import ACCEPTED_EXTENSIONS
from algotrade.data.intervals import INTERVAL_PATTERN, interval_ns
from algotrade.strategies.registry import builtin_strategy_names, get_strategy_class

_log = logging.getLogger("algotrade.api.backtests")
router = APIRouter(prefix="/api", tags=["backtests"], dependencies=[Depends(require_access)])

# One path component: letters, digits, "._-", no leading dot (so never "." or ".."), a known
# extension. Checked before the name is ever joined to a folder.
DATASET_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
SYMBOL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,31}$"
MAX_SYNTHETIC_BARS = 5_000_000
# Synthetic bars are stamped in int64 nanoseconds (good to 2262): keep well inside.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
DEFAULT_LIST_LIMIT = 50
MAX_LIST_LIMIT = 200
JobId = Annotated[str, PathParam(pattern=JOB_ID_PATTERN, description="a backtest job's id")]

# The report runs plotly's inline bundle and nothing else: no network, no forms, and (sandbox
# without allow-same-origin) no access to the dashboard's cookies or API even if it tried.
REPORT_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:; connect-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'self'; sandbox allow-scripts allow-downloads"
)
REPORT_HEADERS = {
    "Content-Security-Policy": REPORT_CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


class BacktestsDisabled(ServiceError, InputError):
    """Like the risk routes without a risk engine: this daemon (an app built without a data
    directory) has no backtests."""

    code = "backtests_disabled"
    http_status = 404


class SyntheticData(BaseModel):
    """SIMULATED prices: a seeded random walk (``data.synthetic.generate_bars``)."""

    model_config = ConfigDict(extra="forbid")
    bars: StrictInt = Field(default=2_000, ge=10, le=MAX_SYNTHETIC_BARS, description="bar count")
    seed: StrictInt = Field(default=0, ge=0, le=2**32 - 1, description="same seed, same bars")
    start_price: Number = Field(default=100.0, ge=0.01, le=1e9, description="first open")
    volatility: Number = Field(default=0.0005, ge=0, le=0.5, description="stdev of log returns")
    start: IsoDateTime = Field(
        default=datetime(2024, 1, 1, tzinfo=UTC),
        description="first bar's open time (no offset means UTC), 1970 to 2200",
    )

    @field_validator("start")
    @classmethod
    def _utc_start(cls, value: datetime) -> datetime:
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        try:
            moment = moment.astimezone(UTC)
        except OverflowError:
            raise ValueError(f"must be between {EARLIEST:%Y} and {LATEST:%Y}") from None
        if not EARLIEST <= moment < LATEST:
            raise ValueError(f"must be between {EARLIEST:%Y} and {LATEST:%Y}")
        return moment


class BacktestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    strategy: str = Field(
        max_length=64,
        description="a built-in strategy (GET /api/strategies)",
        json_schema_extra={"enum": list(builtin_strategy_names())},
    )
    params: dict[str, Any] = Field(default_factory=dict, description="the strategy's parameters")
    dataset: str | None = Field(
        default=None,
        max_length=128,
        description="a name from GET /api/datasets: a file, or catalog:/warm:VENUE:SYMBOL:INTERVAL",
    )
    start: IsoDateTime | None = Field(default=None, description="dataset: first bar time (UTC)")
    end: IsoDateTime | None = Field(default=None, description="dataset: end time, exclusive")
    synthetic: SyntheticData | None = Field(default=None, description="generated prices instead")
    symbol: str | None = Field(
        default=None,
        pattern=SYMBOL_PATTERN,
        description="synthetic: the generated symbol (SYN); dataset: which symbol of the file",
    )
    interval: str = Field(default="1m", max_length=8, description="bar interval: 1m, 5m, 1h, 1d")
    fee: DecimalValue = Field(
        default=Decimal(0),
        ge=0,
        le=Decimal("0.1"),
        description="fee per fill, a fraction of notional (0.001 = 0.1 %)",
    )
    slippage_bps: DecimalValue = Field(
        default=Decimal(0), ge=0, le=1000, description="adverse slippage of market fills"
    )
    initial_cash: DecimalValue = Field(default=Decimal(100_000), gt=0, le=Decimal(10**15))
    periods_per_year: StrictInt = Field(
        default=252, ge=1, le=525_600, description="annualisation of daily returns"
    )

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, value: str) -> str:
        names = builtin_strategy_names()
        if value not in names:
            raise ValueError(f"unknown strategy '{value}'; known: {', '.join(names)}")
        return value

    @field_validator("dataset")
    @classmethod
    def _plain_file_name(cls, value: str | None) -> str | None:
        if value is None or parse_series_dataset(value) is not None:
            return value  # a malformed series reference raised ValueError: 422 on dataset
        if not DATASET_NAME.fullmatch(value) or ".." in value:
            raise ValueError("must be a file name from GET /api/datasets (no folder, no '..')")
        if not value.lower().endswith(ACCEPTED_EXTENSIONS):
            raise ValueError(f"must end with one of {', '.join(ACCEPTED_EXTENSIONS)}")
        return value

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # no offset means UTC, as everywhere else
        return value

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: str) -> str:
        if not INTERVAL_PATTERN.fullmatch(value):
            raise ValueError("expected a number and a unit s, m, h or d (e.g. 1m, 5m, 1h)")
        return value

    @model_validator(mode="after")
    def _one_data_source(self) -> BacktestRequest:
        if (self.dataset is None) == (self.synthetic is None):
            raise ValueError("give exactly one of 'dataset' and 'synthetic'")
        if (self.start is not None or self.end is not None) and self.dataset is None:
            raise ValueError("'start' and 'end' apply to a dataset only")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("'end' must be after 'start'")
        s = self.synthetic
        if s is not None:
            span = timedelta(seconds=s.bars * interval_ns(self.interval) / 1e9)
            if span > LATEST - s.start:
                raise ValueError(
                    f"synthetic: {s.bars} bars of {self.interval} from {s.start:%Y-%m-%d} run "
                    f"past {LATEST:%Y}; use fewer bars or a shorter interval"
                )
        return self


class BacktestJobOut(BaseModel):
    job_id: str
    state: str = Field(description="queued, running, done, failed or cancelled")
    strategy: str
    params: dict[str, Any]
    data: str = Field(description="'synthetic' (generated prices) or 'dataset'")
    synthetic: bool
    dataset: str | None
    symbol: str | None
    interval: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    error: str | None = Field(description="one line, when failed or cancelled")
    metrics: dict[str, Any] | None = Field(description="the metrics summary, when done")
    symbols: list[str]
    bars: int | None
    report_url: str | None = Field(description="the HTML report, when done")


class DatasetInfo(BaseModel):
    name: str
    size: int | None = Field(default=None, description="bytes (files)")
    modified: str | None = Field(default=None, description="files: last change")
    rows: int | None = Field(description="data rows when cheap to tell (Parquet, small CSV)")
    source: str | None = Field(default=None, description="stored series: catalog or warm")
    venue: str | None = None
    symbol: str | None = None
    interval: str | None = None
    first: str | None = Field(default=None, description="stored series: first bar open time")
    last: str | None = Field(default=None, description="stored series: last bar open time")


def install(
    app: FastAPI,
    data_dir: Path | None,
    bus: EventBus | None = None,
    *,
    market_data_url: str | None = None,
) -> None:
    """Attach the backtest jobs runner to ``app`` (worker pool started lazily); lists the jobs
    a previous run left, and kills the workers when the app shuts down. Each change of a job
    is published on ``bus`` (WebSocket topic ``backtests``) once it is written."""
    if data_dir is None:
        app.state.backtests = None
        return

    def publish(change: dict[str, Any]) -> None:
        if bus is not None:
            data = change if change.get("deleted") else job_out(change)
            bus.publish(Topic.BACKTESTS, None, data)

    jobs = BacktestJobs(
        data_dir / "backtests",
        data_dir / "datasets",
        on_change=publish,
        runner=series_runner(data_dir, market_data_url),
    )
    jobs.load()
    app.state.backtests = jobs
    app.state.backtest_sources = (data_dir / "catalog", market_data_url)
    app.router.on_shutdown.append(jobs.shutdown)


def recent_jobs(app: FastAPI, limit: int) -> list[dict[str, Any]]:
    """The newest jobs as the API shows them ([] without a data directory): the WebSocket
    snapshot of topic ``backtests``."""
    jobs: BacktestJobs | None = getattr(app.state, "backtests", None)
    return [] if jobs is None else [job_out(job.to_json()) for job in jobs.recent(limit)]


def get_jobs(request: Request) -> BacktestJobs:
    jobs: BacktestJobs | None = getattr(request.app.state, "backtests", None)
    if jobs is None:
        raise BacktestsDisabled("backtests need the daemon's data directory")
    return jobs


Jobs = Annotated[BacktestJobs, Depends(get_jobs)]


def get_sources(request: Request) -> tuple[Path, str | None]:
    """The catalog folder and the warm tier's URL (None: none configured)."""
    sources: tuple[Path, str | None] = request.app.state.backtest_sources
    return sources


Sources = Annotated[tuple[Path, str | None], Depends(get_sources)]
QUEUE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **WRITE_RESPONSES,
    429: {"description": "the backtest queue is full"},
}


@router.post(
    "/backtests", status_code=202, response_model=BacktestJobOut, responses=QUEUE_RESPONSES
)
async def create(body: BacktestRequest, jobs: Jobs, sources: Sources) -> dict[str, Any]:
    """Queue a backtest; it runs in a worker process. 202 with the job (``state`` queued or
    running); poll ``GET /api/backtests/{id}`` until it is done, failed or cancelled."""
    params = _checked_params(body.strategy, body.params)
    series = parse_series_dataset(body.dataset) if body.dataset is not None else None
    if series is not None:
        catalog_root, market_data_url = sources
        try:
            problem = await asyncio.to_thread(
                series_dataset_problem, series, catalog_root, market_data_url
            )
        except AlgoTradeError as exc:  # the warm tier cannot be reached
            problem = str(exc)
        if problem is not None:
            raise _field_error("dataset", problem)
    elif body.dataset is not None:
        path = jobs.datasets / body.dataset
        if not await asyncio.to_thread(path.is_file):
            raise _field_error("dataset", f"no dataset '{body.dataset}' (see GET /api/datasets)")
    synthetic = None
    if body.synthetic is not None:
        s = body.synthetic
        synthetic = SyntheticSpec(
            bars=s.bars,
            seed=s.seed,
            start_price=s.start_price,
            volatility=s.volatility,
            start=s.start.isoformat().replace("+00:00", "Z"),
        )
    spec = JobSpec(
        strategy=body.strategy,
        params=params,
        dataset=body.dataset,
        synthetic=synthetic,
        symbol=body.symbol,
        interval=body.interval,
        fee=str(body.fee),
        slippage_bps=str(body.slippage_bps),
        initial_cash=str(body.initial_cash),
        periods_per_year=body.periods_per_year,
        start_ns=None if body.start is None else datetime_to_ns(body.start),
        end_ns=None if body.end is None else datetime_to_ns(body.end),
    )
    job = await jobs.submit(spec)
    return job_out(job.to_json())


@router.get("/backtests", response_model=list[BacktestJobOut], responses=READ_RESPONSES)
async def list_jobs(
    jobs: Jobs,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST_LIMIT, description="at most"), QUERY_INTEGER] = (
        DEFAULT_LIST_LIMIT
    ),
) -> list[dict[str, Any]]:
    """Backtest jobs, newest first (the daemon keeps the latest 50 with their files)."""
    return [job_out(job.to_json()) for job in jobs.recent(limit)]


@router.get("/backtests/{job_id}", response_model=BacktestJobOut, responses=READ_RESPONSES)
async def get_job(job_id: JobId, jobs: Jobs) -> dict[str, Any]:
    return job_out(jobs.get(job_id).to_json())


@router.get(
    "/backtests/{job_id}/report",
    response_class=FileResponse,
    responses={**READ_RESPONSES, 409: {"description": "the job is not done"}},
)
async def report(job_id: JobId, jobs: Jobs) -> Response:
    """The self-contained HTML report (plotly inline: works offline), once the job is done."""
    path = await asyncio.to_thread(jobs.report_path, job_id)
    if path is None:
        state = jobs.get(job_id).state.value
        raise ApiHttpError(409, "not_ready", f"backtest '{job_id}' is {state}: no report")
    return FileResponse(path, media_type="text/html; charset=utf-8", headers=REPORT_HEADERS)


@router.delete(
    "/backtests/{job_id}",
    status_code=200,
    response_model=BacktestJobOut | None,
    responses={**WRITE_RESPONSES, 204: {"description": "the finished job and its files removed"}},
)
async def delete(job_id: JobId, jobs: Jobs) -> Response | dict[str, Any]:
    """A queued or running job is cancelled (200 with the job, now cancelled; a running one
    once its worker has stopped); a finished job is removed with its report (204)."""
    job = await jobs.delete(job_id)
    if job is None:
        return Response(status_code=204)
    return job_out(job.to_json())


@router.get("/datasets", response_model=list[DatasetInfo], responses=READ_RESPONSES)
async def datasets(jobs: Jobs, sources: Sources) -> list[dict[str, Any]]:
    """Bar files in ``<data_dir>/datasets/`` (CSV, CSV.gz, Parquet), then the series of the
    catalog and of the warm tier (when ``market_data.url`` is set and reachable): what a
    backtest's ``dataset`` may name. Names only, never paths."""
    catalog_root, market_data_url = sources
    found = await asyncio.to_thread(list_datasets, jobs.datasets)
    found += await asyncio.to_thread(catalog_datasets, catalog_root)
    if market_data_url is not None:
        try:
            found += await asyncio.to_thread(warm_datasets, market_data_url)
        except AlgoTradeError as exc:  # listed without the warm tier, and said why
            _log.warning("GET /api/datasets: warm tier not listed: %s", exc)
    return found


def _checked_params(strategy: str, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` validated by the strategy's own model; 422 naming ``params.<field>``."""
    try:
        validated = get_strategy_class(strategy).parse_json_params(params)
    except ValidationError as exc:
        parts = []
        for error in exc.errors()[:10]:
            where = ".".join(["body", "params", *(str(p) for p in error["loc"])])
            parts.append(f"{where}: {str(error['msg']).removeprefix('Value error, ')}")
        raise ApiHttpError(422, "validation_error", "; ".join(parts)) from None
    # Only what the caller gave (defaults stay defaults), in JSON form (Decimal → text).
    dumped = validated.model_dump(mode="json")
    return {name: dumped[name] for name in params}


def _field_error(field: str, message: str) -> ApiHttpError:
    return ApiHttpError(422, "validation_error", f"body.{field}: {message}")


def job_out(job: dict[str, Any]) -> dict[str, Any]:
    """A job as the API shows it (``BacktestJobOut``), from ``BacktestJob.to_json()``."""
    job = dict(job)
    spec = job.pop("spec")
    done = job["state"] == "done"
    return {
        **job,
        "dataset": spec.get("dataset"),
        "symbol": spec.get("symbol"),
        "interval": spec.get("interval", "1m"),
        "report_url": f"/api/backtests/{job['job_id']}/report" if done else None,
    }
