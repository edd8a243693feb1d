"""Backtests as jobs: the API submits one (checked against the user's limits, stored QUEUED,
handed to the `JobStarter`), the job function runs it (`run`: RUNNING, the backtester, the
result and report to the `ResultStore`, then DONE or FAILED) and the API reads it back.

The limits are the platform's settings: a range of at most `max_days` calendar days ending no
later than today (the platform's clock, in IST), at most `max_strategies` strategies, at most
`max_running` of the user's jobs unfinished at once, and the simulated market only (imported
history is read by the local backtester alone). A request breaking one is refused before
anything is stored: 422 naming the field, 404 for a strategy or basket that is not the user's,
409 past the running limit.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from aws_lambda_powertools import Logger

from shared_utils.backtest.job_models import (
    DEADLINE_GRACE,
    JOB_TIMEOUT,
    MAX_ERROR_CHARS,
    REPORT_FILE,
    RESULT_FILE,
    RETENTION,
    RUN_RESERVE,
    START_WITHIN,
    BacktestCreate,
    BacktestJob,
    BacktestJobView,
    JobRef,
    JobSpec,
    JobStatus,
    JobSummary,
    RunOutcome,
)
from shared_utils.backtest.job_ports import JobStarter, ResultStore
from shared_utils.backtest.job_store import DynamoJobStore
from shared_utils.backtest.markets import MinuteBars
from shared_utils.backtest.report import render_html
from shared_utils.backtest.results import BacktestResult
from shared_utils.backtest.runner import BacktestRequest, MarketSource
from shared_utils.backtest.service import run_backtest
from shared_utils.clock import Clock, to_ist
from shared_utils.errors import DomainError, FieldIssue, InvalidInputError, NotFoundError
from shared_utils.market.calendar import TradingCalendar
from shared_utils.market.specs import SpecTable
from shared_utils.models.risk import PortfolioRules
from shared_utils.models.views import Page, StrategyDetail
from shared_utils.repository.ports import TradingRepository
from shared_utils.settings import RuntimeSettings

logger = Logger(child=True)

MARKET_NOT_AVAILABLE = "MARKET_NOT_AVAILABLE"
END_IN_FUTURE = "END_IN_FUTURE"
RANGE_TOO_LONG = "RANGE_TOO_LONG"
TOO_MANY_STRATEGIES = "TOO_MANY_STRATEGIES"
TIMED_OUT = "BACKTEST_TIMED_OUT"


class RunBacktest(Protocol):
    """`service.run_backtest`'s signature, as the jobs call it."""

    def __call__(
        self,
        details: Sequence[StrategyDetail],
        request: BacktestRequest,
        *,
        calendar: TradingCalendar | None = None,
        specs: SpecTable | None = None,
        bars: MinuteBars | None = None,
        progress: Callable[[date], None] | None = None,
        portfolio: PortfolioRules | None = None,
    ) -> BacktestResult: ...


@dataclass(frozen=True)
class JobLimits:
    max_days: int = 366
    max_strategies: int = 10
    max_running: int = 2

    @classmethod
    def from_settings(cls, settings: RuntimeSettings) -> JobLimits:
        return cls(
            max_days=settings.backtest_max_days,
            max_strategies=settings.backtest_max_strategies,
            max_running=settings.backtest_max_running,
        )


def new_backtest_id(now: datetime) -> str:
    """Ids sort by creation (the user's jobs list newest first from the table's order)."""
    return f"bt-{now:%Y%m%d%H%M%S%f}-{uuid.uuid4().hex[:8]}"


def _invalid(message: str, field: str, issue: str, code: str = "VALIDATION_ERROR") -> InvalidInputError:
    return InvalidInputError(message, [FieldIssue(field, issue)], code=code)


