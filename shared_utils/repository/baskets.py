"""Baskets: create, read, list, update, and the cascade delete of everything under one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from shared_utils import keys
from shared_utils.errors import ConflictError, NotFoundError
from shared_utils.models.allocation import BrokerAllocation
from shared_utils.models.basket import Basket, BasketCreate, BasketUpdate
from shared_utils.models.items import AllocationItem, BasketItem, ItemState, StrategyItem
from shared_utils.models.strategy import Strategy
from shared_utils.models.views import BasketDetail
from shared_utils.repository.dynamo import condition_lost
from shared_utils.repository.trading_table import TradingTable
from shared_utils.tables import ALLOCATIONS_BY_STRATEGY


class BasketStore(TradingTable):
    def create_basket(self, user_id: str, data: BasketCreate) -> Basket:
        now = self._clock.now()
        basket = Basket(
            basket_id=self._new_id(), user_id=user_id, version=1, created_at=now, updated_at=now, **dict(data)
        )
        self._put_new(BasketItem.from_domain(basket))
        return basket

    def get_basket(self, user_id: str, basket_id: str) -> Basket:
        return self._basket_item(user_id, basket_id).to_domain()

    def list_baskets(
        self, user_id: str, limit: int = 50, next_token: str | None = None
    ) -> tuple[list[Basket], str | None]:
        items, token = self._query_partition(
            user_id,
            keys.BASKET_PREFIX,
            limit,
            next_token,
            filter_expression="#state = :active",
            names={"#state": "state"},
            values={":active": {"S": ItemState.ACTIVE.value}},
        )
        return [BasketItem.from_dynamo(item).to_domain() for item in items], token

    def update_basket(self, user_id: str, basket_id: str, data: BasketUpdate) -> Basket:
        changes = data.changes()
        current = self._basket_item(user_id, basket_id)
        basket = Basket.model_validate(
            current.to_domain().model_dump()
            | changes
            | {"version": data.version + 1, "updated_at": self._clock.now()}
        )
        sets = {name: getattr(basket, name) for name in [*changes, "version", "updated_at"]}
        raw = self._update_versioned(
            keys.user_pk(user_id),
            keys.basket_sk(basket_id),
            data.version,
            sets,
            extra_condition="#state = :active",
            extra_names={"#state": "state"},
            extra_values={":active": ItemState.ACTIVE.value},
        )
        return BasketItem.from_dynamo(raw).to_domain()

    def get_basket_with_strategies(self, user_id: str, basket_id: str) -> BasketDetail:
        """One GSI1 query (plus pages): the basket item sorts first, then defaults, then strategies."""
        basket: BasketItem | None = None
        defaults: list[BrokerAllocation] = []
        strategies: list[Strategy] = []
        for raw in self._query_all(
            IndexName=ALLOCATIONS_BY_STRATEGY,
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues={":pk": {"S": keys.basket_gsi1pk(basket_id)}},
        ):
            if raw.get("user_id", {}).get("S") != user_id:
                raise NotFoundError("basket not found")
            entity = raw["entity"]["S"]
            if entity == BasketItem.entity:
                basket = BasketItem.from_dynamo(raw)
            elif entity == AllocationItem.entity:
                defaults.append(AllocationItem.from_dynamo(raw).to_domain())
            elif entity == StrategyItem.entity:
                strategies.append(StrategyItem.from_dynamo(raw).to_domain())
        if basket is None or basket.state is not ItemState.ACTIVE:
            raise NotFoundError("basket not found")
        return BasketDetail(basket=basket.to_domain(), default_allocations=defaults, strategies=strategies)

    def delete_basket(self, user_id: str, basket_id: str, version: int | None = None) -> None:
        """Cascade delete, children before parent; a failed run leaves a DELETING basket that a
        repeated call resumes, and the basket goes last, only once nothing points to it."""
        current = self._basket_item(user_id, basket_id, include_deleting=True)
        if current.state is ItemState.ACTIVE:
            if version is not None and version != current.version:
                raise ConflictError("basket was changed by someone else; reload it")
            self._update_versioned(
                keys.user_pk(user_id),
                keys.basket_sk(basket_id),
                current.version,
                {"state": ItemState.DELETING.value},
            )
        by_scope: dict[str, list[AllocationItem]] = {}
        for raw in self._basket_children(user_id, basket_id, keys.ALLOCATION_PREFIX):
            allocation = AllocationItem.from_dynamo(raw)
            by_scope.setdefault(allocation.scope_id, []).append(allocation)
        for raw in self._basket_children(user_id, basket_id, keys.STRATEGY_PREFIX):
            strategy = StrategyItem.from_dynamo(raw).to_domain()
            self._transact(self._strategy_delete_ops(strategy, by_scope.get(strategy.strategy_id, [])))
        for allocation in by_scope.get(basket_id, []):
            self._transact(self._allocation_delete_ops(allocation.to_domain()))
        try:
            self._client.delete_item(
                TableName=self._table,
                Key=self._key(keys.user_pk(user_id), keys.basket_sk(basket_id)),
                ConditionExpression="strategy_count = :zero AND default_allocation_count = :zero",
                ExpressionAttributeValues={":zero": {"N": "0"}},
            )
        except ClientError as error:
            if condition_lost(error):
                raise ConflictError("basket gained children while being deleted; delete it again") from error
            raise

    def _basket_children(self, user_id: str, basket_id: str, prefix: str) -> Iterator[dict[str, Any]]:
        """The user's items of one kind (sort-key prefix) that belong to the basket."""
        return self._query_all(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            FilterExpression="basket_id = :basket",
            ExpressionAttributeValues={
                ":pk": {"S": keys.user_pk(user_id)},
                ":prefix": {"S": prefix},
                ":basket": {"S": basket_id},
            },
            ConsistentRead=True,
        )
