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


def batch_get(client: DynamoDBClient, table: str, item_keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items found for `item_keys` (strongly consistent), up to 100 per BatchGetItem; what is
    still unprocessed after a few attempts (throttling) is read one item at a time."""
    found: list[dict[str, Any]] = []
    for start in range(0, len(item_keys), BATCH_GET_LIMIT):
        pending = item_keys[start : start + BATCH_GET_LIMIT]
        for _attempt in range(BATCH_GET_ATTEMPTS):
            response = client.batch_get_item(RequestItems={table: {"Keys": pending, "ConsistentRead": True}})
            found.extend(response.get("Responses", {}).get(table, []))
            unprocessed: Any = response.get("UnprocessedKeys") or {}
            pending = unprocessed.get(table, {}).get("Keys", [])
            if not pending:
                break
        for key in pending:
            item = client.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
            if item is not None:
                found.append(dict(item))
    return found
