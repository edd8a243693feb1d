"""The public endpoint `POST /signals/{token}` (no Cognito authorizer: the URL's token is the
credential), as a Powertools resolver of its own.

Not the API's `JsonApiResolver`: TradingView posts a message that is not valid JSON as
`text/plain`, and the answer to it must be the endpoint's 400 with its code, not a 415 or 401.
The decision is `signals.receiver.SignalReceiver`'s; here the request is read (the raw body, as
sent) and the answer rendered. Anything unknown, and every refusal that must reveal nothing, is
the same plain 404 body the API gives a path it does not serve.
"""

from __future__ import annotations

import base64
import binascii
from http import HTTPStatus

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

from shared_utils.api.catalog import PUBLIC_ROUTES, SIGNAL_WEBHOOK
from shared_utils.api.errors import ErrorBody, handle_unexpected
from shared_utils.api.routing import resolver_path
from shared_utils.composition import platform
from shared_utils.signals.receiver import NOT_FOUND_ANSWER, SignalAnswer, SignalRequest

(SIGNAL_ROUTE,) = (route for route in PUBLIC_ROUTES if route.module == SIGNAL_WEBHOOK)
NOT_FOUND_BODY = ErrorBody(code="NOT_FOUND", message="No such resource").model_dump_json()

app = APIGatewayRestResolver()


@app.route(resolver_path(SIGNAL_ROUTE.path), method=SIGNAL_ROUTE.method)
def receive_signal(token: str) -> Response[str]:
    event = app.current_event
    answer = (
        platform()
        .signal_receiver()
        .receive(
            SignalRequest(
                token=token, body=_raw_body(event.body, bool(event.is_base64_encoded)), source_ip=_source_ip()
            )
        )
    )
    return render(answer)


@app.not_found
def unknown(_error: NotFoundError) -> Response[str]:
    return render(NOT_FOUND_ANSWER)


app.exception_handler(Exception)(handle_unexpected)


def render(answer: SignalAnswer) -> Response[str]:
    if answer.receipt is None:
        return Response(
            status_code=int(HTTPStatus.NOT_FOUND),
            content_type=content_types.APPLICATION_JSON,
            body=NOT_FOUND_BODY,
        )
    headers = {"Retry-After": str(answer.retry_after_s)} if answer.retry_after_s is not None else None
    return Response(
        status_code=int(answer.status),
        content_type=content_types.APPLICATION_JSON,
        body=answer.receipt.model_dump_json(exclude_none=True),
        headers=headers,
    )


def _raw_body(body: str | None, is_base64: bool) -> bytes:
    """The bytes the sender posted (a body API Gateway passed as base64 decoded back)."""
    if not body:
        return b""
    if not is_base64:
        return body.encode("utf-8")
    try:
        return base64.b64decode(body, validate=True)
    except binascii.Error:
        return b""


def _source_ip() -> str | None:
    identity = (app.current_event.raw_event.get("requestContext") or {}).get("identity") or {}
    source_ip = identity.get("sourceIp") if isinstance(identity, dict) else None
    return str(source_ip) if source_ip else None
