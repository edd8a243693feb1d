"""Broker allocations: inheritance from the basket, uniqueness per account, limits, request counts."""

from __future__ import annotations

from typing import Any

import pytest

from shared_utils.errors import (
    AlreadyExistsError,
    ConflictError,
    InvalidInputError,
    LimitExceededError,
    NotFoundError,
)
from shared_utils.models.allocation import (
    ALLOCATION_LIMIT,
    MAX_ALLOCATIONS_PER_OWNER,
    AllocationCreate,
    AllocationUpdate,
)
from shared_utils.models.broker_account import BrokerAccount
from shared_utils.models.common import AllocationScope
from shared_utils.repository import DynamoBrokerAccounts, DynamoTradingRepository
from tests.integration.repository.conftest import OTHER_USER, USER, RequestCounter, strategy_body

STRATEGY, BASKET = AllocationScope.STRATEGY, AllocationScope.BASKET


@pytest.fixture
def strategy_id(repo: DynamoTradingRepository, basket_id: str, accounts: DynamoBrokerAccounts) -> str:
    return repo.create_strategy(USER, basket_id, strategy_body()).strategy_id


def test_strategy_without_own_allocations_inherits_basket_defaults(
    repo: DynamoTradingRepository, basket_id: str, strategy_id: str
) -> None:
    repo.create_allocation(USER, BASKET, basket_id, AllocationCreate(broker_account_id="paper-1", lots=2))
    repo.create_allocation(USER, BASKET, basket_id, AllocationCreate(broker_account_id="paper-2", lots=3))
    detail = repo.get_strategy_with_allocations(USER, strategy_id)
    assert detail.allocations.source is BASKET
    assert detail.allocations.total_lots == 5
    assert {a.broker_account_id for a in detail.allocations.allocations} == {"paper-1", "paper-2"}


def test_own_allocations_replace_the_defaults_and_deleting_them_restores_inheritance(
    repo: DynamoTradingRepository, basket_id: str, strategy_id: str
) -> None:
    repo.create_allocation(USER, BASKET, basket_id, AllocationCreate(broker_account_id="paper-1", lots=2))
    own = repo.create_allocation(
        USER,
        STRATEGY,
        strategy_id,
        AllocationCreate(broker_account_id="paper-3", lots=7, max_lots_per_order=4),
    )
    detail = repo.get_strategy_with_allocations(USER, strategy_id)
    assert detail.allocations.source is STRATEGY
    assert [(a.broker_account_id, a.lots, a.broker) for a in detail.allocations.allocations] == [
        ("paper-3", 7, "PAPER")
    ]
    repo.delete_allocation(USER, own.allocation_id, version=1)
    assert repo.get_strategy_with_allocations(USER, strategy_id).allocations.source is BASKET


def test_strategy_with_allocations_costs_at_most_two_requests(
    repo: DynamoTradingRepository, basket_id: str, strategy_id: str, counter: RequestCounter
) -> None:
    repo.create_allocation(USER, BASKET, basket_id, AllocationCreate(broker_account_id="paper-1", lots=1))
    counter.reset()
    repo.get_strategy_with_allocations(USER, strategy_id)
    assert counter.operations == ["GetItem", "Query"]
    repo.create_allocation(USER, STRATEGY, strategy_id, AllocationCreate(broker_account_id="paper-2", lots=1))
    counter.reset()
    assert repo.get_strategy_with_allocations(USER, strategy_id).allocations.source is STRATEGY
    assert counter.count == 2


def test_one_allocation_per_account_per_strategy(
    repo: DynamoTradingRepository, strategy_id: str, table_items: Any
) -> None:
    repo.create_allocation(USER, STRATEGY, strategy_id, AllocationCreate(broker_account_id="paper-1", lots=1))
    before = table_items()
    with pytest.raises(AlreadyExistsError):
        repo.create_allocation(
            USER, STRATEGY, strategy_id, AllocationCreate(broker_account_id="paper-1", lots=9)
        )
    assert table_items() == before
    assert repo.get_strategy(USER, strategy_id).allocation_count == 1


def test_unknown_or_foreign_broker_account_is_rejected_by_field(
    repo: DynamoTradingRepository, strategy_id: str, table_items: Any
) -> None:
    before = table_items()
    with pytest.raises(InvalidInputError) as caught:
        repo.create_allocation(
            USER, STRATEGY, strategy_id, AllocationCreate(broker_account_id="zerodha-9", lots=1)
        )
    assert [issue.field for issue in caught.value.details] == ["broker_account_id"]
    with pytest.raises(NotFoundError):
        repo.create_allocation(
            OTHER_USER, STRATEGY, strategy_id, AllocationCreate(broker_account_id="paper-1", lots=1)
        )
    assert table_items() == before


