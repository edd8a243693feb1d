"""Strategies: /options/strategies, /options/strategies/{strategy_id} and creation in a basket."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import Request, Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from shared_utils.api.errors import no_content, route_responses
from shared_utils.api.idempotency import IdempotencyKey, idempotent_create
from shared_utils.api.identity import Caller
from shared_utils.api.pagination import DEFAULT_LIMIT, Limit, NextToken
from shared_utils.api.params import (
    ID_MAX_LENGTH,
    ID_PATTERN,
    BasketId,
    ClosePositions,
    ExpectedVersion,
    StrategyId,
)
from shared_utils.api.routing import route
from shared_utils.composition import platform
from shared_utils.market.underlyings import Underlying
from shared_utils.models.common import StrategyStatus
from shared_utils.models.strategy import Strategy, StrategyCreate, StrategyUpdate
from shared_utils.models.views import Page, StrategyDetail

router = Router()
TAGS = ["strategies"]

BasketFilter = Annotated[
    str | None,
    Query(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN, description="Only this basket's"),
]
UnderlyingFilter = Annotated[Underlying | None, Query(description="Only strategies on this index")]
StatusFilter = Annotated[StrategyStatus | None, Query(description="Only ACTIVE or only PAUSED strategies")]


@route(
    router,
    "listStrategies",
    summary="My strategies across baskets",
    description="`underlying` and `status` filter each page, so a page may hold fewer than `limit` "
    "items while `next_token` is set: follow it until it is null.",
    tags=TAGS,
    responses=route_responses(HTTPStatus.OK, HTTPStatus.NOT_FOUND),
)
def list_strategies(
    caller: Caller,
    basket_id: BasketFilter = None,
    underlying: UnderlyingFilter = None,
    status: StatusFilter = None,
    limit: Limit = DEFAULT_LIMIT,
    next_token: NextToken = None,
) -> Page[Strategy]:
    strategies, token = platform().catalog.list_strategies(caller.user_id, basket_id, limit, next_token)
    matching = [
        strategy
        for strategy in strategies
        if (underlying is None or strategy.underlying == underlying)
        and (status is None or strategy.status == status)
    ]
    return Page[Strategy](items=matching, next_token=token)


@route(
    router,
    "createStrategy",
    summary="Create a strategy in a basket",
    description="At most 10 strategies per basket (409 STRATEGY_LIMIT) and 6 legs per strategy (422).",
    tags=TAGS,
    status_code=HTTPStatus.CREATED,
    responses=route_responses(HTTPStatus.CREATED, HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT, body=True),
)
def create_strategy(
    caller: Caller,
    request: Request,
    basket_id: BasketId,
    data: StrategyCreate,
    idempotency_key: IdempotencyKey = None,
) -> Strategy:
    return idempotent_create(
        request=request,
        caller=caller,
        key=idempotency_key,
        operation="createStrategy",
        target={"basket_id": basket_id},
        body=data,
        create=lambda: platform().catalog.create_strategy(caller.user_id, basket_id, data),
        result_type=Strategy,
    )


@route(
    router,
    "getStrategy",
    summary="A strategy with its legs and effective broker allocations",
    description="`allocations.source` says whether the strategy trades with its own allocations "
    "(STRATEGY) or inherits its basket's defaults (BASKET).",
    tags=TAGS,
    responses=route_responses(HTTPStatus.OK, HTTPStatus.NOT_FOUND),
)
def get_strategy(caller: Caller, strategy_id: StrategyId) -> StrategyDetail:
    return platform().catalog.strategy(caller.user_id, strategy_id)


@route(
    router,
    "updateStrategy",
    summary="Update a strategy",
    description="Only the fields given change; `version` must be the current one (409 otherwise).",
    tags=TAGS,
    responses=route_responses(HTTPStatus.OK, HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT, body=True),
)
def update_strategy(caller: Caller, strategy_id: StrategyId, data: StrategyUpdate) -> Strategy:
    return platform().catalog.update_strategy(caller.user_id, strategy_id, data)


@route(
    router,
    "deleteStrategy",
    summary="Delete a strategy with its broker allocations and schedule",
    description="409 OPEN_POSITIONS while it holds positions; `close_positions=true` closes them first.",
    tags=TAGS,
    status_code=HTTPStatus.NO_CONTENT,
    responses=route_responses(HTTPStatus.NO_CONTENT, HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT),
)
def delete_strategy(
    caller: Caller,
    strategy_id: StrategyId,
    version: ExpectedVersion = None,
    close_positions: ClosePositions = False,
) -> Response[None]:
    platform().catalog.delete_strategy(caller.user_id, strategy_id, version, close_positions=close_positions)
    return no_content()