class BacktestTimedOutError(DomainError):
    def __init__(self, day: date, budget: timedelta) -> None:
        minutes = int(budget.total_seconds() // 60)
        super().__init__(
            message=f"the backtest ran out of its {minutes} minutes at {day.isoformat()}: run a "
            "shorter range or fewer strategies",
            code=TIMED_OUT,
        )


class BacktestJobs:
    def __init__(
        self,
        jobs: DynamoJobStore,
        strategies: TradingRepository,
        starter: JobStarter,
        results: ResultStore,
        clock: Clock,
        limits: JobLimits,
        *,
        calendar: Callable[[], TradingCalendar] | None = None,
        run: RunBacktest = run_backtest,
        new_id: Callable[[datetime], str] = new_backtest_id,
    ) -> None:
        """`calendar`: the platform's (the shipped one with the admins' changes); `run`: the
        backtester (`service.run_backtest`)."""
        self._jobs = jobs
        self._strategies = strategies
        self._starter = starter
        self._results = results
        self._clock = clock
        self._limits = limits
        self._calendar = calendar or TradingCalendar.default
        self._run = run
        self._new_id = new_id

    # ------------------------------------------------------------------ the API's side

    def submit(self, user_id: str, data: BacktestCreate) -> BacktestJobView:
        """Check the request, store the job QUEUED and hand it to the starter."""
        now = self._clock.now()
        job = BacktestJob(
            backtest_id=self._new_id(now),
            user_id=user_id,
            status=JobStatus.QUEUED,
            request=self._spec(user_id, data, now),
            created_at=now,
            deadline=now + START_WITHIN,
        )
        self._jobs.add(job, max_running=self._limits.max_running, expires_at=now + RETENTION)
        try:
            self._starter.start(JobRef(user_id=user_id, backtest_id=job.backtest_id))
        except Exception:
            # Nothing will run it: it must not hold the user's place until its deadline.
            self._jobs.finish(
                user_id,
                job.backtest_id,
                self._clock.now(),
                error="the backtest could not be started; submit it again",
            )
            raise
        return self._view(job, now)

    def get(self, user_id: str, backtest_id: str) -> BacktestJobView:
        now = self._clock.now()
        job = self._jobs.get(user_id, backtest_id, now)
        if job is None:
            raise NotFoundError("backtest not found", [FieldIssue("backtest_id", "not found")])
        return self._view(job, now)

    def list_jobs(self, user_id: str, limit: int, next_token: str | None) -> Page[BacktestJobView]:
        now = self._clock.now()
        jobs, token = self._jobs.page(user_id, now, limit=limit, next_token=next_token)
        return Page[BacktestJobView](items=[self._view(job, now) for job in jobs], next_token=token)

    def _view(self, job: BacktestJob, now: datetime) -> BacktestJobView:
        current = job.as_of(now)
        done = current.status is JobStatus.DONE
        return BacktestJobView(
            **current.model_dump(exclude={"user_id"}),
            result_url=self._results.url(job.user_id, job.backtest_id, RESULT_FILE) if done else None,
            report_url=self._results.url(job.user_id, job.backtest_id, REPORT_FILE) if done else None,
        )

    def _spec(self, user_id: str, data: BacktestCreate, now: datetime) -> JobSpec:
        """The request checked against the limits, its strategies found (a basket resolved)."""
        limits = self._limits
        if data.market is not MarketSource.SIMULATED:
            raise _invalid(
                f"{data.market.value} backtests read minute bars imported on your machine: run them "
                "with the local backtester (python -m local_platform backtest --market historical); "
                "the API runs the SIMULATED market",
                "market",
                "only SIMULATED through the API",
                MARKET_NOT_AVAILABLE,
            )
        if (data.strategy_ids is None) == (data.basket_id is None):
            raise _invalid(
                "give either strategy_ids or basket_id",
                "strategy_ids",
                "give strategy_ids or basket_id, not both",
            )
        if data.end < data.start:
            raise _invalid("end is before start", "end", "before start")
        today = to_ist(now).date()
        if data.end > today:
            raise _invalid(
                f"end {data.end.isoformat()} is after today ({today.isoformat()}): a backtest replays "
                "past days",
                "end",
                f"after today ({today.isoformat()})",
                END_IN_FUTURE,
            )
        days = (data.end - data.start).days + 1
        if days > limits.max_days:
            raise _invalid(
                f"the range covers {days} calendar days; at most {limits.max_days}",
                "end",
                f"at most {limits.max_days} calendar days after start",
                RANGE_TOO_LONG,
            )
        if data.strategy_ids is not None:
            strategy_ids = list(dict.fromkeys(data.strategy_ids))
            self._check_count(len(strategy_ids), "strategy_ids")
            found = self._strategies.get_strategies((user_id, strategy_id) for strategy_id in strategy_ids)
            missing = [
                FieldIssue(f"strategy_ids.{index}", "not found")
                for index, strategy_id in enumerate(strategy_ids)
                if (user_id, strategy_id) not in found
            ]
            if missing:
                raise NotFoundError("strategy not found", missing)
        else:
            assert data.basket_id is not None
            try:
                basket = self._strategies.get_basket_with_strategies(user_id, data.basket_id)
            except NotFoundError as error:
                raise NotFoundError(error.message, [FieldIssue("basket_id", "not found")]) from error
            strategy_ids = sorted(strategy.strategy_id for strategy in basket.strategies)
            if not strategy_ids:
                raise _invalid("the basket has no strategies", "basket_id", "has no strategies")
            self._check_count(len(strategy_ids), "basket_id")
        return JobSpec(
            strategy_ids=strategy_ids,
            basket_id=data.basket_id,
            start=data.start,
            end=data.end,
            market=data.market,
            seed=data.seed,
            slippage_bps=data.slippage_bps,
            brokerage_per_order=data.brokerage_per_order,
        )

    def _check_count(self, count: int, field: str) -> None:
        limit = self._limits.max_strategies
        if count > limit:
            raise _invalid(
                f"{count} strategies; a backtest runs at most {limit}",
                field,
                f"at most {limit} strategies",
                TOO_MANY_STRATEGIES,
            )

    # ------------------------------------------------------------------ the job's side

    def run(self, ref: JobRef) -> RunOutcome:
        """Run a QUEUED job to DONE or FAILED; a job already taken, finished or past its start
        deadline is left as it is (a redelivered event). A domain error fails the job with its
        message; anything else fails it too, then propagates (the function's errors alarm)."""
        started_at = self._clock.now()
        job = self._jobs.start(
            ref.user_id, ref.backtest_id, started_at, started_at + JOB_TIMEOUT + DEADLINE_GRACE
        )
        if job is None:
            logger.info(
                "Backtest not run: not queued, or too late to start", extra={"backtest_id": ref.backtest_id}
            )
            return RunOutcome(backtest_id=ref.backtest_id, ran=False)
        try:
            result = self._execute(job, started_at)
        except Exception as error:
            message = (
                error.message
                if isinstance(error, DomainError)
                else f"the backtest failed on our side ({type(error).__name__}); the operators have its log"
            )
            logger.exception("Backtest failed", extra={"backtest_id": ref.backtest_id})
            self._jobs.finish(
                ref.user_id, ref.backtest_id, self._clock.now(), error=message[:MAX_ERROR_CHARS]
            )
            if not isinstance(error, DomainError):
                raise
            return RunOutcome(backtest_id=ref.backtest_id, ran=True, status=JobStatus.FAILED, error=message)
        self._jobs.finish(ref.user_id, ref.backtest_id, self._clock.now(), summary=JobSummary.of(result))
        return RunOutcome(backtest_id=ref.backtest_id, ran=True, status=JobStatus.DONE)

    def _execute(self, job: BacktestJob, started_at: datetime) -> BacktestResult:
        details = [
            self._strategies.get_strategy_with_allocations(job.user_id, strategy_id)
            for strategy_id in job.request.strategy_ids
        ]
        stop_at = started_at + JOB_TIMEOUT - RUN_RESERVE

        def within_budget(day: date) -> None:
            if self._clock.now() > stop_at:
                raise BacktestTimedOutError(day, JOB_TIMEOUT - RUN_RESERVE)

        # The user's portfolio rules and those of the strategies' baskets, as they stand now.
        baskets = {(job.user_id, detail.strategy.basket_id) for detail in details}
        portfolio = self._strategies.portfolio_rules([job.user_id], baskets)
        result = self._run(
            details,
            job.request.backtest_request(),
            calendar=self._calendar(),
            progress=within_budget,
            portfolio=portfolio,
        )
        elapsed = (self._clock.now() - started_at).total_seconds()
        result = result.model_copy(update={"elapsed_seconds": round(elapsed, 2)})
        self._results.put(
            job.user_id, job.backtest_id, RESULT_FILE, result.model_dump_json(indent=2).encode()
        )
        self._results.put(job.user_id, job.backtest_id, REPORT_FILE, render_html(result).encode())
        return result
