"""Bad input is rejected with an error naming each bad field."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shared_utils.models.allocation import AllocationCreate, AllocationUpdate
from shared_utils.models.basket import BasketCreate, BasketUpdate
from shared_utils.models.common import StrategyStatus
from shared_utils.models.strategy import StrategyCreate, StrategyUpdate, StrikeSelection


def leg(**overrides: Any) -> dict[str, Any]:
    return {
        "action": "SELL",
        "option_type": "CE",
        "strike": {"method": "ATM_OFFSET", "steps": 1},
        "expiry": "CURRENT_WEEKLY",
        "lots": 1,
    } | overrides


def strategy_body(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "Short straddle",
        "underlying": "NIFTY",
        "legs": [leg(), leg(option_type="PE", strike={"method": "ATM_OFFSET", "steps": -1})],
        "entry": {"time": "09:20", "weekdays": ["MON", "TUE"]},
        "exit": {"time": "15:10"},
    } | overrides


def bad_fields(model: Any, body: dict[str, Any]) -> set[tuple[Any, ...]]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(body)
    return {tuple(error["loc"]) for error in caught.value.errors()}


def test_valid_strategy_keeps_legs_and_sorts_weekdays() -> None:
    created = StrategyCreate.model_validate(
        strategy_body(entry={"time": "09:20", "weekdays": ["FRI", "MON"]})
    )
    assert len(created.legs) == 2
    assert [day.value for day in created.entry.weekdays] == ["MON", "FRI"]
    assert created.model_dump(mode="json")["entry"]["time"] == "09:20"


def test_every_bad_field_is_named_at_once() -> None:
    locs = bad_fields(
        StrategyCreate,
        strategy_body(
            name="",
            underlying="DOWJONES",
            entry={"time": "9:75", "weekdays": ["MON", "FUNDAY"]},
        ),
    )
    assert locs == {("name",), ("underlying",), ("entry", "time"), ("entry", "weekdays", 1)}


@pytest.mark.parametrize("count", [0, 7])
def test_leg_count_outside_one_to_six_is_rejected(count: int) -> None:
    assert bad_fields(StrategyCreate, strategy_body(legs=[leg()] * count)) == {("legs",)}


def test_six_legs_are_accepted() -> None:
    assert len(StrategyCreate.model_validate(strategy_body(legs=[leg()] * 6)).legs) == 6


@pytest.mark.parametrize("bad_time", ["24:00", "09:60", "0920", "9:20", "", "09:20:00"])
def test_bad_entry_time_is_rejected(bad_time: str) -> None:
    assert bad_fields(StrategyCreate, strategy_body(entry={"time": bad_time, "weekdays": ["MON"]})) == {
        ("entry", "time")
    }


def test_leg_lots_must_be_positive_and_named() -> None:
    assert bad_fields(StrategyCreate, strategy_body(legs=[leg(), leg(lots=0)])) == {("legs", 1, "lots")}


def test_repeated_weekday_is_rejected() -> None:
    locs = bad_fields(StrategyCreate, strategy_body(entry={"time": "09:20", "weekdays": ["MON", "MON"]}))
    assert locs == {("entry", "weekdays")}


def test_strike_selection_requires_exactly_its_methods_field() -> None:
    assert StrikeSelection.model_validate({"method": "DELTA", "target_delta": 0.3}).target_delta == 0.3
    assert bad_fields(StrikeSelection, {"method": "PREMIUM", "steps": 2}) == {("steps",), ("target_premium",)}
    assert bad_fields(StrikeSelection, {"method": "DELTA", "target_delta": 1.5}) == {("target_delta",)}
    assert bad_fields(StrikeSelection, {"method": "FIXED"}) == {("strike",)}


def test_unknown_fields_are_rejected_not_ignored() -> None:
    assert bad_fields(StrategyCreate, strategy_body(leverage=10)) == {("leverage",)}


def test_basket_name_bounds() -> None:
    assert BasketCreate(name="x" * 100).name == "x" * 100
    assert bad_fields(BasketCreate, {"name": "x" * 101}) == {("name",)}
    assert bad_fields(BasketCreate, {"name": "   "}) == {("name",)}
    assert bad_fields(BasketUpdate, {"name": "ok"}) == {("version",)}


def test_allocation_lots_must_be_at_least_one() -> None:
    assert bad_fields(AllocationCreate, {"broker_account_id": "acc-1", "lots": 0}) == {("lots",)}
    assert bad_fields(AllocationCreate, {"broker_account_id": "acc-1", "lots": -3}) == {("lots",)}
    assert bad_fields(AllocationCreate, {"broker_account_id": "acc-1", "lots": 2, "max_loss_per_day": 0}) == {
        ("max_loss_per_day",)
    }


def test_updates_report_only_the_fields_sent() -> None:
    update = StrategyUpdate.model_validate({"version": 3, "status": "PAUSED", "exit": None, "name": None})
    assert update.changes() == {"status": StrategyStatus.PAUSED, "exit": None}
    assert AllocationUpdate(version=1, max_lots_per_order=None).changes() == {"max_lots_per_order": None}
    with pytest.raises(ValueError, match="lots cannot be cleared"):
        AllocationUpdate(version=1, lots=None).changes()
