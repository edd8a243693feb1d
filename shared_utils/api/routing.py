"""Registering a handler on a router by its catalog operation: the method and the path come from
`api.catalog`, the one place an API path is written."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Router

from shared_utils.api.catalog import ROUTES_BY_OPERATION

_PARAMETER = re.compile(r"\{(\w+)\}")


def resolver_path(path: str) -> str:
    """The catalog's `{name}` parameters in the resolver's `<name>` form."""
    return _PARAMETER.sub(r"<\1>", path)


def route(
    router: Router, operation: str, **options: Any
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`router.<method>(<path>, operation_id=operation, **options)` for the catalog's route."""
    api_route = ROUTES_BY_OPERATION[operation]
    register = getattr(router, api_route.method.lower())
    decorator: Callable[[Callable[..., Any]], Callable[..., Any]] = register(
        resolver_path(api_route.path), operation_id=operation, **options
    )
    return decorator
