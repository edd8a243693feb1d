"""Route a proxy event to the handler module the catalog names, as API Gateway does.

The local platform and the contract tests call the very handler functions that Lambda runs;
`match_route` also fills `resource` and `pathParameters` the way API Gateway would.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from functools import cache
from http import HTTPStatus
from typing import Any

from shared_utils.api.catalog import API_ROUTES, ApiRoute

HANDLER_PACKAGE = "lambda_functions.option_baskets"
LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]
_PARAMETER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@cache
def _pattern(path: str) -> re.Pattern[str]:
    return re.compile("^" + _PARAMETER.sub(lambda m: f"(?P<{m.group(1)}>[^/]+)", path) + "$")


def match_route(method: str, path: str) -> tuple[ApiRoute, dict[str, str]] | None:
    """The catalog route for `method path` with its path parameters; literal segments win."""
    candidates = []
    for route in API_ROUTES:
        if route.method != method.upper():
            continue
        match = _pattern(route.path).match(path)
        if match:
            candidates.append((route.path.count("{"), route, match.groupdict()))
    if not candidates:
        return None
    _, route, parameters = min(candidates, key=lambda candidate: candidate[0])
    return route, parameters


def module_handler(module: str) -> LambdaHandler:
    handler: LambdaHandler = importlib.import_module(f"{HANDLER_PACKAGE}.{module}").handler
    return handler


def dispatch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Invoke the function API Gateway would invoke for this event (404 body when none)."""
    matched = match_route(str(event.get("httpMethod", "")), str(event.get("path", "")))
    if matched is None:
        from shared_utils.api.errors import ErrorBody

        body = ErrorBody(code="NOT_FOUND", message="No such resource")
        return {
            "statusCode": int(HTTPStatus.NOT_FOUND),
            "headers": {"Content-Type": "application/json"},
            "body": body.model_dump_json(),
            "isBase64Encoded": False,
        }
    route, parameters = matched
    event = {**event, "resource": route.path, "pathParameters": parameters or None}
    return module_handler(route.module)(event, context)
