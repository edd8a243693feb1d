"""Kill switch: POST squares off and pauses everything, GET shows it, DELETE re-arms trading.

`scope=ALL` acts on every user and needs the caller to be in the Cognito `Admins` group.
"""

from __future__ import annotations

from enum import StrEnum
from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from shared_utils.api.errors import route_responses
from shared_utils.api.identity import ADMINS_GROUP, Caller, Identity
from shared_utils.api.routing import route
from shared_utils.composition import platform
from shared_utils.errors import ForbiddenError
from shared_utils.execution.models import KillSwitchReport, KillSwitchState, KillSwitchStatus

router = Router()
TAGS = ["kill-switch"]


class Scope(StrEnum):
    USER = "USER"
    ALL = "ALL"


ScopeParam = Annotated[Scope, Query(description="USER (default): my trading; ALL: every user (Admins only)")]


def _require_admin(caller: Identity, scope: Scope) -> None:
    if scope is Scope.ALL and not caller.is_admin:
        raise ForbiddenError(f"scope ALL needs the {ADMINS_GROUP} group")


def _status(caller: Identity) -> KillSwitchStatus:
    kill_switch = platform().kill_switch()
    switch, global_switch = kill_switch.state(caller.user_id)
    return KillSwitchStatus(
        switch=switch,
        global_switch=global_switch,
        entries_allowed=switch.state is KillSwitchState.ARMED
        and global_switch.state is KillSwitchState.ARMED,
        operation=kill_switch.progress(caller.user_id),
        global_operation=kill_switch.progress(None) if caller.is_admin else None,
    )


@route(
    router,
    "pressKillSwitch",
    summary="Stop trading: square off every open position and pause every strategy",
    description=(
        "Answers 202 at once: the switch is set (no entry order is placed after it) and the "
        "square-off runs user by user, strategy by strategy. GET shows its progress (users done, "
        "orders sent, positions left) until `flat`. Idempotent: pressing again places no extra "
        "order (it only completes a square-off a broker failure left unfinished). No new entries "
        "until the switch is re-armed with DELETE."
    ),
    tags=TAGS,
    status_code=HTTPStatus.ACCEPTED,
    responses=route_responses(HTTPStatus.ACCEPTED, HTTPStatus.FORBIDDEN, HTTPStatus.SERVICE_UNAVAILABLE),
)
def press_kill_switch(caller: Caller, scope: ScopeParam = Scope.USER) -> KillSwitchReport:
    _require_admin(caller, scope)
    switch = platform().kill_switch()
    if scope is Scope.ALL:
        return switch.press_global(caller.user_id)
    return switch.press(caller.user_id, caller.user_id)


@route(
    router,
    "getKillSwitch",
    summary="Kill switch state (mine and the platform-wide one)",
    tags=TAGS,
    responses=route_responses(HTTPStatus.OK),
)
def get_kill_switch(caller: Caller) -> KillSwitchStatus:
    return _status(caller)


@route(
    router,
    "rearmKillSwitch",
    summary="Re-arm trading (paused strategies stay paused until resumed)",
    tags=TAGS,
    responses=route_responses(HTTPStatus.OK, HTTPStatus.FORBIDDEN),
)
def rearm_kill_switch(caller: Caller, scope: ScopeParam = Scope.USER) -> KillSwitchStatus:
    _require_admin(caller, scope)
    platform().kill_switch().rearm(None if scope is Scope.ALL else caller.user_id)
    return _status(caller)
