"""The user's portfolio rules: GET and PUT /options/risk-settings (a basket's are on the basket)."""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler.api_gateway import Router

from shared_utils.api.errors import route_responses
from shared_utils.api.identity import Caller
from shared_utils.api.routing import route
from shared_utils.clock import to_ist
from shared_utils.composition import platform
from shared_utils.execution.portfolio import RiskSettingsView
from shared_utils.models.risk import RiskSettings, RiskSettingsUpdate

router = Router()
TAGS = ["risk-settings"]


@route(
    router,
    "getRiskSettings",
    summary="My portfolio rules, with today's portfolio peaks and exits",
    description=(
        "The MTM stop-loss, target and trailing stop across all of my strategies of the day (version 0: "
        "never set), and today's portfolio scopes (mine and my baskets') that stored a trailing peak or "
        "an exit: its reason, the MTM it fired at, the minute, and when its exits were queued."
    ),
    tags=TAGS,
    responses=route_responses(HTTPStatus.OK),
)
def get_risk_settings(caller: Caller) -> RiskSettingsView:
    root = platform()
    settings = root.trading_repository.get_risk_settings(caller.user_id)
    today = to_ist(root.clock.now()).date()
    return RiskSettingsView(
        **dict(settings), trade_date=today, today=root.execution_store.portfolio_day(caller.user_id, today)
    )


@route(
    router,
    "updateRiskSettings",
    summary="Set my portfolio rules",
    description=(
        "Replaces the rules (an empty `risk` removes them); `version` must be the current one (0 before "
        "the first PUT; 409 otherwise). Judged from the next minute: when one is hit, every strategy goes "
        "flat and enters no more that day."
    ),
    tags=TAGS,
    responses=route_responses(HTTPStatus.OK, HTTPStatus.CONFLICT, body=True),
)
def update_risk_settings(caller: Caller, data: RiskSettingsUpdate) -> RiskSettings:
    return platform().trading_repository.put_risk_settings(caller.user_id, data)
