"""Races with real threads against a moto *server* on 127.0.0.1 (ThreadedMotoServer, port 0):
in-process moto is not thread-safe for transactions, the HTTP server is. Every worker shares one
boto3 client (thread-safe) and fires at the same moment (a barrier)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest

from shared_utils.clock import FixedClock
from shared_utils.errors import ConflictError, DomainError, LimitExceededError
from shared_utils.models.allocation import (
    MAX_ALLOCATIONS_PER_OWNER,
    MAX_LOTS_PER_ALLOCATION,
    AllocationCreate,
    AllocationUpdate,
)
from shared_utils.models.basket import BasketCreate
from shared_utils.models.broker_account import BrokerAccount
from shared_utils.models.common import AllocationScope
from shared_utils.models.strategy import STRATEGY_LIMIT
from shared_utils.repository import DynamoBrokerAccounts, DynamoTradingRepository
from tests.integration.repository.conftest import strategy_body
from tests.reliability.conftest import MotoServer

USER = "racer-1"
WORKERS = 50
NOW = datetime(2026, 11, 24, 3, 30, tzinfo=UTC)


def race(count: int, attempt: Callable[[int], Any]) -> list[Any]:
    """Run `attempt(i)` for i in range(count) on `count` threads released together; each result
    is the return value or the raised exception."""
    barrier = threading.Barrier(count)

    def one(i: int) -> Any:
        barrier.wait()
        try:
            return attempt(i)
        except DomainError as error:
            return error

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def repo_on(server: MotoServer) -> DynamoTradingRepository:
    return DynamoTradingRepository.from_settings(server.settings, server.client(), FixedClock(NOW))


def test_fifty_concurrent_creations_at_nine_strategies_exactly_one_succeeds(moto_server: MotoServer) -> None:
    repo = repo_on(moto_server)
    basket_id = repo.create_basket(USER, BasketCreate(name="Nearly full")).basket_id
    for n in range(9):
        repo.create_strategy(USER, basket_id, strategy_body(f"S{n}"))

    outcomes = race(WORKERS, lambda i: repo.create_strategy(USER, basket_id, strategy_body(f"Racer {i}")))

    winners = [o for o in outcomes if not isinstance(o, Exception)]
    losers = [o for o in outcomes if isinstance(o, Exception)]
    assert len(winners) == 1, outcomes
    assert all(isinstance(o, LimitExceededError) and o.code == STRATEGY_LIMIT for o in losers), losers
    detail = repo.get_basket_with_strategies(USER, basket_id)
    assert detail.basket.strategy_count == len(detail.strategies) == 10
    assert winners[0].strategy_id in {s.strategy_id for s in detail.strategies}
    listed, _ = repo.list_strategies(USER, basket_id, limit=100)
    assert len(listed) == 10
    # No orphan of a losing transaction: strategy and schedule items only for the ten.
    items = moto_server.client().scan(TableName=moto_server.settings.trading_table_name)["Items"]
    kinds = [item["entity"]["S"] for item in items]
    assert kinds.count("STRATEGY") == 10
    assert kinds.count("SCHEDULE") == 20


@pytest.fixture
def accounts(moto_server: MotoServer) -> DynamoBrokerAccounts:
    store = DynamoBrokerAccounts(moto_server.client(), moto_server.settings.broker_accounts_table_name)
    for n in range(WORKERS):
        store.put_account(
            BrokerAccount(
                user_id=USER,
                broker_account_id=f"paper-{n}",
                broker="PAPER",
                label=f"Paper {n}",
                paper=True,
                created_at=NOW,
            )
        )
    return store


def test_concurrent_allocations_never_pass_the_cap_of_twenty(
    moto_server: MotoServer, accounts: DynamoBrokerAccounts
) -> None:
    repo = repo_on(moto_server)
    basket_id = repo.create_basket(USER, BasketCreate(name="Many brokers")).basket_id
    strategy_id = repo.create_strategy(USER, basket_id, strategy_body()).strategy_id

    outcomes = race(
        WORKERS,
        lambda i: repo.create_allocation(
            USER,
            AllocationScope.STRATEGY,
            strategy_id,
            AllocationCreate(broker_account_id=f"paper-{i}", lots=1),
        ),
    )

    created = [o for o in outcomes if not isinstance(o, Exception)]
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(created) == MAX_ALLOCATIONS_PER_OWNER
    assert all(isinstance(o, LimitExceededError) for o in refused), refused
    detail = repo.get_strategy_with_allocations(USER, strategy_id)
    assert (
        detail.strategy.allocation_count == len(detail.allocations.allocations) == MAX_ALLOCATIONS_PER_OWNER
    )


def test_concurrent_updates_of_one_allocation_one_wins_the_rest_conflict(
    moto_server: MotoServer, accounts: DynamoBrokerAccounts
) -> None:
    repo = repo_on(moto_server)
    basket_id = repo.create_basket(USER, BasketCreate(name="One broker")).basket_id
    strategy_id = repo.create_strategy(USER, basket_id, strategy_body()).strategy_id
    allocation = repo.create_allocation(
        USER, AllocationScope.STRATEGY, strategy_id, AllocationCreate(broker_account_id="paper-0", lots=5)
    )

    outcomes = race(
        WORKERS,
        lambda i: repo.update_allocation(
            USER, allocation.allocation_id, AllocationUpdate(version=1, lots=100 + i)
        ),
    )

    winners = [o for o in outcomes if not isinstance(o, Exception)]
    assert len(winners) == 1
    assert all(isinstance(o, ConflictError) for o in outcomes if isinstance(o, Exception))
    stored = repo.get_allocation(USER, allocation.allocation_id)
    assert (stored.lots, stored.version) == (winners[0].lots, 2)  # no lost or merged update


def test_stale_version_is_a_409_and_a_retry_with_the_fresh_version_succeeds(api, build_world) -> None:
    world = build_world("user-a")
    path = "/options/strategies/{strategy_id}/brokers/{allocation_id}"
    ids = {"strategy_id": world.strategy_id, "allocation_id": world.strategy_allocation_id}
    first = api("PUT", path, body={"version": 1, "lots": 3}, **ids)
    assert first.status == 200 and first.body["version"] == 2

    stale = api("PUT", path, body={"version": 1, "lots": 7}, **ids)
    assert stale.status == 409, stale.body

    fresh = api("GET", "/options/strategies/{strategy_id}/brokers", strategy_id=world.strategy_id)
    version = next(
        a["version"] for a in fresh.body["items"] if a["allocation_id"] == world.strategy_allocation_id
    )
    retried = api("PUT", path, body={"version": version, "lots": 7}, **ids)
    assert retried.status == 200 and (retried.body["lots"], retried.body["version"]) == (7, 3)

    over_cap = api("PUT", path, body={"version": 3, "lots": MAX_LOTS_PER_ALLOCATION + 1}, **ids)
    assert over_cap.status == 422
    kept = api("GET", "/options/strategies/{strategy_id}", strategy_id=world.strategy_id)
    assert [a["lots"] for a in kept.body["allocations"]["allocations"]] == [7]
