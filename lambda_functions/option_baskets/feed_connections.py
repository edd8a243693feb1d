"""The WebSocket API's $connect and $disconnect routes: keep the connections table true.

The authorizer has checked the token; its context (`sub`) names the user on every route of the
connection, so a connection is stored, and removed, under its own user only.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared_utils.composition import platform

logger = Logger()


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = event.get("requestContext") or {}
    route, connection_id = request.get("routeKey"), request.get("connectionId")
    user_id = (request.get("authorizer") or {}).get("sub")
    if not connection_id or not user_id:
        logger.warning("Feed route without a connection or a user", extra={"route": route})
        return {"statusCode": 401}
    root = platform()
    if route == "$connect":
        root.feed_connections.add(user_id, connection_id, root.clock.now())
    elif route == "$disconnect":
        root.feed_connections.remove(user_id, connection_id)
    else:  # the console sends nothing; any other frame is ignored
        return {"statusCode": 400}
    logger.info("Feed connection", extra={"route": route, "connection_id": connection_id})
    return {"statusCode": 200}
