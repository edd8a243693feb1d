from __future__ import annotations

import json

import pytest
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from botocore.exceptions import ClientError

from shared_utils.api.errors import (
    handle_client_error,
    handle_domain_error,
    handle_request_validation,
    handle_unexpected,
)
from shared_utils.errors import (
    BadRequestError,
    ConflictError,
    FieldIssue,
    InvalidInputError,
    LimitExceededError,
    NotFoundError,
)


def body(response) -> dict:
    return json.loads(response.body)


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (NotFoundError("no such basket"), 404, "NOT_FOUND"),
        (ConflictError("stale version"), 409, "VERSION_CONFLICT"),
        (LimitExceededError("basket full", code="STRATEGY_LIMIT"), 409, "STRATEGY_LIMIT"),
        (
            InvalidInputError("bad", [FieldIssue("broker_account_id", "unknown account")]),
            422,
            "VALIDATION_ERROR",
        ),
        (BadRequestError("bad cursor", code="INVALID_NEXT_TOKEN"), 400, "INVALID_NEXT_TOKEN"),
    ],
)
def test_domain_errors_map_to_status_and_keep_their_code(error, status, code):
    response = handle_domain_error(error)

    assert response.status_code == status
    assert body(response)["code"] == code
    assert body(response)["message"] == error.message


def test_field_issues_become_details():
    response = handle_domain_error(
        InvalidInputError("bad", [FieldIssue("broker_account_id", "unknown account")])
    )

    assert body(response)["details"] == [{"field": "broker_account_id", "issue": "unknown account"}]


def test_request_validation_uses_the_same_error_body_with_field_paths():
    error = RequestValidationError(
        [
            {"type": "too_long", "loc": ("body", "legs"), "msg": "List should have at most 6 items"},
            {"type": "greater_than_equal", "loc": ("query", "limit"), "msg": "Input should be >= 1"},
        ]
    )

    response = handle_request_validation(error)

    assert response.status_code == 422
    assert body(response) == {
        "code": "VALIDATION_ERROR",
        "message": "The request is not valid",
        "details": [
            {"field": "legs", "issue": "List should have at most 6 items"},
            {"field": "limit", "issue": "Input should be >= 1"},
        ],
    }


def test_malformed_json_is_a_400():
    error = RequestValidationError([{"type": "json_invalid", "loc": ("body", 3), "msg": "JSON decode error"}])

    response = handle_request_validation(error)

    assert response.status_code == 400
    assert body(response)["code"] == "MALFORMED_JSON"


def test_dynamodb_throttling_is_a_429_with_retry_after():
    error = ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}}, "Query"
    )

    response = handle_client_error(error)

    assert response.status_code == 429
    assert body(response)["code"] == "THROTTLED"
    assert response.headers["Retry-After"] == "1"


def test_unexpected_errors_reveal_nothing():
    response = handle_unexpected(KeyError("pk /var/task/secret_module.py"))

    assert response.status_code == 500
    assert "secret_module" not in response.body
    assert body(response)["code"] == "INTERNAL_ERROR"
