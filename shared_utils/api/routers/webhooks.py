"""Signal webhooks: my endpoints for chart alerts (TradingView, Chartink), each bound to one of
my strategies and one action, and the signals each received (docs/signals.md).

The URL (`/signals/{token}`) is in the answers of create and rotate only: it is stored hashed.
These two take no `Idempotency-Key` on purpose: a stored first answer would keep the URL in the
clear for a day (a retried create makes a second webhook, which can be deleted)."""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from shared_utils.api.errors import no_content, route_responses
from shared_utils.api.identity import Caller
from shared_utils.api.pagination import DEFAULT_LIMIT, Limit, NextToken
from shared_utils.api.params import WebhookId
from shared_utils.api.routing import route
from shared_utils.composition import platform
from shared_utils.models.views import Page
from shared_utils.signals.models import SignalRecord, Webhook, WebhookCreate, WebhookWithUrl

router = Router()
TAGS = ["webhooks"]


@route(
    router,
    "createWebhook",
    summary="Create a signal webhook for one of my strategies: its URL is shown this once",
    description=(
        "A chart alert POSTed to `url_path` (after the API's base URL; no Authorization header) "
        "ENTERs, EXITs or EXIT_LEGs (`leg_no`) the strategy through the same execution path as its "
        "schedule. `format` TRADINGVIEW reads the alert's message as JSON, CHARTINK Chartink's own "
        "body; `signal_id_field`, `secret_field` and `match` name the body fields the webhook reads. "
        "The strategy must be mine (404 otherwise) and `leg_no` one of its legs (422 naming "
        "`leg_no`). No `Idempotency-Key`: the answer holds the URL, which is never stored in the clear."
    ),
    tags=TAGS,
    status_code=HTTPStatus.CREATED,
    responses=route_responses(HTTPStatus.CREATED, HTTPStatus.NOT_FOUND, body=True),
)
def create_webhook(caller: Caller, data: WebhookCreate) -> WebhookWithUrl:
    return platform().webhooks().create(caller.user_id, data)


@route(
    router,
    "listWebhooks",
    summary="My signal webhooks (never their URLs: a hint of each)",
    tags=TAGS,
    responses=route_responses(HTTPStatus.OK),
)
def list_webhooks(
    caller: Caller, limit: Limit = DEFAULT_LIMIT, next_token: NextToken = None
) -> Page[Webhook]:
    return platform().webhooks().list_webhooks(caller.user_id, limit, next_token)


@route(
    router,
    "deleteWebhook",
    summary="Delete a signal webhook: its URL answers 404 from now on",
    description="Its signals are no longer listed (their records expire within 30 days).",
    tags=TAGS,
    status_code=HTTPStatus.NO_CONTENT,
    responses=route_responses(HTTPStatus.NO_CONTENT, HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT),
)
def delete_webhook(caller: Caller, webhook_id: WebhookId) -> Response[None]:
    platform().webhooks().delete(caller.user_id, webhook_id)
    return no_content()


@route(
    router,
    "rotateWebhookToken",
    summary="Give a signal webhook a new URL (shown this once); the old one answers 404 at once",
    tags=TAGS,
    responses=route_responses(HTTPStatus.OK, HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT),
)
def rotate_webhook_token(caller: Caller, webhook_id: WebhookId) -> WebhookWithUrl:
    return platform().webhooks().rotate(caller.user_id, webhook_id)


@route(
    router,
    "listWebhookSignals",
    summary="The signals a webhook of mine received, newest first, with what each caused",
    description=(
        "Every request on the webhook's URL, kept 30 days: `status` QUEUED (the run `run_name`, whose "
        "execution record shows the orders), REFUSED (`reason`: the strategy paused or gone, outside "
        "the session, a malformed body, a wrong secret, a `match` value), REPLAYED (the same signal "
        "within 10 minutes: ignored) or RATE_LIMITED; `http_status` is what the sender was answered "
        "and `summary` the body fields used (never the secret)."
    ),
    tags=TAGS,
    responses=route_responses(HTTPStatus.OK, HTTPStatus.NOT_FOUND),
)
def list_webhook_signals(
    caller: Caller, webhook_id: WebhookId, limit: Limit = DEFAULT_LIMIT, next_token: NextToken = None
) -> Page[SignalRecord]:
    return platform().webhooks().signals(caller.user_id, webhook_id, limit, next_token)
