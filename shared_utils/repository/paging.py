"""Reading every page of a DynamoDB query: one helper under every adapter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def query_all(client: DynamoDBClient, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every item of the query, page after page (DynamoDB cuts a page at 1 MB)."""
    while True:
        response = client.query(**kwargs)
        yield from response.get("Items", [])
        last = response.get("LastEvaluatedKey")
        if not last:
            return
        kwargs["ExclusiveStartKey"] = last
