"""The resolver factory every API handler module uses, and the shared observability objects.

`build_resolver(*routers)` returns a Powertools `APIGatewayRestResolver` with request/response
validation on (which also yields the OpenAPI schema) and the API's one error mapping.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared_utils.api.errors import register_error_handlers, unsupported_media_type
from shared_utils.settings import load_settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()

HandlerT = TypeVar("HandlerT", bound=Callable[..., Any])


def _share_lambda_context(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """Expose the Lambda context to routes (`Request.context`): idempotency reads its deadline."""
    app.append_context(lambda_context=app.lambda_context)
    return next_middleware(app)


class JsonApiResolver(APIGatewayRestResolver):
    """Bodies are JSON only: another content type is a 415 before any parsing (Powertools would
    otherwise try form and multipart decoders on it)."""

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        if event.get("body") and not _is_json(_content_type(event)):
            response = unsupported_media_type()
            return {
                "statusCode": response.status_code,
                "headers": {"Content-Type": content_types.APPLICATION_JSON},
                "multiValueHeaders": {},
                "body": response.body,
                "isBase64Encoded": False,
            }
        return super().resolve(event, context)


def _content_type(event: Mapping[str, Any]) -> str:
    for name, value in (event.get("headers") or {}).items():
        if str(name).lower() == "content-type":
            return str(value)
    return ""


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type in {"", content_types.APPLICATION_JSON}


def build_resolver(*routers: Router) -> APIGatewayRestResolver:
    app = JsonApiResolver(enable_validation=True)
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
