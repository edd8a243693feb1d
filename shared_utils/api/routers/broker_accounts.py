"""GET /options/broker-accounts: the caller's broker accounts, without credentials."""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler.api_gateway import Router

from shared_utils.api.errors import route_responses
from shared_utils.api.identity import Caller
from shared_utils.api.pagination import DEFAULT_LIMIT, Limit, NextToken
from shared_utils.composition import platform
from shared_utils.models.broker_account import BrokerAccount
from shared_utils.models.views import Page

router = Router()


@router.get(
    "/options/broker-accounts",
    summary="My broker accounts",
    description="Accounts the caller linked; credentials are never read or returned.",
    tags=["broker-accounts"],
    operation_id="listBrokerAccounts",
    responses=route_responses(HTTPStatus.OK),
)
def list_broker_accounts(
    caller: Caller, limit: Limit = DEFAULT_LIMIT, next_token: NextToken = None
) -> Page[BrokerAccount]:
    accounts, token = platform().broker_accounts.list_accounts(caller.user_id, limit, next_token)
    return Page[BrokerAccount](items=accounts, next_token=token)
