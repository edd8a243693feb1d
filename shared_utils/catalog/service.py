"""What the API may change in a user's baskets, strategies and broker allocations, and on what
terms; the repository then writes each change in one transaction.

The rules live here, not in the adapter: a strategy must be runnable when saved (an intraday
exit after its entry; every expiry its legs ask for listed by the index and resolvable by the
calendar), a delete never strands open positions (the strategies' leases are held, positions
closed first when asked, 409 OPEN_POSITIONS otherwise), and an allocation is only reached
through the strategy or basket it belongs to. Limits that must hold under races (10 strategies a
basket, 20 allocations an owner) are facts of the models that the repository's conditions
enforce atomically.
"""

from __future__ import annotations

from collections.abc import Callable

from shared_utils.clock import Clock, to_ist
from shared_utils.errors import ConflictError, NotFoundError
from shared_utils.execution.guards import flat_while_held
from shared_utils.execution.leases import StrategyLeases
from shared_utils.execution.service import ExecutionService
from shared_utils.market.calendar import TradingCalendar
from shared_utils.models.allocation import AllocationCreate, AllocationUpdate, BrokerAllocation
from shared_utils.models.basket import Basket, BasketCreate, BasketUpdate
from shared_utils.models.common import AllocationScope
from shared_utils.models.strategy import (
    Strategy,
    StrategyCreate,
    StrategyUpdate,
    refuse_unrunnable,
)
from shared_utils.models.views import BasketDetail, StrategyDetail
from shared_utils.repository.ports import TradingRepository


class TradingCatalog:
    def __init__(
        self,
        repository: TradingRepository,
        clock: Clock,
        calendar: Callable[[], TradingCalendar],
        execution: Callable[[], ExecutionService],
        leases: StrategyLeases,
        *,
        on_deleted: Callable[[str, list[str]], object] | None = None,
    ) -> None:
        """`on_deleted(user_id, strategy_ids)`: after strategies are deleted (their webhooks go)."""
        self._on_deleted = on_deleted
        self._repository = repository
        self._clock = clock
        self._calendar = calendar
        self._execution = execution
        self._leases = leases

    # ------------------------------------------------------------------ baskets

    def list_baskets(
        self, user_id: str, limit: int, next_token: str | None
    ) -> tuple[list[Basket], str | None]:
        return self._repository.list_baskets(user_id, limit, next_token)

    def create_basket(self, user_id: str, data: BasketCreate) -> Basket:
        return self._repository.create_basket(user_id, data)

    def basket(self, user_id: str, basket_id: str) -> BasketDetail:
        return self._repository.get_basket_with_strategies(user_id, basket_id)

    def update_basket(self, user_id: str, basket_id: str, data: BasketUpdate) -> Basket:
        return self._repository.update_basket(user_id, basket_id, data)

    def delete_basket(
        self, user_id: str, basket_id: str, version: int | None, *, close_positions: bool
    ) -> None:
        """The basket with everything under it, once none of its strategies holds a position."""
        strategies = [s.strategy_id for s in self.basket(user_id, basket_id).strategies]
        with flat_while_held(self._execution(), self._leases, user_id, strategies, close=close_positions):
            self._repository.delete_basket(user_id, basket_id, version)
        self._deleted(user_id, strategies)

    # ------------------------------------------------------------------ strategies

    def list_strategies(
        self, user_id: str, basket_id: str | None, limit: int, next_token: str | None
    ) -> tuple[list[Strategy], str | None]:
        return self._repository.list_strategies(user_id, basket_id, limit, next_token)

    def create_strategy(self, user_id: str, basket_id: str, data: StrategyCreate) -> Strategy:
        self._refuse_unrunnable(data)
        return self._repository.create_strategy(user_id, basket_id, data)

    def strategy(self, user_id: str, strategy_id: str) -> StrategyDetail:
        return self._repository.get_strategy_with_allocations(user_id, strategy_id)

    def update_strategy(self, user_id: str, strategy_id: str, data: StrategyUpdate) -> Strategy:
        """The strategy after the changes, judged whole before it is written (a new entry time
        against the old exit, new legs on the old index ...)."""
        current = self._repository.get_strategy(user_id, strategy_id)
        if current.version != data.version:
            raise ConflictError("strategy was changed by someone else; reload it")
        updated = current.with_changes(data.changes(), self._clock.now())
        self._refuse_unrunnable(updated)
        return self._repository.replace_strategy(updated, data.version)

    def delete_strategy(
        self, user_id: str, strategy_id: str, version: int | None, *, close_positions: bool
    ) -> None:
        self._repository.get_strategy(user_id, strategy_id)  # 404 before anything closes
        with flat_while_held(self._execution(), self._leases, user_id, [strategy_id], close=close_positions):
            self._repository.delete_strategy(user_id, strategy_id, version)
        self._deleted(user_id, [strategy_id])

    def _deleted(self, user_id: str, strategy_ids: list[str]) -> None:
        if self._on_deleted is not None and strategy_ids:
            self._on_deleted(user_id, strategy_ids)

    def _refuse_unrunnable(self, strategy: StrategyCreate | Strategy) -> None:
        refuse_unrunnable(strategy, to_ist(self._clock.now()).date(), self._calendar())

    # ------------------------------------------------------------------ allocations

    def list_allocations(
        self, user_id: str, scope: AllocationScope, scope_id: str, limit: int, next_token: str | None
    ) -> tuple[list[BrokerAllocation], str | None]:
        return self._repository.list_allocations(user_id, scope, scope_id, limit, next_token)

    def create_allocation(
        self, user_id: str, scope: AllocationScope, scope_id: str, data: AllocationCreate
    ) -> BrokerAllocation:
        return self._repository.create_allocation(user_id, scope, scope_id, data)

    def allocation(
        self, user_id: str, scope: AllocationScope, scope_id: str, allocation_id: str
    ) -> BrokerAllocation:
        """The allocation, only if it belongs to this strategy (or basket) of the caller."""
        allocation = self._repository.get_allocation(user_id, allocation_id)
        if allocation.scope is not scope or allocation.scope_id != scope_id:
            raise NotFoundError("allocation not found")
        return allocation

    def update_allocation(
        self, user_id: str, scope: AllocationScope, scope_id: str, allocation_id: str, data: AllocationUpdate
    ) -> BrokerAllocation:
        self.allocation(user_id, scope, scope_id, allocation_id)
        return self._repository.update_allocation(user_id, allocation_id, data)

    def delete_allocation(
        self, user_id: str, scope: AllocationScope, scope_id: str, allocation_id: str, version: int | None
    ) -> None:
        self.allocation(user_id, scope, scope_id, allocation_id)
        self._repository.delete_allocation(user_id, allocation_id, version)
