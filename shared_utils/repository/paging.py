"""Reading every page of a DynamoDB query, and the batch-read limits: one place under every adapter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BATCH_GET_LIMIT = 100  # BatchGetItem's maximum keys per request
BATCH_GET_ATTEMPTS = 3  # then what is still unprocessed is read one item at a time


def query_all(client: DynamoDBClient, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every item of the query, page after page (DynamoDB cuts a page at 1 MB)."""
    while True:
        response = client.query(**kwargs)
        yield from response.get("Items", [])
        last = response.get("LastEvaluatedKey")
        if not last:
            return
        kwargs["ExclusiveStartKey"] = last
