"""Broker accounts: list (without credentials), link, log in, complete a broker's login."""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler.api_gateway import Router

from shared_utils.accounts.linking import LinkRequest, LoginStep, SessionAnswer
from shared_utils.api.errors import route_responses
from shared_utils.api.identity import Caller
from shared_utils.api.pagination import DEFAULT_LIMIT, Limit, NextToken
from shared_utils.api.params import BrokerAccountId
from shared_utils.api.routing import route
from shared_utils.composition import platform
from shared_utils.models.broker_account import BrokerAccountView
from shared_utils.models.views import Page

router = Router()


@route(
    router,
    "listBrokerAccounts",
    summary="My broker accounts",
    description="Accounts the caller linked, each with the static IP to register with its broker; "
    "credentials are never read or returned.",
    tags=["broker-accounts"],
    responses=route_responses(HTTPStatus.OK),
)
def list_broker_accounts(
    caller: Caller, limit: Limit = DEFAULT_LIMIT, next_token: NextToken = None
) -> Page[BrokerAccountView]:
    root = platform()
    accounts, token = root.broker_accounts.list_accounts(caller.user_id, limit, next_token)
    egress = root.egress_directory
    views = []
    for account in accounts:
        found = (
            None
            if egress is None or account.paper
            else egress.for_account(caller.user_id, account.broker_account_id)
        )
        address = str(found.public_ip) if found is not None else None
        views.append(BrokerAccountView(**account.model_dump(), static_ip=address))
    return Page[BrokerAccountView](items=views, next_token=token)


@route(
    router,
    "linkBrokerAccount",
    summary="Link a broker account",
    description=(
        "Stores the app's credentials in Secrets Manager (never returned). A broker the platform "
        "logs in by itself (Angel One: client code, PIN, TOTP secret) is logged in at once: a "
        "refusal is a 422 BROKER_LOGIN_REFUSED and nothing is stored. For a broker with a login "
        "page (Zerodha) the answer carries `login_url`; the broker redirects back with a one-time "
        "token that the front end posts to `/session`. A wrong app secret is found there: the "
        "account and its secrets are then deleted."
    ),
    tags=["broker-accounts"],
    status_code=HTTPStatus.CREATED,
    responses=route_responses(HTTPStatus.CREATED, body=True),
)
def link_broker_account(caller: Caller, data: LinkRequest) -> LoginStep:
    return platform().account_linking.link(caller.user_id, data)


@route(
    router,
    "loginBrokerAccount",
    summary="Log a broker account in",
    description=(
        "Angel One: logs in now with the stored PIN and TOTP (the account turns ACTIVE). Zerodha: "
        "answers the broker's `login_url` for the user to open (valid 10 minutes, used once)."
    ),
    tags=["broker-accounts"],
    responses=route_responses(HTTPStatus.OK, HTTPStatus.NOT_FOUND),
)
def login_broker_account(caller: Caller, broker_account_id: BrokerAccountId) -> LoginStep:
    return platform().account_linking.start_login(caller.user_id, broker_account_id)


@route(
    router,
    "completeBrokerLogin",
    summary="Complete a broker login with the redirect's one-time token",
    description=(
        "The broker's redirect query (`state`, and Kite's `request_token` or an OAuth `code`), "
        "passed on by the front end. The token is exchanged with the stored app secret; the "
        "session is stored with its expiry and the account turns ACTIVE."
    ),
    tags=["broker-accounts"],
    responses=route_responses(HTTPStatus.OK, HTTPStatus.NOT_FOUND, body=True),
)
def complete_broker_login(
    caller: Caller, broker_account_id: BrokerAccountId, data: SessionAnswer
) -> LoginStep:
    return platform().account_linking.complete_login(caller.user_id, broker_account_id, data)
