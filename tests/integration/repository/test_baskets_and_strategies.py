"""Baskets and strategies on moto: conditional create, versioned updates, limits, ownership."""

from __future__ import annotations

from typing import Any

import pytest

from shared_utils.errors import (
    BadRequestError,
    ConflictError,
    LimitExceededError,
    NotFoundError,
)
from shared_utils.models.basket import BasketCreate, BasketUpdate
from shared_utils.models.common import StrategyStatus
from shared_utils.models.strategy import STRATEGY_LIMIT, StrategyUpdate
from shared_utils.repository import DynamoTradingRepository
from tests.integration.repository.conftest import OTHER_USER, USER, strategy_body


def test_basket_create_get_update_round_trip(repo: DynamoTradingRepository) -> None:
    created = repo.create_basket(USER, BasketCreate(name="Weekly", description="Tuesday expiry"))
    assert repo.get_basket(USER, created.basket_id) == created
    updated = repo.update_basket(USER, created.basket_id, BasketUpdate(version=1, name="Weekly v2"))
    assert (updated.name, updated.description, updated.version) == ("Weekly v2", "Tuesday expiry", 2)
    assert repo.get_basket(USER, created.basket_id) == updated


def test_stale_basket_update_is_a_conflict_and_changes_nothing(
    repo: DynamoTradingRepository, basket_id: str, table_items: Any
) -> None:
    repo.update_basket(USER, basket_id, BasketUpdate(version=1, name="First"))
    before = table_items()
    with pytest.raises(ConflictError) as caught:
        repo.update_basket(USER, basket_id, BasketUpdate(version=1, name="Lost update"))
    assert caught.value.code == "VERSION_CONFLICT"
    assert table_items() == before
    assert repo.get_basket(USER, basket_id).name == "First"


def test_someone_elses_basket_is_not_found(repo: DynamoTradingRepository, basket_id: str) -> None:
    with pytest.raises(NotFoundError):
        repo.get_basket(OTHER_USER, basket_id)
    with pytest.raises(NotFoundError):
        repo.get_basket_with_strategies(OTHER_USER, basket_id)
    with pytest.raises(NotFoundError):
        repo.create_strategy(OTHER_USER, basket_id, strategy_body())
    with pytest.raises(NotFoundError):
        repo.update_basket(OTHER_USER, basket_id, BasketUpdate(version=1, name="Mine now"))


def test_list_baskets_pages_through_every_basket_once(repo: DynamoTradingRepository) -> None:
    created = {repo.create_basket(USER, BasketCreate(name=f"B{n}")).basket_id for n in range(7)}
    repo.create_basket(OTHER_USER, BasketCreate(name="Not mine"))
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        items, token = repo.list_baskets(USER, limit=3, next_token=token)
        seen += [basket.basket_id for basket in items]
        pages += 1
        if token is None:
            break
    assert sorted(seen) == sorted(created)
    assert pages >= 3


def test_strategy_is_returned_complete_with_its_legs(repo: DynamoTradingRepository, basket_id: str) -> None:
    created = repo.create_strategy(USER, basket_id, strategy_body())
    fetched = repo.get_strategy(USER, created.strategy_id)
    assert fetched == created
    assert [leg.option_type.value for leg in fetched.legs] == ["CE", "PE"]
    assert fetched.legs[1].stop_loss is not None and fetched.legs[1].stop_loss.value == 30
    assert repo.get_basket(USER, basket_id).strategy_count == 1


def test_eleventh_strategy_is_refused_and_nothing_is_written(
    repo: DynamoTradingRepository, basket_id: str, table_items: Any
) -> None:
    for n in range(10):
        repo.create_strategy(USER, basket_id, strategy_body(f"S{n}"))
    before = table_items()
    with pytest.raises(LimitExceededError) as caught:
        repo.create_strategy(USER, basket_id, strategy_body("S10"))
    assert caught.value.code == STRATEGY_LIMIT
    assert table_items() == before
    assert repo.get_basket(USER, basket_id).strategy_count == 10


def test_deleting_a_strategy_frees_a_slot(repo: DynamoTradingRepository, basket_id: str) -> None:
    strategies = [repo.create_strategy(USER, basket_id, strategy_body(f"S{n}")) for n in range(10)]
    repo.delete_strategy(USER, strategies[0].strategy_id, version=1)
    assert repo.create_strategy(USER, basket_id, strategy_body("Replacement")).name == "Replacement"
    assert repo.get_basket(USER, basket_id).strategy_count == 10
    with pytest.raises(NotFoundError):
        repo.get_strategy(USER, strategies[0].strategy_id)


