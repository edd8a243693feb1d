"""Baskets: /options/baskets and /options/baskets/{basket_id}."""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Request, Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from shared_utils.api.errors import no_content, route_responses
from shared_utils.api.idempotency import IdempotencyKey, idempotent_create
from shared_utils.api.identity import Caller
from shared_utils.api.pagination import DEFAULT_LIMIT, Limit, NextToken
from shared_utils.api.params import BasketId, ClosePositions, ExpectedVersion
from shared_utils.api.routing import route
from shared_utils.composition import platform
from shared_utils.models.basket import Basket, BasketCreate, BasketUpdate
from shared_utils.models.views import BasketDetail, Page

router = Router()
TAGS = ["baskets"]


@route(
    router,
    "listBaskets",
    summary="My baskets",
    tags=TAGS,
    responses=route_responses(HTTPStatus.OK),
)
def list_baskets(caller: Caller, limit: Limit = DEFAULT_LIMIT, next_token: NextToken = None) -> Page[Basket]:
    baskets, token = platform().catalog.list_baskets(caller.user_id, limit, next_token)
    return Page[Basket](items=baskets, next_token=token)


@route(
    router,
    "createBasket",
    summary="Create a basket",
    tags=TAGS,
    status_code=HTTPStatus.CREATED,
    responses=route_responses(HTTPStatus.CREATED, HTTPStatus.CONFLICT, body=True),
)
def create_basket(
    caller: Caller, request: Request, data: BasketCreate, idempotency_key: IdempotencyKey = None
) -> Basket:
    return idempotent_create(
        request=request,
        caller=caller,
        key=idempotency_key,
        operation="createBasket",
        target={},
        body=data,
        create=lambda: platform().catalog.create_basket(caller.user_id, data),
        result_type=Basket,
    )


@route(
    router,
    "getBasket",
    summary="A basket with its strategies and default broker allocations",
    tags=TAGS,
    responses=route_responses(HTTPStatus.OK, HTTPStatus.NOT_FOUND),
)
def get_basket(caller: Caller, basket_id: BasketId) -> BasketDetail:
    return platform().catalog.basket(caller.user_id, basket_id)


@route(
    router,
    "updateBasket",
    summary="Update a basket",
    description="Only the fields given change; `version` must be the current one (409 otherwise).",
    tags=TAGS,
    responses=route_responses(HTTPStatus.OK, HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT, body=True),
)
def update_basket(caller: Caller, basket_id: BasketId, data: BasketUpdate) -> Basket:
    return platform().catalog.update_basket(caller.user_id, basket_id, data)


@route(
    router,
    "deleteBasket",
    summary="Delete a basket with its strategies and broker allocations",
    description="409 OPEN_POSITIONS while a strategy holds positions; `close_positions=true` closes them "
    "first.",
    tags=TAGS,
    status_code=HTTPStatus.NO_CONTENT,
    responses=route_responses(HTTPStatus.NO_CONTENT, HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT),
)
def delete_basket(
    caller: Caller,
    basket_id: BasketId,
    version: ExpectedVersion = None,
    close_positions: ClosePositions = False,
) -> Response[None]:
    platform().catalog.delete_basket(caller.user_id, basket_id, version, close_positions=close_positions)
    return no_content()
