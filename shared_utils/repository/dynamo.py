"""The DynamoDB toolkit under every adapter: one place for the plumbing, so each adapter only says
what it stores.

- `query_all` reads every page of a query (DynamoDB cuts a page at 1 MB); `DynamoTable.query_page`
  reads one page behind an opaque, scoped cursor with the API's page-size limit.
- `batch_get` reads up to 100 keys per BatchGetItem, retries what comes back unprocessed
  (throttling), then reads what is still left one item at a time.
- `transact` runs one TransactWriteItems and returns the per-item cancellation reasons, so an
  adapter maps *which* condition failed to its domain error; a transaction that lost to another
  one in flight is a retryable `ConflictError` everywhere.
- `update_versioned` is the optimistic-concurrency update: SET/REMOVE if `version` is as read.
- `condition_lost` recognises a single conditional write that lost its condition.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from shared_utils.errors import (
    AlreadyExistsError,
    ConflictError,
    DomainError,
    InvalidInputError,
    NotFoundError,
)
from shared_utils.models.items import StoredItem, deserialize, serialize
from shared_utils.pagination import DEFAULT_CODEC, CursorCodec

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

CONDITION_FAILED = "ConditionalCheckFailed"  # one item's reason inside a cancelled transaction
CONDITIONAL_CHECK_FAILED = "ConditionalCheckFailedException"  # a single conditional write lost
BATCH_GET_LIMIT = 100  # BatchGetItem's maximum keys per request
BATCH_GET_ATTEMPTS = 3  # then what is still unprocessed is read one item at a time
MAX_PAGE_SIZE = 100  # the most items one API page asks for
CHANGED = "changed by someone else since it was read; reload it"

Item = dict[str, Any]


@dataclass(frozen=True)
class Cancellation:
    """One entry of `CancellationReasons`: its code and the item as it was (ALL_OLD), if any."""

    code: str
    item: dict[str, Any] | None

    @property
    def condition_failed(self) -> bool:
        return self.code == CONDITION_FAILED


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


def key(pk: str, sk: str) -> Item:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def page_size(limit: int) -> int:
    """The API's page-size bounds, checked before DynamoDB sees the limit."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInputError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
    return limit


def query_all(client: DynamoDBClient, **kwargs: Any) -> Iterator[Item]:
    """Every item of the query, page after page (DynamoDB cuts a page at 1 MB)."""
    while True:
        response = client.query(**kwargs)
        yield from response.get("Items", [])
        last = response.get("LastEvaluatedKey")
        if not last:
            return
        kwargs["ExclusiveStartKey"] = last


def batch_get(client: DynamoDBClient, table: str, item_keys: Iterable[Item]) -> list[Item]:
    """The items found for `item_keys` (strongly consistent), up to 100 per BatchGetItem; what is
    still unprocessed after a few attempts (throttling) is read one item at a time."""
    wanted = list(item_keys)
    found: list[Item] = []
    for start in range(0, len(wanted), BATCH_GET_LIMIT):
        pending = wanted[start : start + BATCH_GET_LIMIT]
        for _attempt in range(BATCH_GET_ATTEMPTS):
            response = client.batch_get_item(RequestItems={table: {"Keys": pending, "ConsistentRead": True}})
            found.extend(response.get("Responses", {}).get(table, []))
            unprocessed: Any = response.get("UnprocessedKeys") or {}
            pending = unprocessed.get(table, {}).get("Keys", [])
            if not pending:
                break
        for left in pending:
            item = client.get_item(TableName=table, Key=left, ConsistentRead=True).get("Item")
            if item is not None:
                found.append(dict(item))
    return found


