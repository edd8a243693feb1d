"""GET /options/broker-accounts: the caller's broker accounts, without credentials."""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler.api_gateway import Router

from shared_utils.api import dependencies
from shared_utils.api.errors import route_responses
from shared_utils.api.identity import Caller
from shared_utils.models.broker_account import BrokerAccount
from shared_utils.models.views import Page

router = Router()


@router.get(
    "/options/broker-accounts",
    summary="My broker accounts",
    description="Accounts the caller linked (credentials are never returned).",
    tags=["broker-accounts"],
    operation_id="listBrokerAccounts",
    responses=route_responses(HTTPStatus.OK),
)
def list_broker_accounts(caller: Caller) -> Page[BrokerAccount]:
    accounts = dependencies.broker_account_reader().list_for(caller.user_id)
    return Page[BrokerAccount](items=sorted(accounts, key=lambda account: account.broker_account_id))
