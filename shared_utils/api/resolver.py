"""The resolver factory every API handler module uses, and the shared observability objects.

`build_resolver(*routers)` returns a Powertools `APIGatewayRestResolver` with request/response
validation on (which also yields the OpenAPI schema) and the API's one error mapping.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.shared.types import AnyCallableT
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared_utils.api.errors import (
    handle_domain_error,
    malformed_json,
    register_error_handlers,
    unsupported_media_type,
)
from shared_utils.api.identity import identity_of
from shared_utils.errors import DomainError
from shared_utils.settings import load_settings

HandlerT = TypeVar("HandlerT", bound=Callable[..., Any])


class RequestMetrics(Metrics):
    """Metrics of an API request: what its services counted (a broker's credentials missing ...)
    is published when the handler returns. Most requests count nothing, and API Gateway already
    counts every method's requests, errors and latency, so an empty set publishes nothing and,
    unlike Powertools' `log_metrics` (written for handlers that always count), warns of nothing."""

    def log_metrics(
        self,
        lambda_handler: AnyCallableT | None = None,
        capture_cold_start_metric: bool = False,
        raise_on_empty_metrics: bool = False,
        default_dimensions: dict[str, str] | None = None,
        **kwargs: dict[str, Any],
    ) -> Callable[..., Any]:
        options = capture_cold_start_metric or raise_on_empty_metrics or default_dimensions or kwargs
        if lambda_handler is None or options:  # Powertools' decorator does what they ask
            return super().log_metrics(
                lambda_handler,
                capture_cold_start_metric,
                raise_on_empty_metrics,
                default_dimensions,
                **kwargs,
            )
        handler: Callable[..., Any] = lambda_handler

        @wraps(handler)
        def publish_what_was_counted(event: Any, context: Any, *args: Any, **kw: Any) -> Any:
            try:
                return handler(event, context, *args, **kw)
            finally:
                if self.metric_set:
                    self.flush_metrics()

        return publish_what_was_counted


logger = Logger()
metrics = RequestMetrics()


def _share_lambda_context(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """Expose the Lambda context to routes (`Request.context`): idempotency reads its deadline."""
    app.append_context(lambda_context=app.lambda_context)
    return next_middleware(app)


class JsonApiResolver(APIGatewayRestResolver):
    """Checks what API Gateway's authorizer and a JSON API check before any parsing: no caller
    identity is a 401, and a body that is not JSON is a 415 (Powertools would otherwise try
    its form and multipart decoders on it)."""

    def __init__(self, *, public_paths: frozenset[str] = frozenset()) -> None:
        super().__init__(enable_validation=True)
        self._public_paths = public_paths

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        return _allow_origin(event, self._checked(event, context), load_settings().allowed_origins)

    def _checked(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        if event.get("path") not in self._public_paths:
            try:
                identity_of(APIGatewayProxyEvent(dict(event)))
            except DomainError as error:
                return _proxy_response(handle_domain_error(error))
        if event.get("body"):
            if not _is_json(_content_type(event)):
                return _proxy_response(unsupported_media_type())
            if not _is_text(event):
                return _proxy_response(malformed_json())
        return super().resolve(event, context)


def _allow_origin(
    event: Mapping[str, Any], response: dict[str, Any], allowed: frozenset[str]
) -> dict[str, Any]:
    """Every response (errors too) to a request from one of the web app's origins names that
    origin, or the browser hides it from the app; a response depending on Origin says so."""
    origin = _header(event, "origin")
    if origin and origin in allowed:
        headers = response.get("multiValueHeaders") or {}
        if headers:
            headers["Access-Control-Allow-Origin"] = [origin]
            headers["Vary"] = [*headers.get("Vary", []), "Origin"]
        else:
            response["headers"] = {**(response.get("headers") or {}), "Access-Control-Allow-Origin": origin}
            response["headers"]["Vary"] = "Origin"
    return response


def _header(event: Mapping[str, Any], wanted: str) -> str:
    for name, value in (event.get("headers") or {}).items():
        if str(name).lower() == wanted:
            return str(value)
    return ""


def _proxy_response(response: Response[str]) -> dict[str, Any]:
    return {
        "statusCode": response.status_code,
        "headers": {"Content-Type": content_types.APPLICATION_JSON, **response.headers},
        "multiValueHeaders": {},
        "body": response.body,
        "isBase64Encoded": False,
    }


def _is_text(event: Mapping[str, Any]) -> bool:
    """A base64 body (binary passthrough) must at least decode to UTF-8 text to be JSON."""
    if not event.get("isBase64Encoded"):
        return True
    try:
        base64.b64decode(str(event["body"]), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return True


def _content_type(event: Mapping[str, Any]) -> str:
    return _header(event, "content-type")


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type in {"", content_types.APPLICATION_JSON}


def build_resolver(*routers: Router, public_paths: frozenset[str] = frozenset()) -> APIGatewayRestResolver:
    """`public_paths` skip the identity check (the local platform's Swagger UI only)."""
    app = JsonApiResolver(public_paths=public_paths)
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
