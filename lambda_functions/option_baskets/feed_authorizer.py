"""The WebSocket API's $connect authorizer: the user's Cognito ID token (`?token=`) or no
connection. A refused token gets a Deny policy (403 at connect), not a function error: a bad
token is the caller's fault and must not page anyone."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import event_source
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
    APIGatewayAuthorizerResponseWebSocket,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared_utils.composition import platform
from shared_utils.feed.authorizer import FeedTokenError

logger = Logger()


@logger.inject_lambda_context
@event_source(data_class=APIGatewayAuthorizerRequestEvent)
def handler(event: APIGatewayAuthorizerRequestEvent, context: LambdaContext) -> dict[str, Any]:
    root = platform()
    token = (event.query_string_parameters or {}).get("token")
    try:
        claims = root.feed_verifier.claims(token, root.clock.now())
    except FeedTokenError as error:
        logger.info("Feed connection refused", extra={"reason": error.message})
        policy = APIGatewayAuthorizerResponseWebSocket.from_route_arn(
            event.method_arn, principal_id="anonymous"
        )
        policy.deny_all_routes()
        return policy.asdict()
    policy = APIGatewayAuthorizerResponseWebSocket.from_route_arn(
        event.method_arn, principal_id=claims["sub"], context=claims
    )
    policy.allow_all_routes()
    return policy.asdict()
