"""DynamoDB adapter of the trading-configurations repository (single table, see docs/data-model.md).

Every multi-item invariant commits in one `TransactWriteItems`: the strategy counter on the
basket moves with the strategy put/delete, schedule entries move with their strategy, and the
allocation counter on a strategy (or basket) moves with its allocation. A cancelled transaction
changes nothing, so a rejected write leaves the stored items exactly as they were.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from shared_utils import keys
from shared_utils.clock import Clock, to_ist
from shared_utils.errors import (
    AlreadyExistsError,
    ConflictError,
    FieldIssue,
    InvalidInputError,
    LimitExceededError,
    NotFoundError,
)
from shared_utils.keys import ScheduleKind
from shared_utils.market.calendar import TradingCalendar
from shared_utils.models.allocation import (
    AllocationCreate,
    AllocationUpdate,
    BrokerAllocation,
    allocation_id_for,
    effective_allocations,
)
from shared_utils.models.basket import Basket, BasketCreate, BasketUpdate
from shared_utils.models.broker_account import BrokerAccount
from shared_utils.models.common import AllocationScope
from shared_utils.models.items import (
    AllocationItem,
    BasketItem,
    ItemState,
    ScheduleItem,
    StoredItem,
    StrategyItem,
    schedule_items,
    serialize,
)
from shared_utils.models.schedule import ScheduleEntry
from shared_utils.models.strategy import (
    MAX_STRATEGIES_PER_BASKET,
    Strategy,
    StrategyCreate,
    StrategyUpdate,
    expiry_issues,
    schedule_issues,
)
from shared_utils.models.views import BasketDetail, StrategyDetail
from shared_utils.pagination import DEFAULT_CODEC, CursorCodec
from shared_utils.repository.dynamo import (
    CONDITION_FAILED,
    Cancellation,
    batch_get,
    cancellations,
    condition_lost,
    query_all,
    raise_if_contended,
)
from shared_utils.repository.schedule_window import DueWindow
from shared_utils.settings import RuntimeSettings
from shared_utils.tables import ALLOCATIONS_BY_STRATEGY, USER_EXECUTION_SCHEDULE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from shared_utils.repository.ports import BrokerAccountsReader

STRATEGY_LIMIT = "STRATEGY_LIMIT"
ALLOCATION_LIMIT = "ALLOCATION_LIMIT"
# Keeps a strategy delete (strategy + 2 schedule entries + basket counter + allocations) in one
# transaction, far below DynamoDB's 100-item cap.
MAX_ALLOCATIONS_PER_OWNER = 20
MAX_PAGE_SIZE = 100
_DELETE_RETRIES = 3


def _page_size(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInputError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
    return limit


class DynamoTradingRepository:
    """Baskets, strategies, broker allocations and schedule entries of every user."""

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
        calendar: Callable[[], TradingCalendar] = TradingCalendar.default,
    ) -> None:
        if schedule_shards < 1:
            raise ValueError("schedule_shards must be >= 1")
        self._client = client
        self._table = table_name
        self._clock = clock
        self._shards = schedule_shards
        self._accounts = broker_accounts
        self._cursors = cursor_codec
        self._new_id = new_id
        self._calendar = calendar

    @classmethod
    def from_settings(
        cls, settings: RuntimeSettings, client: DynamoDBClient, clock: Clock, **options: Any
    ) -> DynamoTradingRepository:
        from shared_utils.repository.broker_accounts import DynamoBrokerAccounts

        options.setdefault(
            "broker_accounts", DynamoBrokerAccounts(client, settings.broker_accounts_table_name)
        )
        return cls(
            client, settings.trading_table_name, clock, schedule_shards=settings.schedule_shards, **options
        )

    # ------------------------------------------------------------------ baskets

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
        for raw in self._query_all(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            FilterExpression="basket_id = :basket",
            ExpressionAttributeValues={
                ":pk": {"S": keys.user_pk(user_id)},
                ":prefix": {"S": keys.ALLOCATION_PREFIX},
                ":basket": {"S": basket_id},
            },
            ConsistentRead=True,
        ):
            allocation = AllocationItem.from_dynamo(raw)
            by_scope.setdefault(allocation.scope_id, []).append(allocation)
        for raw in self._query_all(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            FilterExpression="basket_id = :basket",
            ExpressionAttributeValues={
                ":pk": {"S": keys.user_pk(user_id)},
                ":prefix": {"S": keys.STRATEGY_PREFIX},
                ":basket": {"S": basket_id},
            },
            ConsistentRead=True,
        ):
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

    # ------------------------------------------------------------------ strategies

    def _check_runnable(self, strategy: Strategy, now: datetime) -> None:
        """What would only fail at entry or leave a position open: an intraday exit not after the
        entry, a leg asking for an expiry its index does not list (a weekly on BANKNIFTY) or one
        the calendar cannot resolve. Refused when saved, naming the fields."""
        schedule = schedule_issues(strategy)
        if schedule:
            raise InvalidInputError("an intraday strategy must exit after it enters", schedule)
        issues = expiry_issues(strategy.underlying, strategy.legs, to_ist(now).date(), self._calendar())
        if issues:
            raise InvalidInputError(
                f"{strategy.underlying.value} does not list every expiry asked for", issues
            )

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
        self._check_runnable(strategy, now)
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
            if basket.code == CONDITION_FAILED:
                if basket.item is None or basket.item.get("state") != ItemState.ACTIVE.value:
                    raise NotFoundError("basket not found")
                raise LimitExceededError(
                    f"a basket holds at most {MAX_STRATEGIES_PER_BASKET} strategies", code=STRATEGY_LIMIT
                )
            raise ConflictError("strategy could not be created; retry")
        return strategy

    def get_strategy(self, user_id: str, strategy_id: str) -> Strategy:
        raw = self._get(keys.user_pk(user_id), keys.strategy_sk(strategy_id))
        if raw is None:
            raise NotFoundError("strategy not found")
        return StrategyItem.from_dynamo(raw).to_domain()

    def get_strategies(self, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Strategy]:
        """Strategies by (user_id, strategy_id), up to 100 per request: the stop-loss check reads
        every strategy with open positions each minute. Missing ones are left out."""
        pairs = list(dict.fromkeys(wanted))
        item_keys = [self._key(keys.user_pk(user), keys.strategy_sk(strategy)) for user, strategy in pairs]
        found: dict[tuple[str, str], Strategy] = {}
        for raw in batch_get(self._client, self._table, item_keys):
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
        scope = f"strategies:{user_id}:{basket_id}"
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": ALLOCATIONS_BY_STRATEGY,
            "KeyConditionExpression": "gsi1pk = :pk AND begins_with(gsi1sk, :prefix)",
            "ExpressionAttributeValues": {
                ":pk": {"S": keys.basket_gsi1pk(basket_id)},
                ":prefix": {"S": keys.STRATEGY_PREFIX},
            },
            "Limit": _page_size(limit),
        }
        start = self._cursors.decode(next_token, scope)
        if start is not None:
            kwargs["ExclusiveStartKey"] = start
        response = self._client.query(**kwargs)
        strategies = [StrategyItem.from_dynamo(item).to_domain() for item in response.get("Items", [])]
        return strategies, self._cursors.encode(response.get("LastEvaluatedKey"), scope)

    def update_strategy(self, user_id: str, strategy_id: str, data: StrategyUpdate) -> Strategy:
        """Put conditional on the version read, with the schedule entries rewritten (or removed
        on pause) in the same transaction."""
        current = self.get_strategy(user_id, strategy_id)
        if current.version != data.version:
            raise ConflictError("strategy was changed by someone else; reload it")
        updated = current.with_changes(data.changes(), self._clock.now())
        self._check_runnable(updated, updated.updated_at)
        put = self._put_op(StrategyItem.from_domain(updated))
        put["Put"]["ConditionExpression"] = "attribute_exists(pk) AND version = :expected"
        put["Put"]["ExpressionAttributeValues"] = {":expected": {"N": str(data.version)}}
        reasons = self._transact([put, *self._schedule_ops(updated)], raise_on_cancel=False)
        if reasons is not None:
            if reasons[0].code == CONDITION_FAILED:
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

    # ------------------------------------------------------------------ allocations

    def create_allocation(
        self, user_id: str, scope: AllocationScope, scope_id: str, data: AllocationCreate
    ) -> BrokerAllocation:
        """One allocation per broker account per strategy (or basket default), enforced by its key."""
        account = self._broker_account(user_id, data.broker_account_id)
        if scope is AllocationScope.STRATEGY:
            basket_id = self.get_strategy(user_id, scope_id).basket_id
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
            if owner.code == CONDITION_FAILED:
                if (
                    owner.item is None
                    or owner.item.get("state", ItemState.ACTIVE.value) != ItemState.ACTIVE.value
                ):
                    raise NotFoundError(f"{scope.value.lower()} not found")
                raise LimitExceededError(
                    f"at most {MAX_ALLOCATIONS_PER_OWNER} broker allocations each", code=ALLOCATION_LIMIT
                )
            if len(reasons) > 2 and reasons[2].code == CONDITION_FAILED:
                raise NotFoundError("basket not found")
            if put.code == CONDITION_FAILED:
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
            self.get_strategy(user_id, scope_id)
            gsi1pk = keys.strategy_gsi1pk(scope_id)
        else:
            self._basket_item(user_id, scope_id)
            gsi1pk = keys.basket_gsi1pk(scope_id)
        cursor_scope = f"allocations:{user_id}:{gsi1pk}"
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": ALLOCATIONS_BY_STRATEGY,
            "KeyConditionExpression": "gsi1pk = :pk AND begins_with(gsi1sk, :prefix)",
            "ExpressionAttributeValues": {
                ":pk": {"S": gsi1pk},
                ":prefix": {"S": keys.GSI1_ALLOCATION_PREFIX},
            },
            "Limit": _page_size(limit),
        }
        start = self._cursors.decode(next_token, cursor_scope)
        if start is not None:
            kwargs["ExclusiveStartKey"] = start
        response = self._client.query(**kwargs)
        allocations = [AllocationItem.from_dynamo(item).to_domain() for item in response.get("Items", [])]
        return allocations, self._cursors.encode(response.get("LastEvaluatedKey"), cursor_scope)

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

    # ------------------------------------------------------------------ schedule

    def due_schedule_entries(self, start: datetime, end: datetime) -> list[ScheduleEntry]:
        """Entries due in [start, end): one GSI2 `between` query per shard (two if the window
        crosses UTC midnight), plus pages; entries not firing on the IST weekday are dropped."""
        window = DueWindow.of(start, end)
        if window is None:
            return []
        due: list[ScheduleEntry] = []
        for shard in range(self._shards):
            for first, last in window.hhmm_ranges():
                low, high = keys.schedule_gsi2sk_bounds(first, last)
                for raw in self._query_all(
                    IndexName=USER_EXECUTION_SCHEDULE,
                    KeyConditionExpression="gsi2pk = :pk AND gsi2sk BETWEEN :low AND :high",
                    ExpressionAttributeValues={
                        ":pk": {"S": keys.schedule_gsi2pk(shard)},
                        ":low": {"S": low},
                        ":high": {"S": high},
                    },
                ):
                    item = ScheduleItem.from_dynamo(raw)
                    due_at = window.due_at(item.at_utc)
                    if due_at is not None and item.to_domain().fires_on(to_ist(due_at).weekday()):
                        due.append(item.to_domain(due_at))
        due.sort(key=lambda entry: (entry.due_at, entry.kind.value, entry.user_id, entry.strategy_id))
        return due

    # ------------------------------------------------------------------ helpers

    def _key(self, pk: str, sk: str) -> dict[str, Any]:
        return {"pk": {"S": pk}, "sk": {"S": sk}}

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        response = self._client.get_item(TableName=self._table, Key=self._key(pk, sk), ConsistentRead=True)
        return response.get("Item")

    def _basket_item(self, user_id: str, basket_id: str, include_deleting: bool = False) -> BasketItem:
        raw = self._get(keys.user_pk(user_id), keys.basket_sk(basket_id))
        if raw is None:
            raise NotFoundError("basket not found")
        item = BasketItem.from_dynamo(raw)
        if item.state is not ItemState.ACTIVE and not include_deleting:
            raise NotFoundError("basket not found")
        return item

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

    def _owner_allocations(self, user_id: str, gsi1pk: str) -> list[BrokerAllocation]:
        allocations = [
            AllocationItem.from_dynamo(raw).to_domain()
            for raw in self._query_all(
                IndexName=ALLOCATIONS_BY_STRATEGY,
                KeyConditionExpression="gsi1pk = :pk AND begins_with(gsi1sk, :prefix)",
                ExpressionAttributeValues={
                    ":pk": {"S": gsi1pk},
                    ":prefix": {"S": keys.GSI1_ALLOCATION_PREFIX},
                },
            )
        ]
        return [allocation for allocation in allocations if allocation.user_id == user_id]

    def _query_all(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        return query_all(self._client, TableName=self._table, **kwargs)

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
        scope = f"{prefix}{user_id}"
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": keys.user_pk(user_id)}, ":prefix": {"S": prefix}}
            | (values or {}),
            "Limit": _page_size(limit),
        }
        if filter_expression:
            kwargs["FilterExpression"] = filter_expression
        if names:
            kwargs["ExpressionAttributeNames"] = names
        start = self._cursors.decode(next_token, scope)
        if start is not None:
            kwargs["ExclusiveStartKey"] = start
        response = self._client.query(**kwargs)
        return response.get("Items", []), self._cursors.encode(response.get("LastEvaluatedKey"), scope)

    def _put_op(self, item: StoredItem, new: bool = False) -> dict[str, Any]:
        put: dict[str, Any] = {"TableName": self._table, "Item": item.to_dynamo()}
        if new:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        return {"Put": put}

    def _put_new(self, item: StoredItem) -> None:
        try:
            self._client.put_item(**self._put_op(item, new=True)["Put"])
        except ClientError as error:
            if condition_lost(error):
                raise AlreadyExistsError("an item with this id already exists") from error
            raise

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

    def _transact(self, ops: list[dict[str, Any]], raise_on_cancel: bool = True) -> list[Cancellation] | None:
        """Run one transaction; returns the cancellation reasons, or None when it committed."""
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
    ) -> dict[str, Any]:
        """SET the given attributes (REMOVE the ones set to None) if `version` is still expected."""
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
                Key=self._key(pk, sk),
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
            raise ConflictError("changed by someone else since it was read; reload it") from error
        return response["Attributes"]
