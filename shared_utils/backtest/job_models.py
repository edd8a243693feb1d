"""Backtests as jobs: what a user asks for (`BacktestCreate`, the API's input), the job as the
platform keeps it (`BacktestJob`, domain) and what the API answers (`BacktestJobView`: the job with
its summary and the links to its result and report). The stored item is `job_store.BacktestJobItem`.

A job's life: QUEUED when the API accepts it, RUNNING once the job function takes it, then DONE
(summary, `result.json` and `report.html` written) or FAILED (error). An unfinished job past its
`deadline` has failed whatever its item says (the function timed out, or its invocation was
lost): every read reports it FAILED, and it no longer counts against the running limit.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer

from shared_utils.backtest.results import BacktestResult
from shared_utils.backtest.runner import BacktestRequest, MarketSource
from shared_utils.models.common import EntityId

# The job function's timeout (the stack sets the function's from it). The run stops itself
# RUN_RESERVE before it, so it can record why; the deadline of a running job is DEADLINE_GRACE
# after it (by then Lambda has ended the invocation, whatever happened in it).
JOB_TIMEOUT = timedelta(minutes=15)
RUN_RESERVE = timedelta(seconds=60)
DEADLINE_GRACE = timedelta(seconds=60)
# A queued job must start within this: the job function's maximum event age (an invocation
# still waiting after it is dropped by Lambda) and the deadline of a queued job.
START_WITHIN = timedelta(hours=1)
# Results are kept this long (the bucket's lifecycle expiry), and the jobs' items with them (TTL).
RETENTION = timedelta(days=30)
# Presigned links to a result are valid this long.
LINK_LIFETIME = timedelta(minutes=15)

RESULT_FILE = "result.json"
REPORT_FILE = "report.html"
CONTENT_TYPES = {RESULT_FILE: "application/json", REPORT_FILE: "text/html; charset=utf-8"}
MAX_WARNINGS = 10
MAX_ERROR_CHARS = 1000

# Rupees and rates in the API's JSON are numbers, as everywhere else on the platform.
Number = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]


class JobStatus(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"


UNFINISHED = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})


class BacktestCreate(BaseModel):
    """POST /options/backtests: the strategies (by id, or every strategy of a basket), the range
    of past days and how fills are priced and charged."""

    model_config = ConfigDict(extra="forbid")

    strategy_ids: list[EntityId] | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="My strategies to run together (at most BACKTEST_MAX_STRATEGIES, default 10); "
        "or give `basket_id`",
    )
    basket_id: EntityId | None = Field(default=None, description="Run every strategy of my basket instead")
    start: date = Field(description="First day (IST)")
    end: date = Field(
        description="Last day, not after today; at most BACKTEST_MAX_DAYS (366) days after start"
    )
    market: MarketSource = Field(
        default=MarketSource.SIMULATED,
        description="SIMULATED only: imported history (HISTORICAL) is a local tool for now (422)",
    )
    seed: int | None = Field(
        default=None, ge=0, le=2**31 - 1, description="The simulated market's seed; none: the shipped one"
    )
    slippage_bps: Decimal = Field(
        default=Decimal("5"),
        ge=0,
        le=500,
        decimal_places=2,
        description="Fills move this many basis points against the trader",
    )
    brokerage_per_order: Decimal = Field(
        default=Decimal("20"), ge=0, le=1000, decimal_places=2, description="Rupees per executed order"
    )


class JobSpec(BaseModel):
    """What a job runs: the request as accepted, with a basket resolved to its strategies."""

    model_config = ConfigDict(frozen=True)

    strategy_ids: list[str]
    basket_id: str | None = None
    start: date
    end: date
    market: MarketSource
    seed: int | None = None
    slippage_bps: Number
    brokerage_per_order: Number

    def backtest_request(self) -> BacktestRequest:
        return BacktestRequest(
            start=self.start,
            end=self.end,
            market=self.market,
            seed=self.seed,
            slippage_bps=self.slippage_bps,
            brokerage_per_order=self.brokerage_per_order,
        )


class DayNet(BaseModel):
    model_config = ConfigDict(frozen=True)

    day: date
    net_pnl: Number


class JobSummary(BaseModel):
    """The headline figures of a finished backtest (`results.BacktestSummary` without its daily
    series: those, every fill and the notes are in the result file). Its size does not grow with
    the range, so it fits the job's item."""

    model_config = ConfigDict(frozen=True)

    start: date | None
    end: date | None
    trading_days: int
    days_traded: int
    winning_days: int
    losing_days: int
    net_pnl: Number
    gross_pnl: Number
    charges: Number
    max_drawdown: Number
    max_drawdown_peak: date | None = None
    max_drawdown_trough: date | None = None
    recovered_on: date | None = None
    win_rate: Number | None = None
    average_win: Number | None = None
    average_loss: Number | None = None
    expectancy: Number | None = None
    best_day: DayNet | None = None
    worst_day: DayNet | None = None
    pnl_by_strategy: dict[str, Number] = Field(default_factory=dict)
    pnl_by_month: dict[str, Number] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list, description=f"The first {MAX_WARNINGS}")
    elapsed_seconds: float | None = None

    @classmethod
    def of(cls, result: BacktestResult) -> JobSummary:
        summary = result.summary
        figures = summary.model_dump(exclude={"best_day", "worst_day", "equity_curve", "daily", "worst_days"})
        return cls(
            **figures,
            best_day=DayNet(day=summary.best_day[0], net_pnl=summary.best_day[1])
            if summary.best_day
            else None,
            worst_day=DayNet(day=summary.worst_day[0], net_pnl=summary.worst_day[1])
            if summary.worst_day
            else None,
            warnings=result.warnings[:MAX_WARNINGS],
            elapsed_seconds=result.elapsed_seconds,
        )


