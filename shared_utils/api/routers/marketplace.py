"""Marketplace: browse published baskets (/options/marketplace/listings), read one with its
strategies, and, for admins (Cognito group `Admins`), publish / unpublish their own baskets and
read their subscribers' monthly fee statements."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from shared_utils.api.errors import no_content, route_responses
from shared_utils.api.identity import Caller
from shared_utils.api.pagination import DEFAULT_LIMIT, Limit, NextToken
from shared_utils.api.params import BasketId, ExpectedVersion
from shared_utils.api.routing import route
from shared_utils.composition import platform
from shared_utils.market.underlyings import Underlying
from shared_utils.marketplace.models import (
    Category,
    FeeStatement,
    ListingDetail,
    ListingPublish,
    ListingView,
    RiskLevel,
)
from shared_utils.marketplace.service import MarketplaceService
from shared_utils.models.views import Page

router = Router()
TAGS = ["marketplace"]

MonthParam = Annotated[
    str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="Calendar month of the statement, YYYY-MM")
]


def service() -> MarketplaceService:
    return platform().marketplace_service()


@route(
    router,
    "browseMarketplace",
    summary="Browse the marketplace",
    description="Published baskets, most subscribers first; filters combine. A page may hold fewer "
    "than `limit` listings while `next_token` is set.",
    tags=TAGS,
    responses=route_responses(HTTPStatus.OK),
)
def browse(
    caller: Caller,
    category: Annotated[Category | None, Query()] = None,
    underlying: Annotated[Underlying | None, Query()] = None,
    risk_level: Annotated[RiskLevel | None, Query()] = None,
    limit: Limit = DEFAULT_LIMIT,
    next_token: NextToken = None,
) -> Page[ListingView]:
    return service().browse(
        category=category,
        underlying=underlying.value if underlying else None,
        risk_level=risk_level,
        limit=limit,
        next_token=next_token,
    )


@route(
    router,
    "getListing",
    summary="A published basket with its strategies (read-only)",
    description="Never shows the owner's broker accounts or allocations.",
    tags=TAGS,
    responses=route_responses(HTTPStatus.OK, HTTPStatus.NOT_FOUND),
)
def get_listing(caller: Caller, basket_id: BasketId) -> ListingDetail:
    return service().listing_detail(caller.user_id, basket_id)


@route(
    router,
    "publishListing",
    summary="Publish one of my baskets (admins)",
    description="Publishes, edits the terms of, or re-publishes one of the caller's baskets. Only "
    "the `Admins` group (403 otherwise). Once listed, `version` must be the listing's current one.",
    tags=TAGS,
    responses=route_responses(
        HTTPStatus.OK, HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT, body=True
    ),
)
def publish(caller: Caller, basket_id: BasketId, data: ListingPublish) -> ListingView:
    return service().publish(caller.user_id, caller.is_admin, basket_id, data)


@route(
    router,
    "unpublishListing",
    summary="Unpublish one of my baskets (admins)",
    description="No new subscriptions or entries; subscribers' open positions still exit on schedule.",
    tags=TAGS,
    status_code=HTTPStatus.NO_CONTENT,
    responses=route_responses(
        HTTPStatus.NO_CONTENT, HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT
    ),
)
def unpublish(caller: Caller, basket_id: BasketId, version: ExpectedVersion = None) -> Response[None]:
    service().unpublish(caller.user_id, caller.is_admin, basket_id, version)
    return no_content()


@route(
    router,
    "listListingStatements",
    summary="My listing's monthly fee statements, one per subscriber (owner only)",
    description="Realised P&L and fees due per subscription; never a subscriber's broker accounts.",
    tags=TAGS,
    responses=route_responses(HTTPStatus.OK, HTTPStatus.NOT_FOUND),
)
def listing_statements(
    caller: Caller,
    basket_id: BasketId,
    month: MonthParam,
    limit: Limit = DEFAULT_LIMIT,
    next_token: NextToken = None,
) -> Page[FeeStatement]:
    return service().listing_statements(caller.user_id, basket_id, month, limit, next_token)
