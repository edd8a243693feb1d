"""The execution-history table under the execution stores: one client, one table, shared helpers.
Key layout in `shared_utils.keys` (execution section)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared_utils.pagination import DEFAULT_CODEC, CursorCodec
from shared_utils.repository.paging import query_all

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def utc(instant: datetime) -> str:
    """The instant as sort keys hold it (UTC ISO 8601: they order as the instants do)."""
    return instant.astimezone(UTC).isoformat()


class HistoryTable:
    def __init__(
        self, client: DynamoDBClient, table_name: str, cursor_codec: CursorCodec = DEFAULT_CODEC
    ) -> None:
        self._client = client
        self._table = table_name
        self._cursors = cursor_codec

    def _key(self, pk: str, sk: str) -> dict[str, Any]:
        return {"pk": {"S": pk}, "sk": {"S": sk}}

    def _query_all(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        return query_all(self._client, TableName=self._table, **kwargs)