class DynamoTable:
    """One table of one client: the base every DynamoDB adapter builds on."""

    def __init__(
        self, client: DynamoDBClient, table_name: str, cursor_codec: CursorCodec = DEFAULT_CODEC
    ) -> None:
        self._client = client
        self._table = table_name
        self._cursors = cursor_codec

    def _key(self, pk: str, sk: str) -> Item:
        return key(pk, sk)

    def _get(self, pk: str, sk: str) -> Item | None:
        """The item, strongly consistent (None when absent)."""
        response = self._client.get_item(TableName=self._table, Key=key(pk, sk), ConsistentRead=True)
        return response.get("Item")

    def _query_all(self, **kwargs: Any) -> Iterator[Item]:
        return query_all(self._client, TableName=self._table, **kwargs)

    def _batch_get(self, item_keys: Iterable[Item]) -> list[Item]:
        return batch_get(self._client, self._table, item_keys)

    def _query_page(
        self, query: dict[str, Any], *, limit: int, next_token: str | None, scope: str
    ) -> tuple[list[Item], str | None]:
        """One page of `query` (its key condition, index, filter ...) after the cursor, and the
        cursor of the next one; `scope` ties a cursor to its listing and caller."""
        kwargs: dict[str, Any] = {"TableName": self._table, **query, "Limit": page_size(limit)}
        start = self._cursors.decode(next_token, scope)
        if start is not None:
            kwargs["ExclusiveStartKey"] = start
        response = self._client.query(**kwargs)
        return response.get("Items", []), self._cursors.encode(response.get("LastEvaluatedKey"), scope)

    def _put_op(self, item: StoredItem, new: bool = False) -> dict[str, Any]:
        """A transaction's Put of `item`; `new`: only where no item has its key yet."""
        put: dict[str, Any] = {"TableName": self._table, "Item": item.to_dynamo()}
        if new:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        return {"Put": put}

    def _put_if(self, item: Item, lost: Callable[[], DomainError], **condition: Any) -> None:
        """Put `item` (DynamoDB-typed) if `condition` (ConditionExpression and its names and
        values) holds; else raise `lost()`."""
        try:
            self._client.put_item(TableName=self._table, Item=item, **condition)
        except ClientError as error:
            if condition_lost(error):
                raise lost() from error
            raise

    def _put_new(self, item: StoredItem, exists: str = "an item with this id already exists") -> None:
        self._put_if(
            item.to_dynamo(),
            lambda: AlreadyExistsError(exists),
            ConditionExpression="attribute_not_exists(pk)",
        )

    def _transact(self, ops: list[dict[str, Any]], raise_on_cancel: bool = True) -> list[Cancellation] | None:
        """Run one transaction; returns the cancellation reasons, or None when it committed.
        Contention (another transaction in flight) is a retryable ConflictError."""
        try:
            self._client.transact_write_items(TransactItems=ops)  # type: ignore[arg-type]
        except ClientError as error:
            reasons = cancellations(error)
            if reasons is None:
                raise
            raise_if_contended(reasons)
            if raise_on_cancel:
                raise ConflictError("items changed while being written; retry") from error
            return reasons
        return None

    def _update_versioned(
        self,
        pk: str,
        sk: str,
        expected_version: int,
        sets: dict[str, Any],
        *,
        extra_condition: str | None = None,
        extra_names: dict[str, str] | None = None,
        extra_values: dict[str, Any] | None = None,
    ) -> Item:
        """SET the given attributes (REMOVE the ones set to None) if `version` is still expected;
        the item as it is now. A missing item is NotFound, a moved version a Conflict."""
        names = {f"#a{i}": name for i, name in enumerate(sets)} | (extra_names or {})
        present = {f"#a{i}": value for i, value in enumerate(sets.values()) if value is not None}
        removed = [f"#a{i}" for i, value in enumerate(sets.values()) if value is None]
        values = serialize({f":v{name[2:]}": value for name, value in present.items()} | (extra_values or {}))
        values[":expected"] = {"N": str(expected_version)}
        expression = "SET " + ", ".join(f"{name} = :v{name[2:]}" for name in present)
        if removed:
            expression += " REMOVE " + ", ".join(removed)
        condition = "attribute_exists(pk) AND version = :expected"
        if extra_condition:
            condition += f" AND {extra_condition}"
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=key(pk, sk),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not condition_lost(error):
                raise
            if not error.response.get("Item"):
                raise NotFoundError("not found") from error
            raise ConflictError(CHANGED) from error
        return response["Attributes"]
