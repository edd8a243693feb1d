"""Backtests as jobs: POST /options/backtests starts one (202), GET reads one or lists mine."""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Request
from aws_lambda_powertools.event_handler.api_gateway import Router

from shared_utils.api.errors import route_responses
from shared_utils.api.idempotency import IdempotencyKey, idempotent_create
from shared_utils.api.identity import Caller
from shared_utils.api.pagination import DEFAULT_LIMIT, Limit, NextToken
from shared_utils.api.params import BacktestId
from shared_utils.api.routing import route
from shared_utils.backtest.job_models import BacktestCreate, BacktestJobView
from shared_utils.composition import platform
from shared_utils.models.views import Page

router = Router()
TAGS = ["backtests"]


@route(
    router,
    "createBacktest",
    summary="Backtest my strategies (or a basket's) over past days: 202 with the queued job",
    description=(
        "The strategies run through each trading day of the range on the simulated market, minute "
        "by minute, through the platform's own timer, execution and paper brokers. Answers 202 at "
        "once with the job (QUEUED); GET it until DONE (summary, links to the result JSON and the "
        "HTML report) or FAILED (error). A year of one strategy takes about 25 s. Limits, each a "
        "422 naming the field: `market` SIMULATED only (`MARKET_NOT_AVAILABLE`), `end` not after "
        "today (`END_IN_FUTURE`) and at most BACKTEST_MAX_DAYS (366) calendar days from `start` "
        "(`RANGE_TOO_LONG`), at most BACKTEST_MAX_STRATEGIES (10) strategies "
        "(`TOO_MANY_STRATEGIES`); a strategy or basket that is not mine is a 404; a 409 "
        "(`BACKTESTS_RUNNING`) while BACKTEST_MAX_RUNNING (2) of my jobs are unfinished."
    ),
    tags=TAGS,
    status_code=HTTPStatus.ACCEPTED,
    responses=route_responses(HTTPStatus.ACCEPTED, HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT, body=True),
)
def create_backtest(
    caller: Caller, request: Request, data: BacktestCreate, idempotency_key: IdempotencyKey = None
) -> BacktestJobView:
    return idempotent_create(
        request=request,
        caller=caller,
        key=idempotency_key,
        operation="createBacktest",
        target={},
        body=data,
        create=lambda: platform().backtest_jobs.submit(caller.user_id, data),
        result_type=BacktestJobView,
    )


@route(
    router,
    "listBacktests",
    summary="My backtests, newest first",
    tags=TAGS,
    responses=route_responses(HTTPStatus.OK),
)
def list_backtests(
    caller: Caller, limit: Limit = DEFAULT_LIMIT, next_token: NextToken = None
) -> Page[BacktestJobView]:
    return platform().backtest_jobs.list_jobs(caller.user_id, limit, next_token)


@route(
    router,
    "getBacktest",
    summary="A backtest: its status, and when DONE its summary and links to its result and report",
    description="An unfinished job past its `deadline` is FAILED (it timed out or was lost). The "
    "links are valid 15 minutes: GET the job again for fresh ones. Results are kept 30 days.",
    tags=TAGS,
    responses=route_responses(HTTPStatus.OK, HTTPStatus.NOT_FOUND),
)
def get_backtest(caller: Caller, backtest_id: BacktestId) -> BacktestJobView:
    return platform().backtest_jobs.get(caller.user_id, backtest_id)
