"""Deleting a basket removes its strategies, allocations and schedule entries; a run that dies
halfway leaves no orphan and a second call finishes the job."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from shared_utils.errors import ConflictError, NotFoundError
from shared_utils.models.allocation import AllocationCreate
from shared_utils.models.basket import BasketCreate
from shared_utils.models.common import AllocationScope
from shared_utils.repository import DynamoBrokerAccounts, DynamoTradingRepository
from tests.integration.repository.conftest import OTHER_USER, START, USER, strategy_body


def orphans(items: list[dict[str, Any]]) -> list[str]:
    """Items whose parent is gone: the thing a half-finished delete must never leave."""
    present = {item["sk"]["S"] for item in items if item["pk"]["S"] == f"USER#{USER}"}
    lost = []
    for item in items:
        if item["pk"]["S"] != f"USER#{USER}":
            continue
        entity = item["entity"]["S"]
        if entity == "STRATEGY":
            parent = f"BASKET#{item['basket_id']['S']}"
        elif entity == "ALLOCATION":
            parent = f"{item['scope']['S']}#{item['scope_id']['S']}"
        elif entity == "SCHEDULE":
            parent = f"STRATEGY#{item['strategy_id']['S']}"
        else:
            continue
        if parent not in present:
            lost.append(item["sk"]["S"])
    return lost


@pytest.fixture
def full_basket(repo: DynamoTradingRepository, accounts: DynamoBrokerAccounts) -> str:
    basket_id = repo.create_basket(USER, BasketCreate(name="Doomed")).basket_id
    repo.create_allocation(
        USER, AllocationScope.BASKET, basket_id, AllocationCreate(broker_account_id="paper-1", lots=1)
    )
    for n in range(4):
        strategy = repo.create_strategy(USER, basket_id, strategy_body(f"S{n}"))
        for account in ("paper-2", "paper-3")[: n % 3]:
            repo.create_allocation(
                USER,
                AllocationScope.STRATEGY,
                strategy.strategy_id,
                AllocationCreate(broker_account_id=account, lots=2),
            )
    return basket_id


def test_cascade_delete_leaves_nothing_of_the_basket(
    repo: DynamoTradingRepository, full_basket: str, table_items: Any
) -> None:
    keep = repo.create_basket(USER, BasketCreate(name="Keep")).basket_id
    kept_strategy = repo.create_strategy(USER, keep, strategy_body("Kept"))
    repo.create_basket(OTHER_USER, BasketCreate(name="Theirs"))
    repo.delete_basket(USER, full_basket, version=1)
    remaining = {item["sk"]["S"] for item in table_items() if item["pk"]["S"] == f"USER#{USER}"}
    assert remaining == {
        f"BASKET#{keep}",
        f"STRATEGY#{kept_strategy.strategy_id}",
        f"SCHEDULE#{kept_strategy.strategy_id}#ENTRY",
        f"SCHEDULE#{kept_strategy.strategy_id}#EXIT",
    }
    with pytest.raises(NotFoundError):
        repo.get_basket(USER, full_basket)
    due = repo.due_schedule_entries(START, START + timedelta(hours=12))
    assert {entry.strategy_id for entry in due if entry.user_id == USER} == {kept_strategy.strategy_id}


def test_stale_version_refuses_the_delete(
    repo: DynamoTradingRepository, full_basket: str, table_items: Any
) -> None:
    before = table_items()
    with pytest.raises(ConflictError):
        repo.delete_basket(USER, full_basket, version=7)
    assert table_items() == before


def test_interrupted_delete_leaves_no_orphans_and_resumes(
    repo: DynamoTradingRepository, full_basket: str, client: Any, table_items: Any
) -> None:
    transactions = {"count": 0}

    def crash_on_third(**_: Any) -> None:
        transactions["count"] += 1
        if transactions["count"] == 3:
            raise EndpointConnectionError(endpoint_url="https://dynamodb.ap-south-1.amazonaws.com")

    client.meta.events.register("before-call.dynamodb.TransactWriteItems", crash_on_third)
    with pytest.raises(EndpointConnectionError):
        repo.delete_basket(USER, full_basket)
    client.meta.events.unregister("before-call.dynamodb.TransactWriteItems", crash_on_third)

    items = table_items()
    assert orphans(items) == []
    assert f"BASKET#{full_basket}" in {item["sk"]["S"] for item in items}
    # The half-deleted basket is gone for readers and cannot gain strategies meanwhile.
    with pytest.raises(NotFoundError):
        repo.get_basket(USER, full_basket)
    with pytest.raises(NotFoundError):
        repo.create_strategy(USER, full_basket, strategy_body("Late"))
    assert repo.list_baskets(USER) == ([], None)

    repo.delete_basket(USER, full_basket)
    assert [item for item in table_items() if item["pk"]["S"] == f"USER#{USER}"] == []


def test_a_basket_being_deleted_accepts_no_new_allocations(
    repo: DynamoTradingRepository, full_basket: str, client: Any, table_items: Any
) -> None:
    strategy_id = next(
        item["strategy_id"]["S"] for item in table_items() if item["entity"]["S"] == "STRATEGY"
    )

    def crash(**_: Any) -> None:
        raise EndpointConnectionError(endpoint_url="https://dynamodb.ap-south-1.amazonaws.com")

    client.meta.events.register("before-call.dynamodb.TransactWriteItems", crash)
    with pytest.raises(EndpointConnectionError):
        repo.delete_basket(USER, full_basket)
    client.meta.events.unregister("before-call.dynamodb.TransactWriteItems", crash)
    before = table_items()
    with pytest.raises(NotFoundError):
        repo.create_allocation(
            USER, AllocationScope.STRATEGY, strategy_id, AllocationCreate(broker_account_id="paper-1", lots=5)
        )
    with pytest.raises(NotFoundError):
        repo.create_allocation(
            USER, AllocationScope.BASKET, full_basket, AllocationCreate(broker_account_id="paper-3", lots=5)
        )
    assert table_items() == before
