"""GET /options/strategy-templates: common structures (iron condor, straddle ...) as ready-to-post legs."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from shared_utils.api.errors import route_responses
from shared_utils.api.identity import Caller
from shared_utils.api.routing import route
from shared_utils.models.strategy import ExpirySelection
from shared_utils.models.views import Page
from shared_utils.templates import StrategyTemplate, all_templates

router = Router()


@route(
    router,
    "listStrategyTemplates",
    summary="Strategy templates",
    description="Each template's `legs` can be posted as the legs of a new strategy.",
    tags=["strategy-templates"],
    responses=route_responses(HTTPStatus.OK),
)
def list_strategy_templates(
    caller: Caller,
    expiry: Annotated[
        ExpirySelection, Query(description="Expiry the legs trade")
    ] = ExpirySelection.CURRENT_WEEKLY,
) -> Page[StrategyTemplate]:
    return Page[StrategyTemplate](items=all_templates(expiry))
