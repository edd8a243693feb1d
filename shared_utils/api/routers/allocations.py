"""Broker allocations of a strategy (/options/strategies/{id}/brokers) and a basket's defaults
(/options/baskets/{id}/brokers). Each references one of the caller's own broker accounts."""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Request, Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from shared_utils.api.errors import no_content, route_responses
from shared_utils.api.idempotency import IdempotencyKey, idempotent_create
from shared_utils.api.identity import Caller, Identity
from shared_utils.api.pagination import DEFAULT_LIMIT, Limit, NextToken
from shared_utils.api.params import AllocationId, BasketId, ExpectedVersion, StrategyId
from shared_utils.api.routing import route
from shared_utils.composition import platform
from shared_utils.models.allocation import AllocationCreate, AllocationUpdate, BrokerAllocation
from shared_utils.models.common import AllocationScope
from shared_utils.models.views import Page

router = Router()
TAGS = ["broker-allocations"]
CREATE_DESCRIPTION = (
    "`broker_account_id` must be one of the caller's broker accounts (422 otherwise); one "
    "allocation per account (409 ALREADY_EXISTS)."
)
UPDATE_DESCRIPTION = "Only the fields given change (null clears a limit); `version` must be current."


def _list(
    caller: Identity, scope: AllocationScope, scope_id: str, limit: int, token: str | None
) -> Page[BrokerAllocation]:
    allocations, next_token = platform().catalog.list_allocations(
        caller.user_id, scope, scope_id, limit, token
    )
    return Page[BrokerAllocation](items=allocations, next_token=next_token)


def _create(
    request: Request,
    caller: Identity,
    scope: AllocationScope,
    scope_id: str,
    data: AllocationCreate,
    key: str | None,
) -> BrokerAllocation:
    return idempotent_create(
        request=request,
        caller=caller,
        key=key,
        operation=f"create{scope.value.title()}Allocation",
        target={"scope_id": scope_id},
        body=data,
        create=lambda: platform().catalog.create_allocation(caller.user_id, scope, scope_id, data),
        result_type=BrokerAllocation,
    )


def _update(
    caller: Identity, scope: AllocationScope, scope_id: str, allocation_id: str, data: AllocationUpdate
) -> BrokerAllocation:
    return platform().catalog.update_allocation(caller.user_id, scope, scope_id, allocation_id, data)


def _delete(
    caller: Identity, scope: AllocationScope, scope_id: str, allocation_id: str, version: int | None
) -> Response[None]:
    platform().catalog.delete_allocation(caller.user_id, scope, scope_id, allocation_id, version)
    return no_content()


# ---------------------------------------------------------------- strategy allocations


@route(
    router,
    "listStrategyAllocations",
    summary="A strategy's own broker allocations",
    tags=TAGS,
    responses=route_responses(HTTPStatus.OK, HTTPStatus.NOT_FOUND),
)
def list_strategy_allocations(
    caller: Caller, strategy_id: StrategyId, limit: Limit = DEFAULT_LIMIT, next_token: NextToken = None
) -> Page[BrokerAllocation]:
    return _list(caller, AllocationScope.STRATEGY, strategy_id, limit, next_token)


@route(
    router,
    "createStrategyAllocation",
    summary="Allocate lots of a strategy to a broker account",
    description=CREATE_DESCRIPTION,
    tags=TAGS,
    status_code=HTTPStatus.CREATED,
    responses=route_responses(HTTPStatus.CREATED, HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT, body=True),
)
def create_strategy_allocation(
    caller: Caller,
    request: Request,
    strategy_id: StrategyId,
    data: AllocationCreate,
    idempotency_key: IdempotencyKey = None,
) -> BrokerAllocation:
    return _create(request, caller, AllocationScope.STRATEGY, strategy_id, data, idempotency_key)


@route(
    router,
    "updateStrategyAllocation",
    summary="Update a strategy's broker allocation",
    description=UPDATE_DESCRIPTION,
    tags=TAGS,
    responses=route_responses(HTTPStatus.OK, HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT, body=True),
)
def update_strategy_allocation(
    caller: Caller, strategy_id: StrategyId, allocation_id: AllocationId, data: AllocationUpdate
) -> BrokerAllocation:
    return _update(caller, AllocationScope.STRATEGY, strategy_id, allocation_id, data)


@route(
    router,
    "deleteStrategyAllocation",
    summary="Remove a strategy's broker allocation",
    tags=TAGS,
    status_code=HTTPStatus.NO_CONTENT,
    responses=route_responses(HTTPStatus.NO_CONTENT, HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT),
)
def delete_strategy_allocation(
    caller: Caller, strategy_id: StrategyId, allocation_id: AllocationId, version: ExpectedVersion = None
) -> Response[None]:
    return _delete(caller, AllocationScope.STRATEGY, strategy_id, allocation_id, version)


# ---------------------------------------------------------------- basket default allocations


@route(
    router,
    "listBasketAllocations",
    summary="A basket's default broker allocations",
    description="Strategies without allocations of their own trade with these.",
    tags=TAGS,
    responses=route_responses(HTTPStatus.OK, HTTPStatus.NOT_FOUND),
)
def list_basket_allocations(
    caller: Caller, basket_id: BasketId, limit: Limit = DEFAULT_LIMIT, next_token: NextToken = None
) -> Page[BrokerAllocation]:
    return _list(caller, AllocationScope.BASKET, basket_id, limit, next_token)


@route(
    router,
    "createBasketAllocation",
    summary="Add a default broker allocation to a basket",
    description=CREATE_DESCRIPTION,
    tags=TAGS,
    status_code=HTTPStatus.CREATED,
    responses=route_responses(HTTPStatus.CREATED, HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT, body=True),
)
def create_basket_allocation(
    caller: Caller,
    request: Request,
    basket_id: BasketId,
    data: AllocationCreate,
    idempotency_key: IdempotencyKey = None,
) -> BrokerAllocation:
    return _create(request, caller, AllocationScope.BASKET, basket_id, data, idempotency_key)


@route(
    router,
    "updateBasketAllocation",
    summary="Update a basket's default broker allocation",
    description=UPDATE_DESCRIPTION,
    tags=TAGS,
    responses=route_responses(HTTPStatus.OK, HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT, body=True),
)
def update_basket_allocation(
    caller: Caller, basket_id: BasketId, allocation_id: AllocationId, data: AllocationUpdate
) -> BrokerAllocation:
    return _update(caller, AllocationScope.BASKET, basket_id, allocation_id, data)


@route(
    router,
    "deleteBasketAllocation",
    summary="Remove a basket's default broker allocation",
    tags=TAGS,
    status_code=HTTPStatus.NO_CONTENT,
    responses=route_responses(HTTPStatus.NO_CONTENT, HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT),
)
def delete_basket_allocation(
    caller: Caller, basket_id: BasketId, allocation_id: AllocationId, version: ExpectedVersion = None
) -> Response[None]:
    return _delete(caller, AllocationScope.BASKET, basket_id, allocation_id, version)
