"""Route a proxy event to the handler module the catalog names, as API Gateway does.

The local platform and the contract tests call the very handler functions that Lambda runs;
`match_route` also fills `resource` and `pathParameters` the way API Gateway would.
"""

from __future__ import annotations

import re
from functools import cache
from http import HTTPStatus
from typing import Any

from lambda_functions.option_baskets import load_handler
from shared_utils.api.catalog import API_ROUTES, PUBLIC_ROUTES, ApiRoute
from shared_utils.api.errors import ErrorBody

_PARAMETER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@cache
def _pattern(path: str) -> re.Pattern[str]:
    return re.compile("^" + _PARAMETER.sub(lambda m: f"(?P<{m.group(1)}>[^/]+)", path) + "$")


def match_route(method: str, path: str) -> tuple[ApiRoute, dict[str, str]] | None:
    """The catalog route for `method path` with its path parameters; literal segments win."""
    candidates = []
    for route in (*API_ROUTES, *PUBLIC_ROUTES):
        if route.method != method.upper():
            continue
        match = _pattern(route.path).match(path)
        if match:
            candidates.append((route.path.count("{"), route, match.groupdict()))
    if not candidates:
        return None
    _, route, parameters = min(candidates, key=lambda candidate: candidate[0])
    return route, parameters


def is_public(method: str, path: str) -> bool:
    """A route API Gateway serves without the Cognito authorizer (`PUBLIC_ROUTES`)."""
    matched = match_route(method, path)
    return matched is not None and matched[0] in PUBLIC_ROUTES


def dispatch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Invoke the function API Gateway would invoke for this event (404 body when none)."""
    matched = match_route(str(event.get("httpMethod", "")), str(event.get("path", "")))
    if matched is None:
        body = ErrorBody(code="NOT_FOUND", message="No such resource")
        return {
            "statusCode": int(HTTPStatus.NOT_FOUND),
            "headers": {"Content-Type": "application/json"},
            "body": body.model_dump_json(),
            "isBase64Encoded": False,
        }
    route, parameters = matched
    event = {**event, "resource": route.path, "pathParameters": parameters or None}
    return load_handler(route.module)(event, context)
