"""The trading-configurations table (single table, see docs/data-model.md) under its adapters:
one per aggregate (`baskets`, `strategies`, `allocations`, `schedule`), composed into
`DynamoTradingRepository`. Here: what more than one aggregate reads or writes (the basket and
strategy items, the owner's allocations, the schedule entries and the delete operations that
keep the counters true).

Every multi-item invariant commits in one `TransactWriteItems`: the strategy counter on the
basket moves with the strategy put/delete, schedule entries move with their strategy, and the
allocation counter on a strategy (or basket) moves with its allocation. A cancelled transaction
changes nothing, so a rejected write leaves the stored items exactly as they were.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shared_utils import keys
from shared_utils.clock import Clock
from shared_utils.errors import NotFoundError
from shared_utils.keys import ScheduleKind
from shared_utils.models.allocation import BrokerAllocation
from shared_utils.models.common import AllocationScope
from shared_utils.models.items import AllocationItem, BasketItem, ItemState, StrategyItem, schedule_items
from shared_utils.models.strategy import Strategy
from shared_utils.pagination import DEFAULT_CODEC, CursorCodec
from shared_utils.repository.dynamo import DynamoTable
from shared_utils.tables import ALLOCATIONS_BY_STRATEGY

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from shared_utils.repository.ports import BrokerAccountsReader


def allocations_of(gsi1pk: str) -> dict[str, Any]:
    """The GSI1 query of one owner's (strategy's or basket's) allocations."""
    return {
        "IndexName": ALLOCATIONS_BY_STRATEGY,
        "KeyConditionExpression": "gsi1pk = :pk AND begins_with(gsi1sk, :prefix)",
        "ExpressionAttributeValues": {":pk": {"S": gsi1pk}, ":prefix": {"S": keys.GSI1_ALLOCATION_PREFIX}},
    }


class TradingTable(DynamoTable):
    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        clock: Clock,
        *,
        schedule_shards: int = 1,
        broker_accounts: BrokerAccountsReader | None = None,
        cursor_codec: CursorCodec = DEFAULT_CODEC,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        if schedule_shards < 1:
            raise ValueError("schedule_shards must be >= 1")
        super().__init__(client, table_name, cursor_codec)
        self._clock = clock
        self._shards = schedule_shards
        self._accounts = broker_accounts
        self._new_id = new_id

    def _basket_item(self, user_id: str, basket_id: str, include_deleting: bool = False) -> BasketItem:
        raw = self._get(keys.user_pk(user_id), keys.basket_sk(basket_id))
        if raw is None:
            raise NotFoundError("basket not found")
        item = BasketItem.from_dynamo(raw)
        if item.state is not ItemState.ACTIVE and not include_deleting:
            raise NotFoundError("basket not found")
        return item

    def _strategy(self, user_id: str, strategy_id: str) -> Strategy:
        raw = self._get(keys.user_pk(user_id), keys.strategy_sk(strategy_id))
        if raw is None:
            raise NotFoundError("strategy not found")
        return StrategyItem.from_dynamo(raw).to_domain()

    def _owner_allocations(self, user_id: str, gsi1pk: str) -> list[BrokerAllocation]:
        """Every allocation of one strategy or basket (its GSI1 partition) that is the user's."""
        allocations = [
            AllocationItem.from_dynamo(raw).to_domain() for raw in self._query_all(**allocations_of(gsi1pk))
        ]
        return [allocation for allocation in allocations if allocation.user_id == user_id]

    def _query_partition(
        self,
        user_id: str,
        prefix: str,
        limit: int,
        next_token: str | None,
        *,
        filter_expression: str | None = None,
        names: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the user's items of one kind (their sort-key prefix)."""
        query: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": keys.user_pk(user_id)}, ":prefix": {"S": prefix}}
            | (values or {}),
        }
        if filter_expression:
            query["FilterExpression"] = filter_expression
        if names:
            query["ExpressionAttributeNames"] = names
        return self._query_page(query, limit=limit, next_token=next_token, scope=f"{prefix}{user_id}")

    def _schedule_ops(self, strategy: Strategy) -> list[dict[str, Any]]:
        """Put each schedule entry the strategy projects now, delete the ones it no longer does."""
        wanted = {item.kind: item for item in schedule_items(strategy, self._shards)}
        ops: list[dict[str, Any]] = []
        for kind in ScheduleKind:
            if kind in wanted:
                ops.append(self._put_op(wanted[kind]))
            else:
                key = self._key(keys.user_pk(strategy.user_id), keys.schedule_sk(strategy.strategy_id, kind))
                ops.append({"Delete": {"TableName": self._table, "Key": key}})
        return ops

    def _basket_active_check(self, user_id: str, basket_id: str) -> dict[str, Any]:
        return {
            "ConditionCheck": {
                "TableName": self._table,
                "Key": self._key(keys.user_pk(user_id), keys.basket_sk(basket_id)),
                "ConditionExpression": "#state = :active",
                "ExpressionAttributeNames": {"#state": "state"},
                "ExpressionAttributeValues": {":active": {"S": ItemState.ACTIVE.value}},
            }
        }

    def _strategy_delete_ops(
        self, strategy: Strategy, allocations: list[AllocationItem]
    ) -> list[dict[str, Any]]:
        user = keys.user_pk(strategy.user_id)
        ops: list[dict[str, Any]] = [
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": self._key(user, keys.strategy_sk(strategy.strategy_id)),
                    "ConditionExpression": "version = :version AND allocation_count = :allocations",
                    "ExpressionAttributeValues": {
                        ":version": {"N": str(strategy.version)},
                        ":allocations": {"N": str(len(allocations))},
                    },
                }
            },
            {
                "Update": {
                    "TableName": self._table,
                    "Key": self._key(user, keys.basket_sk(strategy.basket_id)),
                    "UpdateExpression": "SET strategy_count = strategy_count - :one",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
        ]
        ops += [
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": self._key(user, keys.schedule_sk(strategy.strategy_id, kind)),
                }
            }
            for kind in ScheduleKind
        ]
        ops += [{"Delete": {"TableName": self._table, "Key": self._key(a.pk, a.sk)}} for a in allocations]
        return ops

    def _allocation_delete_ops(self, allocation: BrokerAllocation) -> list[dict[str, Any]]:
        user = keys.user_pk(allocation.user_id)
        if allocation.scope is AllocationScope.STRATEGY:
            owner_sk, counter = keys.strategy_sk(allocation.scope_id), "allocation_count"
        else:
            owner_sk, counter = keys.basket_sk(allocation.scope_id), "default_allocation_count"
        return [
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": self._key(user, keys.allocation_sk(allocation.allocation_id)),
                    "ConditionExpression": "version = :version",
                    "ExpressionAttributeValues": {":version": {"N": str(allocation.version)}},
                }
            },
            {
                "Update": {
                    "TableName": self._table,
                    "Key": self._key(user, owner_sk),
                    "UpdateExpression": f"SET {counter} = {counter} - :one",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
        ]
