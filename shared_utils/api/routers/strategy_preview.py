"""POST /options/strategy-preview: a strategy draft priced on the market now; nothing is stored."""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler.api_gateway import Router

from shared_utils.api.errors import route_responses
from shared_utils.api.identity import Caller
from shared_utils.api.routing import route
from shared_utils.catalog.preview_models import StrategyPreview
from shared_utils.composition import platform
from shared_utils.models.strategy import StrategyCreate

router = Router()


@route(
    router,
    "previewStrategy",
    summary="Preview a strategy draft: its contracts, payoff at expiry and Greeks",
    description="The body is a strategy as `createStrategy` takes it. Its legs resolve to the "
    "contracts an entry would trade now (the same expiry, lot and strike rules, on the same "
    "market), priced at their current prices; nothing is stored. A draft that saving would refuse "
    "is a 422 naming the field; a price missing or older than the platform's bound is a 503 "
    "(`NO_FRESH_QUOTE`, or `MARKET_DATA_UNAVAILABLE` when the market cannot resolve a leg), never "
    "a modelled price.",
    tags=["strategies"],
    responses=route_responses(HTTPStatus.OK, HTTPStatus.SERVICE_UNAVAILABLE, body=True),
)
def preview_strategy(caller: Caller, data: StrategyCreate) -> StrategyPreview:
    return platform().strategy_previewer.preview(caller.user_id, data)
