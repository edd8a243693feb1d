"""Strategies: each moves with its basket's counter and its schedule entries in one transaction."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shared_utils import keys
from shared_utils.errors import ConflictError, LimitExceededError, NotFoundError
from shared_utils.models.allocation import effective_allocations
from shared_utils.models.items import AllocationItem, ItemState, StrategyItem
from shared_utils.models.strategy import (
    MAX_STRATEGIES_PER_BASKET,
    STRATEGY_LIMIT,
    Strategy,
    StrategyCreate,
    StrategyUpdate,
)
from shared_utils.models.views import StrategyDetail
from shared_utils.repository.trading_table import TradingTable
from shared_utils.tables import ALLOCATIONS_BY_STRATEGY

_DELETE_RETRIES = 3


class StrategyStore(TradingTable):
    def create_strategy(self, user_id: str, basket_id: str, data: StrategyCreate) -> Strategy:
        """Strategy put, basket counter and schedule entries in one transaction: the 10-per-basket
        limit holds however many requests race."""
        now = self._clock.now()
        strategy = Strategy(
            strategy_id=self._new_id(),
            user_id=user_id,
            basket_id=basket_id,
            version=1,
            created_at=now,
            updated_at=now,
            **dict(data),
        )
        ops: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": self._key(keys.user_pk(user_id), keys.basket_sk(basket_id)),
                    "UpdateExpression": "SET strategy_count = strategy_count + :one",
                    "ConditionExpression": (
                        "attribute_exists(pk) AND #state = :active AND strategy_count < :max"
                    ),
                    "ExpressionAttributeNames": {"#state": "state"},
                    "ExpressionAttributeValues": {
                        ":one": {"N": "1"},
                        ":active": {"S": ItemState.ACTIVE.value},
                        ":max": {"N": str(MAX_STRATEGIES_PER_BASKET)},
                    },
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
            self._put_op(StrategyItem.from_domain(strategy), new=True),
            *self._schedule_ops(strategy),
        ]
        reasons = self._transact(ops, raise_on_cancel=False)
        if reasons is not None:
            basket = reasons[0]
            if basket.condition_failed:
                if basket.item is None or basket.item.get("state") != ItemState.ACTIVE.value:
                    raise NotFoundError("basket not found")
                raise LimitExceededError(
                    f"a basket holds at most {MAX_STRATEGIES_PER_BASKET} strategies", code=STRATEGY_LIMIT
                )
            raise ConflictError("strategy could not be created; retry")
        return strategy

    def get_strategy(self, user_id: str, strategy_id: str) -> Strategy:
        return self._strategy(user_id, strategy_id)

    def get_strategies(self, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Strategy]:
        """Strategies by (user_id, strategy_id), up to 100 per request: the stop-loss check reads
        every strategy with open positions each minute. Missing ones are left out."""
        pairs = list(dict.fromkeys(wanted))
        item_keys = [self._key(keys.user_pk(user), keys.strategy_sk(strategy)) for user, strategy in pairs]
        found: dict[tuple[str, str], Strategy] = {}
        for raw in self._batch_get(item_keys):
            strategy = StrategyItem.from_dynamo(raw).to_domain()
            found[(strategy.user_id, strategy.strategy_id)] = strategy
        return found

    def get_strategy_with_allocations(self, user_id: str, strategy_id: str) -> StrategyDetail:
        """Two requests: the strategy, then one GSI1 query of its own allocations, or of its
        basket's defaults when its allocation counter says it has none (inheritance)."""
        strategy = self.get_strategy(user_id, strategy_id)
        if strategy.allocation_count > 0:
            own = self._owner_allocations(user_id, keys.strategy_gsi1pk(strategy_id))
            return StrategyDetail(strategy=strategy, allocations=effective_allocations(own, []))
        defaults = self._owner_allocations(user_id, keys.basket_gsi1pk(strategy.basket_id))
        return StrategyDetail(strategy=strategy, allocations=effective_allocations([], defaults))

    def list_strategies(
        self, user_id: str, basket_id: str | None = None, limit: int = 50, next_token: str | None = None
    ) -> tuple[list[Strategy], str | None]:
        """A user's strategies (base-table query), or one basket's (GSI1 query after an owner check)."""
        if basket_id is None:
            items, token = self._query_partition(user_id, keys.STRATEGY_PREFIX, limit, next_token)
            return [StrategyItem.from_dynamo(item).to_domain() for item in items], token
        self._basket_item(user_id, basket_id)
        query = {
            "IndexName": ALLOCATIONS_BY_STRATEGY,
            "KeyConditionExpression": "gsi1pk = :pk AND begins_with(gsi1sk, :prefix)",
            "ExpressionAttributeValues": {
                ":pk": {"S": keys.basket_gsi1pk(basket_id)},
                ":prefix": {"S": keys.STRATEGY_PREFIX},
            },
        }
        items, token = self._query_page(
            query, limit=limit, next_token=next_token, scope=f"strategies:{user_id}:{basket_id}"
        )
        return [StrategyItem.from_dynamo(item).to_domain() for item in items], token

    def update_strategy(self, user_id: str, strategy_id: str, data: StrategyUpdate) -> Strategy:
        """The strategy with `data`'s changes, if its version is still `data.version`."""
        current = self.get_strategy(user_id, strategy_id)
        if current.version != data.version:
            raise ConflictError("strategy was changed by someone else; reload it")
        return self.replace_strategy(current.with_changes(data.changes(), self._clock.now()), data.version)

    def replace_strategy(self, updated: Strategy, expected_version: int) -> Strategy:
        """Put conditional on the version read, with the schedule entries rewritten (or removed
        on pause) in the same transaction."""
        put = self._put_op(StrategyItem.from_domain(updated))
        put["Put"]["ConditionExpression"] = "attribute_exists(pk) AND version = :expected"
        put["Put"]["ExpressionAttributeValues"] = {":expected": {"N": str(expected_version)}}
        reasons = self._transact([put, *self._schedule_ops(updated)], raise_on_cancel=False)
        if reasons is not None:
            if reasons[0].condition_failed:
                raise ConflictError("strategy was changed by someone else; reload it")
            raise ConflictError("strategy could not be updated; retry")
        return updated

    def delete_strategy(self, user_id: str, strategy_id: str, version: int | None = None) -> None:
        """Strategy, its allocations and schedule entries go in one transaction with the basket
        counter; the allocation counter guards against an allocation the index has not shown yet."""
        for _attempt in range(_DELETE_RETRIES):
            strategy = self.get_strategy(user_id, strategy_id)
            if version is not None and version != strategy.version:
                raise ConflictError("strategy was changed by someone else; reload it")
            allocations = (
                [
                    AllocationItem.from_dynamo(raw)
                    for raw in self._query_all(
                        IndexName=ALLOCATIONS_BY_STRATEGY,
                        KeyConditionExpression="gsi1pk = :pk",
                        ExpressionAttributeValues={":pk": {"S": keys.strategy_gsi1pk(strategy_id)}},
                    )
                ]
                if strategy.allocation_count
                else []
            )
            reasons = self._transact(self._strategy_delete_ops(strategy, allocations), raise_on_cancel=False)
            if reasons is None:
                return
        raise ConflictError("strategy kept changing while being deleted; retry")
