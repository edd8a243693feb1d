"""Broker allocations of a strategy or of a basket (its defaults): one per broker account, each
moving its owner's counter in the same transaction."""

from __future__ import annotations

from typing import Any

from shared_utils import keys
from shared_utils.errors import (
    AlreadyExistsError,
    ConflictError,
    FieldIssue,
    InvalidInputError,
    LimitExceededError,
    NotFoundError,
)
from shared_utils.models.allocation import (
    ALLOCATION_LIMIT,
    MAX_ALLOCATIONS_PER_OWNER,
    AllocationCreate,
    AllocationUpdate,
    BrokerAllocation,
    allocation_id_for,
)
from shared_utils.models.broker_account import BrokerAccount
from shared_utils.models.common import AllocationScope
from shared_utils.models.items import AllocationItem, ItemState
from shared_utils.repository.trading_table import TradingTable, allocations_of


class AllocationStore(TradingTable):
    def create_allocation(
        self, user_id: str, scope: AllocationScope, scope_id: str, data: AllocationCreate
    ) -> BrokerAllocation:
        """One allocation per broker account per strategy (or basket default), enforced by its key."""
        account = self._broker_account(user_id, data.broker_account_id)
        if scope is AllocationScope.STRATEGY:
            basket_id = self._strategy(user_id, scope_id).basket_id
            owner_sk, counter = keys.strategy_sk(scope_id), "allocation_count"
        else:
            basket_id = self._basket_item(user_id, scope_id).basket_id
            owner_sk, counter = keys.basket_sk(scope_id), "default_allocation_count"
        now = self._clock.now()
        allocation = BrokerAllocation(
            allocation_id=allocation_id_for(scope_id, data.broker_account_id),
            user_id=user_id,
            scope=scope,
            scope_id=scope_id,
            basket_id=basket_id,
            broker=account.broker,
            version=1,
            created_at=now,
            updated_at=now,
            **dict(data),
        )
        owner_update: dict[str, Any] = {
            "TableName": self._table,
            "Key": self._key(keys.user_pk(user_id), owner_sk),
            "UpdateExpression": f"SET {counter} = {counter} + :one",
            "ConditionExpression": f"attribute_exists(pk) AND {counter} < :max",
            "ExpressionAttributeValues": {":one": {"N": "1"}, ":max": {"N": str(MAX_ALLOCATIONS_PER_OWNER)}},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        ops: list[dict[str, Any]] = [
            {"Update": owner_update},
            self._put_op(AllocationItem.from_domain(allocation), new=True),
        ]
        if scope is AllocationScope.STRATEGY:
            ops.append(self._basket_active_check(user_id, basket_id))
        else:
            owner_update["ConditionExpression"] += " AND #state = :active"
            owner_update["ExpressionAttributeNames"] = {"#state": "state"}
            owner_update["ExpressionAttributeValues"][":active"] = {"S": ItemState.ACTIVE.value}
        reasons = self._transact(ops, raise_on_cancel=False)
        if reasons is not None:
            owner, put = reasons[0], reasons[1]
            if owner.condition_failed:
                if (
                    owner.item is None
                    or owner.item.get("state", ItemState.ACTIVE.value) != ItemState.ACTIVE.value
                ):
                    raise NotFoundError(f"{scope.value.lower()} not found")
                raise LimitExceededError(
                    f"at most {MAX_ALLOCATIONS_PER_OWNER} broker allocations each", code=ALLOCATION_LIMIT
                )
            if len(reasons) > 2 and reasons[2].condition_failed:
                raise NotFoundError("basket not found")
            if put.condition_failed:
                raise AlreadyExistsError("this broker account already has an allocation here")
            raise ConflictError("allocation could not be created; retry")
        return allocation

    def get_allocation(self, user_id: str, allocation_id: str) -> BrokerAllocation:
        raw = self._get(keys.user_pk(user_id), keys.allocation_sk(allocation_id))
        if raw is None:
            raise NotFoundError("allocation not found")
        return AllocationItem.from_dynamo(raw).to_domain()

    def list_allocations(
        self,
        user_id: str,
        scope: AllocationScope,
        scope_id: str,
        limit: int = 50,
        next_token: str | None = None,
    ) -> tuple[list[BrokerAllocation], str | None]:
        """Allocations of one strategy or basket (GSI1), after checking the owner is the caller's."""
        if scope is AllocationScope.STRATEGY:
            self._strategy(user_id, scope_id)
            gsi1pk = keys.strategy_gsi1pk(scope_id)
        else:
            self._basket_item(user_id, scope_id)
            gsi1pk = keys.basket_gsi1pk(scope_id)
        query = allocations_of(gsi1pk)
        items, token = self._query_page(
            query, limit=limit, next_token=next_token, scope=f"allocations:{user_id}:{gsi1pk}"
        )
        return [AllocationItem.from_dynamo(item).to_domain() for item in items], token

    def update_allocation(self, user_id: str, allocation_id: str, data: AllocationUpdate) -> BrokerAllocation:
        try:
            changes = data.changes()
        except ValueError as error:
            raise InvalidInputError(str(error)) from error
        current = self.get_allocation(user_id, allocation_id)
        updated = BrokerAllocation.model_validate(
            current.model_dump() | changes | {"version": data.version + 1, "updated_at": self._clock.now()}
        )
        sets = {name: getattr(updated, name) for name in [*changes, "version", "updated_at"]}
        raw = self._update_versioned(
            keys.user_pk(user_id), keys.allocation_sk(allocation_id), data.version, sets
        )
        return AllocationItem.from_dynamo(raw).to_domain()

    def delete_allocation(self, user_id: str, allocation_id: str, version: int | None = None) -> None:
        allocation = self.get_allocation(user_id, allocation_id)
        if version is not None and version != allocation.version:
            raise ConflictError("allocation was changed by someone else; reload it")
        reasons = self._transact(self._allocation_delete_ops(allocation), raise_on_cancel=False)
        if reasons is not None:
            raise ConflictError("allocation was changed by someone else; reload it")

    def _broker_account(self, user_id: str, broker_account_id: str) -> BrokerAccount:
        if self._accounts is None:
            raise InvalidInputError("broker accounts are not configured")
        account = self._accounts.get_account(user_id, broker_account_id)
        if account is None:
            raise InvalidInputError(
                "unknown broker account",
                details=[FieldIssue("broker_account_id", "no such broker account for this user")],
            )
        return account
