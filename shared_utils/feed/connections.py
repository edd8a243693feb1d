"""The live feed's open connections: one item per WebSocket connection under its user.

API Gateway closes a connection after two hours at most, so an item outlives its connection by
at most `TTL` when $disconnect never ran (a Lambda error, a region event); the broadcaster also
removes a connection the moment API Gateway answers 410 Gone for it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

TTL = timedelta(hours=2, minutes=5)  # API Gateway's maximum connection duration, and a margin


class ConnectionStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def add(self, user_id: str, connection_id: str, now: datetime) -> None:
        self._client.put_item(
            TableName=self._table,
            Item={
                "user_id": {"S": user_id},
                "connection_id": {"S": connection_id},
                "connected_at": {"S": now.isoformat()},
                "expires_at": {"N": str(int((now + TTL).timestamp()))},
            },
        )

    def remove(self, user_id: str, connection_id: str) -> None:
        self._client.delete_item(
            TableName=self._table,
            Key={"user_id": {"S": user_id}, "connection_id": {"S": connection_id}},
        )

    def of_user(self, user_id: str, now: datetime) -> list[str]:
        """The user's open connections (expired items, which TTL deletes late, excluded)."""
        found: list[str] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "user_id = :user",
            "ExpressionAttributeValues": {":user": {"S": user_id}},
        }
        for item in self._pages("query", kwargs):
            if int(item["expires_at"]["N"]) > now.timestamp():
                found.append(item["connection_id"]["S"])
        return found

    def everyone(self, now: datetime) -> dict[str, list[str]]:
        """Every open connection by user (a global kill switch concerns all of them)."""
        found: dict[str, list[str]] = defaultdict(list)
        for item in self._pages("scan", {"TableName": self._table}):
            if int(item["expires_at"]["N"]) > now.timestamp():
                found[item["user_id"]["S"]].append(item["connection_id"]["S"])
        return dict(found)

    def any_open(self, now: datetime) -> bool:
        return bool(self.everyone(now))

    def _pages(self, operation: str, kwargs: dict[str, Any]) -> Iterator[dict[str, Any]]:
        call = getattr(self._client, operation)
        while True:
            response = call(**kwargs)
            yield from response.get("Items", [])
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            kwargs = {**kwargs, "ExclusiveStartKey": last}
