"""Reading DynamoDB's answers to conditional writes: which item of a transaction failed, and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from shared_utils.errors import ConflictError
from shared_utils.models.items import deserialize

CONDITION_FAILED = "ConditionalCheckFailed"  # one item's reason inside a cancelled transaction
CONDITIONAL_CHECK_FAILED = "ConditionalCheckFailedException"  # a single conditional write lost


@dataclass(frozen=True)
class Cancellation:
    """One entry of `CancellationReasons`: its code and the item as it was (ALL_OLD), if any."""

    code: str
    item: dict[str, Any] | None


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def condition_lost(error: ClientError) -> bool:
    """A single conditional write (not a transaction) lost its condition."""
    return error_code(error) == CONDITIONAL_CHECK_FAILED


def cancellations(error: ClientError) -> list[Cancellation] | None:
    """The per-item reasons of a cancelled transaction; None if `error` is something else."""
    if error_code(error) != "TransactionCanceledException":
        return None
    reasons = error.response.get("CancellationReasons") or []
    return [
        Cancellation(
            code=str(reason.get("Code", "None")),
            item=deserialize(dict(reason["Item"])) if reason.get("Item") else None,
        )
        for reason in reasons
    ]


def raise_if_contended(reasons: list[Cancellation]) -> None:
    """Another transaction held an item: the caller's write did not happen and may be retried."""
    if any(reason.code == "TransactionConflict" for reason in reasons):
        raise ConflictError(
            "another change to the same items was in progress; retry", code="TRANSACTION_CONFLICT"
        )
