"""Execution history: GET /options/executions and GET /options/positions."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from shared_utils.api.errors import route_responses
from shared_utils.api.identity import Caller
from shared_utils.api.pagination import DEFAULT_LIMIT, Limit, NextToken
from shared_utils.api.params import ID_MAX_LENGTH, ID_PATTERN
from shared_utils.api.routing import route
from shared_utils.clock import IST, to_ist
from shared_utils.composition import platform
from shared_utils.errors import FieldIssue, InvalidInputError
from shared_utils.execution.marking import mark_positions
from shared_utils.execution.models import ExecutionRecord, PositionsReport
from shared_utils.models.views import Page

router = Router()
TAGS = ["executions"]
DEFAULT_DAYS = 30
MAX_DAYS = 366

FromDate = Annotated[
    date | None, Query(description=f"First trade day (IST), default {DEFAULT_DAYS} days before to_date")
]
ToDate = Annotated[date | None, Query(description="Last trade day (IST), default today")]
StrategyFilter = Annotated[
    str | None,
    Query(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN, description="Only this strategy"),
]
OpenOnly = Annotated[bool, Query(description="Only positions with a non-zero net quantity (default true)")]


@route(
    router,
    "listExecutions",
    summary="My entries and exits",
    description=(
        "Entry and exit records, newest first: per-broker orders, fills, average prices, realised P&L, "
        "and the reason when a strategy was not entered or a broker failed."
    ),
    tags=TAGS,
    responses=route_responses(HTTPStatus.OK),
)
def list_executions(
    caller: Caller,
    from_date: FromDate = None,
    to_date: ToDate = None,
    strategy_id: StrategyFilter = None,
    limit: Limit = DEFAULT_LIMIT,
    next_token: NextToken = None,
) -> Page[ExecutionRecord]:
    last = to_date or to_ist(platform().clock.now()).date()
    first = from_date or last - timedelta(days=DEFAULT_DAYS)
    if first > last:
        raise InvalidInputError(
            "from_date is after to_date", details=[FieldIssue("from_date", "after to_date")]
        )
    if (last - first).days > MAX_DAYS:
        raise InvalidInputError(
            f"the range spans more than {MAX_DAYS} days", details=[FieldIssue("from_date", "range too long")]
        )
    start = datetime.combine(first, time.min, tzinfo=IST)
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=IST) - timedelta(microseconds=1)
    records, token = platform().execution_store.list_records(
        caller.user_id, start, end, strategy_id=strategy_id, limit=limit, next_token=next_token
    )
    return Page[ExecutionRecord](items=records, next_token=token)


@route(
    router,
    "listPositions",
    summary="My positions",
    description="Net position per strategy leg and broker account, marked at the latest price.",
    tags=TAGS,
    responses=route_responses(HTTPStatus.OK),
)
def list_positions(caller: Caller, open_only: OpenOnly = True) -> PositionsReport:
    root = platform()
    stored = [p for p in root.execution_store.positions(caller.user_id) if p.net_quantity or not open_only]
    calendar = root.calendar()
    positions = [
        p.model_copy(update={"provisional_expiry": calendar.is_provisional(p.instrument.expiry)})
        for p in mark_positions(stored, root.option_market)
    ]
    return PositionsReport(
        positions=positions,
        realised_pnl=sum((p.realised_pnl for p in positions), Decimal("0")),
        unrealised_pnl=sum((p.unrealised_pnl or Decimal("0") for p in positions), Decimal("0")),
    )
