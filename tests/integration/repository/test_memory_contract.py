"""The backtest's strategies in memory read as the DynamoDB repository reads them: the same
strategies, effective allocations (own or the basket's), statuses and due schedule entries in
every window (half-open, across UTC midnight, weekday filters, paused strategies)."""

from __future__ import annotations

from datetime import datetime, timedelta

from shared_utils.clock import IST
from shared_utils.models.allocation import AllocationCreate
from shared_utils.models.basket import BasketCreate
from shared_utils.models.common import AllocationScope, StrategyStatus
from shared_utils.models.strategy import StrategyUpdate
from shared_utils.repository import DynamoTradingRepository
from shared_utils.repository.memory import InMemoryStrategies
from tests.integration.repository.conftest import OTHER_USER, USER, strategy_body

MONDAY = datetime(2026, 11, 23, tzinfo=IST)


def test_the_memory_strategies_read_as_the_repository_does(repo: DynamoTradingRepository, accounts) -> None:
    basket = repo.create_basket(USER, BasketCreate(name="B")).basket_id
    repo.create_allocation(
        USER, AllocationScope.BASKET, basket, AllocationCreate(broker_account_id="paper-1", lots=2)
    )
    inherited = repo.create_strategy(USER, basket, strategy_body("Inherits")).strategy_id
    own = repo.create_strategy(
        USER, basket, strategy_body("Own", entry={"time": "09:20", "weekdays": ["TUE", "THU"]})
    ).strategy_id
    repo.create_allocation(
        USER, AllocationScope.STRATEGY, own, AllocationCreate(broker_account_id="paper-1", lots=3)
    )
    made = repo.create_strategy(USER, basket, strategy_body("Paused", exit={"time": "05:40"}))
    paused = made.strategy_id
    repo.update_strategy(USER, paused, StrategyUpdate(status=StrategyStatus.PAUSED, version=made.version))
    other_basket = repo.create_basket(OTHER_USER, BasketCreate(name="C")).basket_id
    late = repo.create_strategy(
        OTHER_USER, other_basket, strategy_body("Late", entry={"time": "05:29", "weekdays": ["MON"]},
                                                exit={"time": "05:31"})
    ).strategy_id  # fmt: skip
    pairs = [(USER, inherited), (USER, own), (USER, paused), (OTHER_USER, late)]
    memory = InMemoryStrategies([repo.get_strategy_with_allocations(user, s) for user, s in pairs])

    for user, strategy in pairs:
        assert memory.get_strategy_with_allocations(user, strategy) == repo.get_strategy_with_allocations(
            user, strategy
        )
    wanted = [*pairs, (USER, "missing")]
    assert memory.get_strategies(wanted) == repo.get_strategies(wanted)
    seen = 0
    for day in range(7):
        start = MONDAY + timedelta(days=day)
        for hours, minutes in ((0, 5), (9, 15), (9, 21), (15, 16), (5, 30), (3, 60 * 24)):
            window = (start + timedelta(hours=hours), start + timedelta(hours=hours, minutes=minutes))
            found = memory.due_schedule_entries(*window)
            assert found == repo.due_schedule_entries(*window), window
            seen += len(found)
    assert seen > 20  # windows with entries were compared, not only empty ones
