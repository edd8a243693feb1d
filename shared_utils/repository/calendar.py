"""The admins' calendar changes in the trading-configurations table: one item per exchange and
day under one partition (a few dozen a year), so the whole set is one query."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from shared_utils import keys
from shared_utils.errors import AlreadyExistsError
from shared_utils.models.calendar import CalendarChange
from shared_utils.models.items import deserialize, serialize
from shared_utils.repository.dynamo import condition_lost, query_all

if TYPE_CHECKING:
    from datetime import date

    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoCalendarChanges:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def all(self) -> list[CalendarChange]:
        items = query_all(
            self._client,
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={
                ":pk": {"S": keys.CALENDAR_CHANGES_PK},
                ":prefix": {"S": keys.CALENDAR_CHANGE_PREFIX},
            },
        )
        return [CalendarChange.model_validate(_fields(item)) for item in items]

    def add(self, change: CalendarChange) -> None:
        """Store a change; a second change for the same exchange and day is refused."""
        item = serialize(
            {
                "pk": keys.CALENDAR_CHANGES_PK,
                "sk": keys.calendar_change_sk(change.exchange, change.date),
                **change.model_dump(mode="json", exclude_none=True),
            }
        )
        try:
            self._client.put_item(
                TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as error:
            if condition_lost(error):
                raise AlreadyExistsError(
                    f"{change.exchange} already has a calendar change on {change.date.isoformat()}: "
                    "remove it first"
                ) from None
            raise

    def remove(self, exchange: str, day: date) -> CalendarChange | None:
        """Delete the change of `exchange` on `day`; the deleted change, or None when there was none."""
        response = self._client.delete_item(
            TableName=self._table,
            Key={"pk": {"S": keys.CALENDAR_CHANGES_PK}, "sk": {"S": keys.calendar_change_sk(exchange, day)}},
            ReturnValues="ALL_OLD",
        )
        old = response.get("Attributes")
        return CalendarChange.model_validate(_fields(old)) if old else None


def _fields(item: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in deserialize(item).items() if key not in ("pk", "sk")}