def test_allocation_update_is_versioned_and_clears_limits(
    repo: DynamoTradingRepository, strategy_id: str
) -> None:
    allocation = repo.create_allocation(
        USER,
        STRATEGY,
        strategy_id,
        AllocationCreate(broker_account_id="paper-1", lots=4, max_orders_per_day=3),
    )
    updated = repo.update_allocation(
        USER, allocation.allocation_id, AllocationUpdate(version=1, lots=6, max_orders_per_day=None)
    )
    assert (updated.lots, updated.max_orders_per_day, updated.version) == (6, None, 2)
    assert repo.get_allocation(USER, allocation.allocation_id) == updated
    with pytest.raises(ConflictError):
        repo.update_allocation(USER, allocation.allocation_id, AllocationUpdate(version=1, lots=1))
    with pytest.raises(InvalidInputError):
        repo.update_allocation(USER, allocation.allocation_id, AllocationUpdate(version=2, lots=None))
    with pytest.raises(NotFoundError):
        repo.get_allocation(OTHER_USER, allocation.allocation_id)


def test_list_allocations_pages_and_checks_the_owner(
    repo: DynamoTradingRepository, basket_id: str, strategy_id: str
) -> None:
    for n in (1, 2, 3):
        repo.create_allocation(
            USER, BASKET, basket_id, AllocationCreate(broker_account_id=f"paper-{n}", lots=n)
        )
    first, token = repo.list_allocations(USER, BASKET, basket_id, limit=2)
    rest, last = repo.list_allocations(USER, BASKET, basket_id, limit=2, next_token=token)
    assert last is None
    assert sorted(a.lots for a in first + rest) == [1, 2, 3]
    assert repo.list_allocations(USER, STRATEGY, strategy_id) == ([], None)
    with pytest.raises(NotFoundError):
        repo.list_allocations(OTHER_USER, BASKET, basket_id)


def test_deleting_a_strategy_removes_its_allocations(
    repo: DynamoTradingRepository, basket_id: str, strategy_id: str
) -> None:
    own = repo.create_allocation(
        USER, STRATEGY, strategy_id, AllocationCreate(broker_account_id="paper-1", lots=1)
    )
    repo.delete_strategy(USER, strategy_id)
    with pytest.raises(NotFoundError):
        repo.get_allocation(USER, own.allocation_id)
    assert repo.get_basket(USER, basket_id).strategy_count == 0


def test_broker_accounts_are_listed_without_secrets(
    accounts: DynamoBrokerAccounts, client: Any, settings: Any
) -> None:
    listed, token = accounts.list_accounts(USER, limit=2)
    more, end = accounts.list_accounts(USER, limit=2, next_token=token)
    assert end is None
    assert [a.broker_account_id for a in listed + more] == ["paper-1", "paper-2", "paper-3"]
    assert all(a.paper and a.broker == "PAPER" for a in listed + more)
    stored = client.get_item(
        TableName=settings.broker_accounts_table_name,
        Key={"user_id": {"S": USER}, "broker_account_id": {"S": "paper-1"}},
    )["Item"]
    assert "secret_ref" in stored
    assert "secret_ref" not in listed[0].model_dump()
    with pytest.raises(AlreadyExistsError):
        accounts.put_account(listed[0])


def test_basket_detail_carries_its_default_allocations(
    repo: DynamoTradingRepository, basket_id: str, strategy_id: str
) -> None:
    repo.create_allocation(USER, BASKET, basket_id, AllocationCreate(broker_account_id="paper-2", lots=4))
    detail = repo.get_basket_with_strategies(USER, basket_id)
    assert [(a.broker_account_id, a.lots) for a in detail.default_allocations] == [("paper-2", 4)]
    assert detail.basket.default_allocation_count == 1
    assert [s.strategy_id for s in detail.strategies] == [strategy_id]


def test_allocations_per_strategy_are_capped(
    repo: DynamoTradingRepository, strategy_id: str, accounts: DynamoBrokerAccounts, table_items: Any
) -> None:
    for n in range(MAX_ALLOCATIONS_PER_OWNER + 1):
        accounts.put_account(
            BrokerAccount(user_id=USER, broker_account_id=f"acc-{n}", broker="PAPER", paper=True)
        )
    for n in range(MAX_ALLOCATIONS_PER_OWNER):
        repo.create_allocation(
            USER, STRATEGY, strategy_id, AllocationCreate(broker_account_id=f"acc-{n}", lots=1)
        )
    before = table_items()
    with pytest.raises(LimitExceededError) as caught:
        repo.create_allocation(
            USER,
            STRATEGY,
            strategy_id,
            AllocationCreate(broker_account_id=f"acc-{MAX_ALLOCATIONS_PER_OWNER}", lots=1),
        )
    assert caught.value.code == ALLOCATION_LIMIT
    assert table_items() == before
    # The strategy and all its allocations still go in one delete.
    repo.delete_strategy(USER, strategy_id)
    assert [i for i in table_items() if i["entity"]["S"] in {"STRATEGY", "ALLOCATION", "SCHEDULE"}] == []


def test_page_size_is_bounded(repo: DynamoTradingRepository) -> None:
    with pytest.raises(InvalidInputError):
        repo.list_baskets(USER, limit=0)
    with pytest.raises(InvalidInputError):
        repo.list_baskets(USER, limit=101)
