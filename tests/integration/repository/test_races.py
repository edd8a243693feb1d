"""Deterministic interleavings of two writers (in-process moto cannot run transactions on threads).

Writer A is paused just before its write is sent (a botocore `before-call` hook on A's own
client) while writer B runs to completion; then A's write goes out against what B left.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest

from shared_utils.clock import FixedClock
from shared_utils.errors import ConflictError, LimitExceededError
from shared_utils.models.allocation import AllocationCreate
from shared_utils.models.basket import BasketUpdate
from shared_utils.models.common import AllocationScope
from shared_utils.models.strategy import STRATEGY_LIMIT, StrategyUpdate
from shared_utils.repository import DynamoTradingRepository
from shared_utils.settings import RuntimeSettings
from tests.integration.repository.conftest import REGION, USER, make_repo, strategy_body


def pause_before(client: Any, operation: str, other_writer: Callable[[], Any]) -> dict[str, Any]:
    """Run `other_writer` once, at the moment `client` is about to send `operation`."""
    outcome: dict[str, Any] = {}

    def interleave(**_: Any) -> None:
        if "result" not in outcome:
            outcome["result"] = None
            outcome["result"] = other_writer()

    client.meta.events.register(f"before-call.dynamodb.{operation}", interleave)
    return outcome


@pytest.fixture
def writer_a(settings: RuntimeSettings, clock: FixedClock) -> tuple[DynamoTradingRepository, Any]:
    client = boto3.client("dynamodb", region_name=REGION)
    return make_repo(settings, clock, client), client


@pytest.fixture
def writer_b(settings: RuntimeSettings, clock: FixedClock) -> DynamoTradingRepository:
    return make_repo(settings, clock, boto3.client("dynamodb", region_name=REGION))


def test_two_creates_racing_at_nine_strategies_exactly_one_wins(
    repo: DynamoTradingRepository,
    basket_id: str,
    writer_a: tuple[DynamoTradingRepository, Any],
    writer_b: DynamoTradingRepository,
) -> None:
    for n in range(9):
        repo.create_strategy(USER, basket_id, strategy_body(f"S{n}"))
    repo_a, client_a = writer_a
    outcome = pause_before(
        client_a, "TransactWriteItems", lambda: writer_b.create_strategy(USER, basket_id, strategy_body("B"))
    )
    with pytest.raises(LimitExceededError) as caught:
        repo_a.create_strategy(USER, basket_id, strategy_body("A"))
    assert caught.value.code == STRATEGY_LIMIT
    assert outcome["result"].name == "B"
    names = [s.name for s in repo.get_basket_with_strategies(USER, basket_id).strategies]
    assert len(names) == 10 and "B" in names and "A" not in names
    assert repo.get_basket(USER, basket_id).strategy_count == 10


def test_two_strategy_updates_race_and_the_second_gets_a_conflict(
    repo: DynamoTradingRepository,
    basket_id: str,
    writer_a: tuple[DynamoTradingRepository, Any],
    writer_b: DynamoTradingRepository,
) -> None:
    strategy = repo.create_strategy(USER, basket_id, strategy_body("Original"))
    repo_a, client_a = writer_a
    # A has already read version 1 when B commits its own version-1 update.
    outcome = pause_before(
        client_a,
        "TransactWriteItems",
        lambda: writer_b.update_strategy(
            USER, strategy.strategy_id, StrategyUpdate(version=1, name="From B")
        ),
    )
    with pytest.raises(ConflictError) as caught:
        repo_a.update_strategy(USER, strategy.strategy_id, StrategyUpdate(version=1, name="From A"))
    assert caught.value.code == "VERSION_CONFLICT"
    assert outcome["result"].version == 2
    stored = repo.get_strategy(USER, strategy.strategy_id)
    assert (stored.name, stored.version) == ("From B", 2)


def test_two_basket_updates_race_and_the_second_gets_a_conflict(
    repo: DynamoTradingRepository,
    basket_id: str,
    writer_a: tuple[DynamoTradingRepository, Any],
    writer_b: DynamoTradingRepository,
) -> None:
    repo_a, client_a = writer_a
    pause_before(
        client_a,
        "UpdateItem",
        lambda: writer_b.update_basket(USER, basket_id, BasketUpdate(version=1, description="B's notes")),
    )
    with pytest.raises(ConflictError):
        repo_a.update_basket(USER, basket_id, BasketUpdate(version=1, name="A's name"))
    stored = repo.get_basket(USER, basket_id)
    assert (stored.name, stored.description, stored.version) == ("Weekly income", "B's notes", 2)


def test_strategy_delete_racing_an_allocation_create_keeps_no_orphan(
    repo: DynamoTradingRepository,
    basket_id: str,
    accounts: Any,
    writer_a: tuple[DynamoTradingRepository, Any],
    writer_b: DynamoTradingRepository,
    table_items: Any,
) -> None:
    strategy = repo.create_strategy(USER, basket_id, strategy_body())
    repo_a, client_a = writer_a
    pause_before(
        client_a,
        "TransactWriteItems",
        lambda: writer_b.create_allocation(
            USER,
            AllocationScope.STRATEGY,
            strategy.strategy_id,
            AllocationCreate(broker_account_id="paper-1", lots=1),
        ),
    )
    # A saw no allocations; B adds one before A commits: A's counter check fails and A retries.
    repo_a.delete_strategy(USER, strategy.strategy_id)
    leftovers = [
        item for item in table_items() if item["entity"]["S"] in {"STRATEGY", "ALLOCATION", "SCHEDULE"}
    ]
    assert leftovers == []
    assert repo.get_basket(USER, basket_id).strategy_count == 0


class _Http:
    status_code = 400
    headers: dict[str, str] = {}


def test_a_transaction_conflict_reported_by_dynamodb_is_a_retryable_conflict(
    repo: DynamoTradingRepository, basket_id: str, client: Any, table_items: Any
) -> None:
    """moto never reports TransactionConflict; DynamoDB does when another transaction holds an item."""

    def contended(**_: Any) -> tuple[Any, dict[str, Any]]:
        return _Http(), {
            "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
            "CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}, {"Code": "None"}],
        }

    before = table_items()
    client.meta.events.register("before-call.dynamodb.TransactWriteItems", contended)
    with pytest.raises(ConflictError) as caught:
        repo.create_strategy(USER, basket_id, strategy_body())
    assert caught.value.code == "TRANSACTION_CONFLICT"
    assert table_items() == before
