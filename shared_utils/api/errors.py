"""The API's one error model and the ONE place where exceptions become HTTP responses.

Every error body is `{"code", "message", "details": [{"field", "issue"}]}`. Domain errors keep
their stable `code`; request validation (Powertools' `RequestValidationError`) uses the same
body; anything unexpected is logged and answered with a generic 500 that reveals nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from botocore.exceptions import ClientError
from pydantic import BaseModel, Field

from shared_utils.errors import (
    BadRequestError,
    ConfigurationError,
    ConflictError,
    DomainError,
    FieldIssue,
    ForbiddenError,
    InvalidInputError,
    MarketDataUnavailableError,
    NotFoundError,
    RunsNotQueuedError,
)

logger = Logger(service="options-api")


class ErrorDetail(BaseModel):
    field: str = Field(description="Where the problem is: a body path (`legs.6.lots`) or a parameter")
    issue: str


class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. NOT_FOUND, VERSION_CONFLICT")
    message: str
    details: list[ErrorDetail] = Field(default_factory=list)


class UnauthenticatedError(DomainError):
    """The request carries no usable identity (no authorizer claims or no `sub`)."""

    def __init__(self, message: str = "Authentication required") -> None:
        super().__init__(message=message, code="UNAUTHORIZED")


class IdempotencyKeyReusedError(DomainError):
    def __init__(self) -> None:
        super().__init__(
            message="This Idempotency-Key was already used with a different request",
            details=[FieldIssue("Idempotency-Key", "reused with a different body or target")],
            code="IDEMPOTENCY_KEY_REUSED",
        )


class IdempotencyInProgressError(DomainError):
    def __init__(self) -> None:
        super().__init__(
            message="A request with this Idempotency-Key is still being processed; retry later",
            details=[FieldIssue("Idempotency-Key", "request in progress")],
            code="IDEMPOTENCY_IN_PROGRESS",
        )


class ThrottledError(DomainError):
    def __init__(self, message: str = "Too many requests; retry later") -> None:
        super().__init__(message=message, code="THROTTLED")


# Most specific first: the first matching class decides the status.
_DOMAIN_STATUS: tuple[tuple[type[DomainError], HTTPStatus], ...] = (
    (UnauthenticatedError, HTTPStatus.UNAUTHORIZED),
    (ThrottledError, HTTPStatus.TOO_MANY_REQUESTS),
    (IdempotencyKeyReusedError, HTTPStatus.UNPROCESSABLE_ENTITY),
    (IdempotencyInProgressError, HTTPStatus.CONFLICT),
    (NotFoundError, HTTPStatus.NOT_FOUND),
    (ConflictError, HTTPStatus.CONFLICT),
    (InvalidInputError, HTTPStatus.UNPROCESSABLE_ENTITY),
    (BadRequestError, HTTPStatus.BAD_REQUEST),
    (ForbiddenError, HTTPStatus.FORBIDDEN),
    (MarketDataUnavailableError, HTTPStatus.SERVICE_UNAVAILABLE),
    (RunsNotQueuedError, HTTPStatus.SERVICE_UNAVAILABLE),
)

THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
    }
)

RETRY_AFTER_SECONDS = "1"

# Error responses documented on every route (the OpenAPI `responses` of the routers).
COMMON_ERRORS: tuple[HTTPStatus, ...] = (
    HTTPStatus.BAD_REQUEST,
    HTTPStatus.UNAUTHORIZED,
    HTTPStatus.UNPROCESSABLE_ENTITY,
    HTTPStatus.TOO_MANY_REQUESTS,
    HTTPStatus.INTERNAL_SERVER_ERROR,
)


def route_responses(
    success: HTTPStatus, *errors: HTTPStatus, body: bool = False, description: str = ""
) -> dict[int, Any]:
    """OpenAPI `responses` of a route: the success status (its schema is the route's return
    type) plus the common errors and `errors` (404, 409 ...), all with the error model.
    Routes that take a JSON `body` also answer 415 to another content type."""
    if body:
        errors = (*errors, HTTPStatus.UNSUPPORTED_MEDIA_TYPE)
    responses: dict[int, Any] = {int(success): {"description": description or success.phrase}}
    if success == HTTPStatus.NO_CONTENT:
        responses[int(success)]["content"] = {}
    for status in sorted({*COMMON_ERRORS, *errors}):
        responses[int(status)] = {
            "description": status.phrase,
            "content": {"application/json": {"model": ErrorBody}},
        }
    return responses


def error_response(
    status: HTTPStatus,
    code: str,
    message: str,
    details: Sequence[ErrorDetail] = (),
    headers: dict[str, str] | None = None,
) -> Response[str]:
    body = ErrorBody(code=code, message=message, details=list(details))
    return Response(
        status_code=int(status),
        content_type=content_types.APPLICATION_JSON,
        body=body.model_dump_json(),
        headers=headers,
    )


def no_content() -> Response[None]:
    """204: the body must be empty (not `null`)."""
    return Response(status_code=int(HTTPStatus.NO_CONTENT), body=None)


def status_of(error: DomainError) -> HTTPStatus:
    for cls, status in _DOMAIN_STATUS:
        if isinstance(error, cls):
            return status
    return HTTPStatus.BAD_REQUEST


def _details(issues: Sequence[FieldIssue]) -> list[ErrorDetail]:
    return [ErrorDetail(field=issue.field, issue=issue.issue) for issue in issues]


def _field_of(loc: Sequence[Any]) -> str:
    """`("body", "legs", 6, "lots")` -> `legs.6.lots`; `("query", "limit")` -> `limit`."""
    parts = [str(part) for part in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


def handle_domain_error(error: DomainError) -> Response[str]:
    if isinstance(error, ConfigurationError):
        return handle_unexpected(error)
    retry_later = isinstance(error, ThrottledError | IdempotencyInProgressError | RunsNotQueuedError)
    headers = {"Retry-After": RETRY_AFTER_SECONDS} if retry_later else None
    return error_response(status_of(error), error.code, error.message, _details(error.details), headers)


def handle_request_validation(error: RequestValidationError) -> Response[str]:
    errors = error.errors()
    if any(item.get("type") == "json_invalid" for item in errors):
        return malformed_json()
    details = [
        ErrorDetail(field=_field_of(item.get("loc", ())), issue=str(item.get("msg", item.get("type"))))
        for item in errors
    ]
    return error_response(
        HTTPStatus.UNPROCESSABLE_ENTITY, "VALIDATION_ERROR", "The request is not valid", details
    )


def handle_unsupported_content_type(error: RequestUnsupportedContentType) -> Response[str]:
    return unsupported_media_type()


def unsupported_media_type() -> Response[str]:
    return error_response(
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
        "UNSUPPORTED_MEDIA_TYPE",
        "Send the request body as application/json",
        [ErrorDetail(field="Content-Type", issue="must be application/json")],
    )


def malformed_json() -> Response[str]:
    return error_response(
        HTTPStatus.BAD_REQUEST,
        "MALFORMED_JSON",
        "The request body is not valid JSON",
        [ErrorDetail(field="body", issue="not valid JSON")],
    )


def handle_client_error(error: ClientError) -> Response[str]:
    if error.response.get("Error", {}).get("Code") in THROTTLING_CODES:
        return handle_domain_error(ThrottledError())
    return handle_unexpected(error)


def handle_service_error(error: ServiceError) -> Response[str]:
    """Powertools' own HTTP errors (route not found, ...) in the API's error model."""
    status = HTTPStatus(error.status_code)
    if status == HTTPStatus.NOT_FOUND:
        return error_response(status, "NOT_FOUND", "No such resource")
    return error_response(status, status.name, status.phrase)


def handle_unexpected(error: Exception) -> Response[str]:
    logger.exception("unhandled error", extra={"error_type": type(error).__name__})
    return error_response(
        HTTPStatus.INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "Something went wrong on our side; retry later"
    )


def register_error_handlers(app: APIGatewayRestResolver) -> None:
    app.exception_handler(RequestValidationError)(handle_request_validation)
    app.exception_handler(RequestUnsupportedContentType)(handle_unsupported_content_type)
    app.exception_handler(DomainError)(handle_domain_error)
    app.exception_handler(ClientError)(handle_client_error)
    app.exception_handler(ServiceError)(handle_service_error)
    app.exception_handler(Exception)(handle_unexpected)
