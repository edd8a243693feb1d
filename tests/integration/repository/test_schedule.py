"""The timer's query: every entry/exit due in a window, across users and shards, written and
removed together with its strategy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared_utils.clock import IST
from shared_utils.errors import InvalidInputError
from shared_utils.keys import ScheduleKind
from shared_utils.models.basket import BasketCreate
from shared_utils.models.common import StrategyStatus
from shared_utils.models.strategy import StrategyUpdate
from shared_utils.repository import DynamoTradingRepository
from tests.integration.repository.conftest import OTHER_USER, USER, RequestCounter, strategy_body

TUESDAY = datetime(2026, 11, 24, tzinfo=IST)
SATURDAY = datetime(2026, 11, 28, tzinfo=IST)


def at(day: datetime, hh: int, mm: int, ss: int = 0) -> datetime:
    return day.replace(hour=hh, minute=mm, second=ss)


def due(repo: DynamoTradingRepository, start: datetime, minutes: int = 5) -> list[tuple[str, str, str]]:
    return [
        (entry.user_id, entry.kind.value, entry.at.strftime("%H:%M"))
        for entry in repo.due_schedule_entries(start, start + timedelta(minutes=minutes))
    ]


@pytest.fixture
def two_users(repo: DynamoTradingRepository) -> dict[str, str]:
    ids = {}
    for user in (USER, OTHER_USER):
        basket = repo.create_basket(user, BasketCreate(name="B")).basket_id
        ids[user] = repo.create_strategy(user, basket, strategy_body()).strategy_id
    return ids


def test_entries_of_every_user_come_back_with_their_due_instant(
    repo: DynamoTradingRepository, two_users: dict[str, str]
) -> None:
    entries = repo.due_schedule_entries(at(TUESDAY, 9, 20), at(TUESDAY, 9, 25))
    assert {(e.user_id, e.strategy_id, e.kind) for e in entries} == {
        (user, strategy, ScheduleKind.ENTRY) for user, strategy in two_users.items()
    }
    assert {e.due_at for e in entries} == {at(TUESDAY, 9, 20).astimezone(UTC)}
    assert sorted(due(repo, at(TUESDAY, 15, 15))) == sorted(
        [(USER, "EXIT", "15:15"), (OTHER_USER, "EXIT", "15:15")]
    )


def test_window_is_half_open_so_consecutive_windows_never_repeat(
    repo: DynamoTradingRepository, two_users: dict[str, str]
) -> None:
    assert due(repo, at(TUESDAY, 9, 15)) == []  # [09:15, 09:20) excludes 09:20
    assert len(due(repo, at(TUESDAY, 9, 20))) == 2
    assert due(repo, at(TUESDAY, 9, 20, 1)) == []  # started after the minute
    assert len(due(repo, at(TUESDAY, 9, 19, 30))) == 2


def test_entries_fire_only_on_their_weekdays(
    repo: DynamoTradingRepository, two_users: dict[str, str]
) -> None:
    assert due(repo, at(SATURDAY, 9, 20)) == []


def test_paused_strategy_has_no_schedule_and_resuming_restores_it(
    repo: DynamoTradingRepository, two_users: dict[str, str]
) -> None:
    strategy_id = two_users[USER]
    paused = repo.update_strategy(USER, strategy_id, StrategyUpdate(version=1, status=StrategyStatus.PAUSED))
    assert [user for user, _, _ in due(repo, at(TUESDAY, 9, 20))] == [OTHER_USER]
    repo.update_strategy(
        USER, strategy_id, StrategyUpdate(version=paused.version, status=StrategyStatus.ACTIVE)
    )
    assert len(due(repo, at(TUESDAY, 9, 20))) == 2


def test_rescheduling_moves_the_entry(repo: DynamoTradingRepository, two_users: dict[str, str]) -> None:
    repo.update_strategy(
        USER,
        two_users[USER],
        StrategyUpdate.model_validate({"version": 1, "entry": {"time": "10:05", "weekdays": ["TUE"]}}),
    )
    assert due(repo, at(TUESDAY, 9, 20)) == [(OTHER_USER, "ENTRY", "09:20")]
    assert due(repo, at(TUESDAY, 10, 5)) == [(USER, "ENTRY", "10:05")]


def test_removing_the_exit_removes_its_entry(
    repo: DynamoTradingRepository, two_users: dict[str, str]
) -> None:
    repo.update_strategy(USER, two_users[USER], StrategyUpdate(version=1, exit=None))
    assert due(repo, at(TUESDAY, 15, 15)) == [(OTHER_USER, "EXIT", "15:15")]


def test_deleted_strategy_leaves_no_schedule(
    repo: DynamoTradingRepository, two_users: dict[str, str]
) -> None:
    repo.delete_strategy(USER, two_users[USER])
    assert [user for user, _, _ in due(repo, at(TUESDAY, 9, 20))] == [OTHER_USER]


def test_one_query_per_shard(
    repo: DynamoTradingRepository, two_users: dict[str, str], counter: RequestCounter, settings: Any
) -> None:
    counter.reset()
    repo.due_schedule_entries(at(TUESDAY, 9, 20), at(TUESDAY, 9, 25))
    assert counter.operations == ["Query"] * settings.schedule_shards


def test_window_crossing_utc_midnight(repo: DynamoTradingRepository, basket_id: str) -> None:
    # 05:32 IST is 00:02 UTC: a window 23:58-00:05 UTC must find it (two ranges per shard).
    repo.create_strategy(
        USER, basket_id, strategy_body(entry={"time": "05:32", "weekdays": ["WED"]}, exit=None)
    )
    start = datetime(2026, 11, 24, 23, 58, tzinfo=UTC)
    entries = repo.due_schedule_entries(start, start + timedelta(minutes=7))
    assert [e.due_at for e in entries] == [datetime(2026, 11, 25, 0, 2, tzinfo=UTC)]


def test_bad_windows_are_refused(repo: DynamoTradingRepository) -> None:
    start = at(TUESDAY, 9, 20)
    with pytest.raises(InvalidInputError):
        repo.due_schedule_entries(start, start)
    with pytest.raises(InvalidInputError):
        repo.due_schedule_entries(start, start + timedelta(days=2))
    with pytest.raises(InvalidInputError):
        repo.due_schedule_entries(start.replace(tzinfo=None), start + timedelta(minutes=5))
