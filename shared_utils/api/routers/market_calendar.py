"""The market calendar (Admins only): holidays and special sessions per exchange.

Changes take effect at the next timer tick, with no deploy; each records who made it and when.
"""

from __future__ import annotations

from datetime import date
from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from shared_utils.api.errors import route_responses
from shared_utils.api.identity import ADMINS_GROUP, Caller, Identity
from shared_utils.api.routing import route
from shared_utils.clock import to_ist
from shared_utils.composition import platform
from shared_utils.errors import ForbiddenError
from shared_utils.market.underlyings import Exchange
from shared_utils.models.calendar import CalendarChangeResult, ExchangeCalendar, HolidayCreate, SessionCreate

router = Router()
TAGS = ["market-calendar"]

ExchangeParam = Annotated[Exchange, Path(description="NSE or BSE")]
DayParam = Annotated[date, Path(description="The day, YYYY-MM-DD")]
YearParam = Annotated[int | None, Query(ge=2025, le=2100, description="Calendar year (default: this year)")]


def _admin(caller: Identity) -> str:
    if not caller.is_admin:
        raise ForbiddenError(f"the market calendar is kept by the {ADMINS_GROUP} group")
    return caller.user_id


@route(
    router,
    "getMarketCalendar",
    summary="An exchange's holidays and special sessions for a year, with the changes behind them",
    tags=TAGS,
    responses=route_responses(HTTPStatus.OK, HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND),
)
def get_market_calendar(caller: Caller, exchange: ExchangeParam, year: YearParam = None) -> ExchangeCalendar:
    _admin(caller)
    root = platform()
    return root.calendar_service.view(exchange, year or to_ist(root.clock.now()).year)


@route(
    router,
    "addMarketHoliday",
    summary="Add a holiday (an ad-hoc closure, a day of next year's circular)",
    description="The response names the listed contracts whose expiry moved to the previous trading day.",
    tags=TAGS,
    status_code=HTTPStatus.CREATED,
    responses=route_responses(
        HTTPStatus.CREATED, HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT, body=True
    ),
)
def add_holiday(caller: Caller, exchange: ExchangeParam, data: HolidayCreate) -> CalendarChangeResult:
    return platform().calendar_service.add_holiday(exchange, data, _admin(caller))


@route(
    router,
    "removeMarketHoliday",
    summary="Remove a holiday: undo an added one, or declare a shipped or provisional one a trading day",
    tags=TAGS,
    responses=route_responses(HTTPStatus.OK, HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND),
)
def remove_holiday(caller: Caller, exchange: ExchangeParam, day: DayParam) -> CalendarChangeResult:
    return platform().calendar_service.remove_holiday(exchange, day, _admin(caller))


@route(
    router,
    "addMarketSession",
    summary="Add a special session (a Muhurat evening, a Budget-day Saturday) with its own times",
    tags=TAGS,
    status_code=HTTPStatus.CREATED,
    responses=route_responses(
        HTTPStatus.CREATED, HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT, body=True
    ),
)
def add_session(caller: Caller, exchange: ExchangeParam, data: SessionCreate) -> CalendarChangeResult:
    return platform().calendar_service.add_session(exchange, data, _admin(caller))


@route(
    router,
    "removeMarketSession",
    summary="Remove a special session added by an admin",
    tags=TAGS,
    responses=route_responses(HTTPStatus.OK, HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND),
)
def remove_session(caller: Caller, exchange: ExchangeParam, day: DayParam) -> CalendarChangeResult:
    return platform().calendar_service.remove_session(exchange, day, _admin(caller))