def test_strategy_update_is_versioned(
    repo: DynamoTradingRepository, basket_id: str, table_items: Any
) -> None:
    strategy = repo.create_strategy(USER, basket_id, strategy_body())
    updated = repo.update_strategy(USER, strategy.strategy_id, StrategyUpdate(version=1, name="Renamed"))
    assert (updated.name, updated.version, updated.legs) == ("Renamed", 2, strategy.legs)
    before = table_items()
    with pytest.raises(ConflictError):
        repo.update_strategy(USER, strategy.strategy_id, StrategyUpdate(version=1, name="Stale"))
    with pytest.raises(ConflictError):
        repo.delete_strategy(USER, strategy.strategy_id, version=1)
    assert table_items() == before


def test_update_replaces_legs_and_validates_the_whole(repo: DynamoTradingRepository, basket_id: str) -> None:
    strategy = repo.create_strategy(USER, basket_id, strategy_body())
    legs = strategy_body().legs[:1]
    updated = repo.update_strategy(
        USER, strategy.strategy_id, StrategyUpdate(version=1, legs=legs, exit=None)
    )
    fetched = repo.get_strategy(USER, strategy.strategy_id)
    assert fetched == updated
    assert len(fetched.legs) == 1 and fetched.exit is None


def test_list_strategies_of_a_basket_and_of_a_user(repo: DynamoTradingRepository, basket_id: str) -> None:
    other_basket = repo.create_basket(USER, BasketCreate(name="Other")).basket_id
    in_basket = {repo.create_strategy(USER, basket_id, strategy_body(f"S{n}")).strategy_id for n in range(5)}
    repo.create_strategy(USER, other_basket, strategy_body("Elsewhere"))
    seen: list[str] = []
    token: str | None = None
    while True:
        items, token = repo.list_strategies(USER, basket_id, limit=2, next_token=token)
        seen += [strategy.strategy_id for strategy in items]
        if token is None:
            break
    assert sorted(seen) == sorted(in_basket)
    everything, token = repo.list_strategies(USER, limit=50)
    assert len(everything) == 6 and token is None
    with pytest.raises(NotFoundError):
        repo.list_strategies(OTHER_USER, basket_id)


def test_basket_with_strategies(repo: DynamoTradingRepository, basket_id: str) -> None:
    ids = {repo.create_strategy(USER, basket_id, strategy_body(f"S{n}")).strategy_id for n in range(3)}
    detail = repo.get_basket_with_strategies(USER, basket_id)
    assert detail.basket.strategy_count == 3
    assert {strategy.strategy_id for strategy in detail.strategies} == ids
    assert all(len(strategy.legs) == 2 for strategy in detail.strategies)


def test_pause_and_resume_keep_the_strategy(repo: DynamoTradingRepository, basket_id: str) -> None:
    strategy = repo.create_strategy(USER, basket_id, strategy_body())
    paused = repo.update_strategy(
        USER, strategy.strategy_id, StrategyUpdate(version=1, status=StrategyStatus.PAUSED)
    )
    assert repo.get_strategy(USER, strategy.strategy_id).status is StrategyStatus.PAUSED
    resumed = repo.update_strategy(
        USER, strategy.strategy_id, StrategyUpdate(version=paused.version, status=StrategyStatus.ACTIVE)
    )
    assert resumed.version == 3


def test_a_cursor_from_another_users_listing_is_refused(repo: DynamoTradingRepository) -> None:
    for n in range(3):
        repo.create_basket(USER, BasketCreate(name=f"B{n}"))
    _, token = repo.list_baskets(USER, limit=1)
    with pytest.raises(BadRequestError) as caught:
        repo.list_baskets(OTHER_USER, limit=1, next_token=token)
    assert caught.value.code == "INVALID_CURSOR"


def test_many_strategies_in_one_batched_read_each_under_its_owner(
    repo: DynamoTradingRepository, basket_id: str
) -> None:
    mine = [repo.create_strategy(USER, basket_id, strategy_body(name=f"S{n}")) for n in range(3)]
    theirs = repo.create_basket(OTHER_USER, BasketCreate(name="Theirs"))
    other = repo.create_strategy(OTHER_USER, theirs.basket_id, strategy_body())
    wanted = [(USER, s.strategy_id) for s in mine] + [(OTHER_USER, other.strategy_id)]

    found = repo.get_strategies([*wanted, (USER, "no-such-strategy"), (USER, other.strategy_id)])

    assert set(found) == set(wanted)  # a missing id and someone else's id under my name are left out
    assert found[(OTHER_USER, other.strategy_id)] == repo.get_strategy(OTHER_USER, other.strategy_id)
