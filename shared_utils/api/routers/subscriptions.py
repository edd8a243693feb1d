"""Subscriptions (/options/subscriptions): subscribe to a published basket with lots on one's own
broker accounts, pause / resume / change allocations, unsubscribe, and the monthly statement."""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from shared_utils.api.errors import no_content, route_responses
from shared_utils.api.identity import Caller
from shared_utils.api.pagination import DEFAULT_LIMIT, Limit, NextToken
from shared_utils.api.params import BasketId, ExpectedVersion
from shared_utils.api.routers.marketplace import MonthParam, service
from shared_utils.api.routing import route
from shared_utils.marketplace.models import (
    FeeStatement,
    SubscriptionCreate,
    SubscriptionUpdate,
    SubscriptionView,
)
from shared_utils.models.views import Page

router = Router()
TAGS = ["subscriptions"]


@route(
    router,
    "subscribe",
    summary="Subscribe to a published basket",
    description="Every strategy of the basket trades `lots` x its leg lots on each of the caller's "
    "broker accounts listed. 404 when the basket is not published, 409 when already subscribed, "
    "422 when an account is not the caller's.",
    tags=TAGS,
    status_code=HTTPStatus.CREATED,
    responses=route_responses(HTTPStatus.CREATED, HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT, body=True),
)
def subscribe(caller: Caller, data: SubscriptionCreate) -> SubscriptionView:
    return service().subscribe(caller.user_id, data)


@route(
    router,
    "listSubscriptions",
    summary="My subscriptions",
    tags=TAGS,
    responses=route_responses(HTTPStatus.OK),
)
def list_subscriptions(
    caller: Caller, limit: Limit = DEFAULT_LIMIT, next_token: NextToken = None
) -> Page[SubscriptionView]:
    return service().list_subscriptions(caller.user_id, limit, next_token)


@route(
    router,
    "getSubscription",
    summary="My subscription to a basket",
    tags=TAGS,
    responses=route_responses(HTTPStatus.OK, HTTPStatus.NOT_FOUND),
)
def get_subscription(caller: Caller, basket_id: BasketId) -> SubscriptionView:
    return service().get_subscription(caller.user_id, basket_id)


@route(
    router,
    "updateSubscription",
    summary="Pause, resume or re-allocate my subscription",
    description="`status` PAUSED stops new entries (open positions still exit on schedule), ACTIVE "
    "resumes; `allocations` replaces the lots per broker account. `version` must be current.",
    tags=TAGS,
    responses=route_responses(HTTPStatus.OK, HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT, body=True),
)
def update_subscription(caller: Caller, basket_id: BasketId, data: SubscriptionUpdate) -> SubscriptionView:
    return service().update_subscription(caller.user_id, basket_id, data)


@route(
    router,
    "unsubscribe",
    summary="Unsubscribe",
    description="No new entries; positions already open still exit on schedule.",
    tags=TAGS,
    status_code=HTTPStatus.NO_CONTENT,
    responses=route_responses(HTTPStatus.NO_CONTENT, HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT),
)
def unsubscribe(caller: Caller, basket_id: BasketId, version: ExpectedVersion = None) -> Response[None]:
    service().unsubscribe(caller.user_id, basket_id, version)
    return no_content()


@route(
    router,
    "getSubscriptionStatement",
    summary="My monthly fee statement for a subscription",
    description="Realised P&L of the month's exits, the monthly fee and the performance fee due.",
    tags=TAGS,
    responses=route_responses(HTTPStatus.OK, HTTPStatus.NOT_FOUND),
)
def statement(caller: Caller, basket_id: BasketId, month: MonthParam) -> FeeStatement:
    return service().subscriber_statement(caller.user_id, basket_id, month)
