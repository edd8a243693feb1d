"""`Idempotency-Key` on POST routes, with Powertools Idempotency on the idempotency table.

The key is scoped to the caller and the operation (`user_id`, `operation`, header value): two
users (or two routes) never share a record. The record also fingerprints the target and the
validated body, so reusing a key for a different request is rejected (HTTP 422,
`IDEMPOTENCY_KEY_REUSED`) instead of silently answering with another request's result.
A retry of the same request returns the first response, even after the first one committed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, TypeVar

from aws_lambda_powertools.event_handler import Request
from aws_lambda_powertools.event_handler.openapi.params import Header
from pydantic import BaseModel

from shared_utils.api.errors import IdempotencyInProgressError, IdempotencyKeyReusedError
from shared_utils.api.identity import Identity
from shared_utils.composition import platform

IDEMPOTENCY_HEADER = "Idempotency-Key"
RECORD_TTL_SECONDS = 24 * 60 * 60
LAMBDA_CONTEXT_KEY = "lambda_context"

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=IDEMPOTENCY_HEADER,
        min_length=8,
        max_length=128,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Client-chosen unique key (e.g. a UUID): a retry with the same key and body "
        "returns the first response; the same key with a different body is rejected (422).",
    ),
]

ModelT = TypeVar("ModelT", bound=BaseModel)


def _run_create(*, request: dict[str, Any], create: Callable[[], BaseModel]) -> dict[str, Any]:
    """The unit Powertools makes idempotent: its JSON result is what a retry gets back."""
    return create().model_dump(mode="json")


def idempotent_create(
    *,
    request: Request,
    caller: Identity,
    key: str | None,
    operation: str,
    target: Mapping[str, str],
    body: BaseModel,
    create: Callable[[], ModelT],
    result_type: type[ModelT],
) -> ModelT:
    """Run `create` once per (caller, operation, key); without a key, just run it."""
    if key is None:
        return create()
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    config = IdempotencyConfig(
        event_key_jmespath="[user_id, operation, key]",
        payload_validation_jmespath="[target, body]",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=RECORD_TTL_SECONDS,
        lambda_context=request.context.get(LAMBDA_CONTEXT_KEY),
    )
    run = idempotent_function(
        data_keyword_argument="request",
        persistence_store=platform().api_idempotency_store,
        config=config,
    )(_run_create)
    payload = {
        "user_id": caller.user_id,
        "operation": operation,
        "key": key,
        "target": dict(target),
        "body": body.model_dump(mode="json"),
    }
    try:
        result = run(request=payload, create=create)
    except IdempotencyValidationError as error:
        raise IdempotencyKeyReusedError() from error
    except IdempotencyAlreadyInProgressError as error:
        raise IdempotencyInProgressError() from error
    return result_type.model_validate(result)