class JobRef(BaseModel):
    """The job function's event: which job to run."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    user_id: EntityId
    backtest_id: EntityId


class BacktestJob(BaseModel):
    """A backtest job of one user (domain)."""

    model_config = ConfigDict(frozen=True)

    backtest_id: str
    user_id: str
    status: JobStatus
    request: JobSpec
    created_at: AwareDatetime
    started_at: AwareDatetime | None = None
    finished_at: AwareDatetime | None = None
    deadline: AwareDatetime
    summary: JobSummary | None = None
    error: str | None = None

    def as_of(self, now: datetime) -> BacktestJob:
        """The job as it stands at `now`: unfinished past its deadline, it has failed."""
        if self.status not in UNFINISHED or now <= self.deadline:
            return self
        what = "did not finish" if self.status is JobStatus.RUNNING else "was not started"
        return self.model_copy(
            update={
                "status": JobStatus.FAILED,
                "finished_at": self.deadline,
                "error": f"the backtest {what} by its deadline {self.deadline.isoformat()} (the job "
                "timed out or was lost): submit it again, over a shorter range or fewer strategies",
            }
        )


class BacktestJobView(BaseModel):
    """A job as the API shows it; when DONE, links to its result (JSON) and report (HTML)."""

    model_config = ConfigDict(frozen=True)

    backtest_id: str
    status: JobStatus
    request: JobSpec
    created_at: AwareDatetime
    started_at: AwareDatetime | None = None
    finished_at: AwareDatetime | None = None
    deadline: AwareDatetime = Field(description="An unfinished job past it is reported FAILED")
    summary: JobSummary | None = None
    error: str | None = None
    result_url: str | None = Field(
        default=None, description="DONE: the full result (JSON); deployed, a link valid 15 minutes"
    )
    report_url: str | None = Field(
        default=None, description="DONE: the HTML report; deployed, valid 15 minutes"
    )


class RunOutcome(BaseModel):
    """What one invocation of the job function did."""

    model_config = ConfigDict(frozen=True)

    backtest_id: str
    ran: bool  # False: the job was not QUEUED (a redelivered event) or its deadline had passed
    status: JobStatus | None = None
    error: str | None = None
