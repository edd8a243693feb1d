"""The live feed's open connections: one item per WebSocket connection under its user.

API Gateway closes a connection after two hours at most; `expires_at` lets DynamoDB's TTL delete
the item of one whose $disconnect never ran (a Lambda error). TTL deletes late, and reads do not
filter on it: the first message to such a connection gets 410 Gone and the broadcaster removes it
then (and a platform on an accelerated clock keeps its connections).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

TTL = timedelta(hours=2, minutes=5)  # API Gateway's maximum connection duration, and a margin


class ConnectionDirectory(Protocol):
    """Who is connected: the broadcaster's lookup, kept by whatever holds the connections."""

    def add(self, user_id: str, connection_id: str, now: datetime) -> None: ...

    def remove(self, user_id: str, connection_id: str) -> None: ...

    def of_user(self, user_id: str) -> list[str]: ...

    def everyone(self) -> dict[str, list[str]]: ...


class ConnectionStore:
    """The deployed directory: API Gateway holds the sockets, so the $connect and $disconnect
    routes keep this table of them for the broadcaster."""

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

    def of_user(self, user_id: str) -> list[str]:
        """The user's connections."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "user_id = :user",
            "ExpressionAttributeValues": {":user": {"S": user_id}},
            "ProjectionExpression": "connection_id",
        }
        return [item["connection_id"]["S"] for item in self._pages("query", kwargs)]

    def everyone(self) -> dict[str, list[str]]:
        """Every connection by user (a global kill switch, the minute's marks)."""
        found: dict[str, list[str]] = defaultdict(list)
        for item in self._pages(
            "scan", {"TableName": self._table, "ProjectionExpression": "user_id, connection_id"}
        ):
            found[item["user_id"]["S"]].append(item["connection_id"]["S"])
        return dict(found)

    def _pages(self, operation: str, kwargs: dict[str, Any]) -> Iterator[dict[str, Any]]:
        call = getattr(self._client, operation)
        while True:
            response = call(**kwargs)
            yield from response.get("Items", [])
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            kwargs = {**kwargs, "ExclusiveStartKey": last}


class ConnectionRegistry:
    """The directory of a process that holds its WebSocket connections itself (the local
    platform's server): it knows them without a table, as API Gateway does. It passes the same
    contract tests as `ConnectionStore`."""

    def __init__(self) -> None:
        self._users: dict[str, dict[str, datetime]] = defaultdict(dict)
        self._lock = threading.Lock()

    def add(self, user_id: str, connection_id: str, now: datetime) -> None:
        with self._lock:
            self._users[user_id][connection_id] = now

    def remove(self, user_id: str, connection_id: str) -> None:
        with self._lock:
            self._users[user_id].pop(connection_id, None)
            if not self._users[user_id]:
                del self._users[user_id]

    def of_user(self, user_id: str) -> list[str]:
        with self._lock:
            return list(self._users.get(user_id, ()))

    def everyone(self) -> dict[str, list[str]]:
        with self._lock:
            return {user: list(connections) for user, connections in self._users.items()}
