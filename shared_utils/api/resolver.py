"""The resolver factory every API handler module uses, and the shared observability objects.

`build_resolver(*routers)` returns a Powertools `APIGatewayRestResolver` with request/response
validation on (which also yields the OpenAPI schema) and the API's one error mapping.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from shared_utils.api.errors import register_error_handlers
from shared_utils.settings import load_settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()

HandlerT = TypeVar("HandlerT", bound=Callable[..., Any])


def _share_lambda_context(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """Expose the Lambda context to routes (`Request.context`): idempotency reads its deadline."""
    app.append_context(lambda_context=app.lambda_context)
    return next_middleware(app)


def build_resolver(*routers: Router) -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(enable_validation=True)
    register_error_handlers(app)
    app.use(middlewares=[_share_lambda_context])
    for router in routers:
        app.include_router(router)
    return app


def validate_environment(handler: HandlerT) -> HandlerT:
    """Outermost decorator: a missing or invalid setting fails the invocation before any work."""

    @wraps(handler)
    def wrapper(event: dict[str, Any], context: Any) -> Any:
        load_settings()
        return handler(event, context)

    return wrapper  # type: ignore[return-value]
