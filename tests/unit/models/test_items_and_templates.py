"""Stored items round-trip exactly, schedule keys land on the right UTC minute, templates post as-is."""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal

import pytest

from shared_utils import keys
from shared_utils.models.common import StrategyStatus
from shared_utils.models.items import StrategyItem, schedule_items, utc_hhmm
from shared_utils.models.strategy import Strategy, StrategyCreate
from shared_utils.templates import TemplateName, all_templates, template_legs

NOW = datetime(2026, 11, 24, 3, 30, tzinfo=UTC)


def make_strategy(**overrides: object) -> Strategy:
    body = StrategyCreate.model_validate(
        {
            "name": "Iron condor",
            "underlying": "NIFTY",
            "legs": [leg.model_dump() for leg in template_legs(TemplateName.IRON_CONDOR)],
            "entry": {"time": "09:20", "weekdays": ["TUE", "THU"]},
            "exit": {"time": "15:15"},
            "risk": {
                "mtm_stop_loss": "2500.50",
                "trailing_stop_loss": {"activate_at": 1000, "trail_by": 250},
            },
        }
    )
    data = dict(body) | {"strategy_id": "s1", "user_id": "u1", "basket_id": "b1", "version": 1}
    return Strategy.model_validate(data | {"created_at": NOW, "updated_at": NOW} | overrides)


def test_strategy_round_trips_through_a_stored_item_exactly() -> None:
    strategy = make_strategy()
    raw = StrategyItem.from_domain(strategy).to_dynamo()
    assert raw["pk"] == {"S": "USER#u1"} and raw["sk"] == {"S": "STRATEGY#s1"}
    assert raw["risk"]["M"]["mtm_stop_loss"] == {"N": "2500.50"}
    back = StrategyItem.from_dynamo(raw).to_domain()
    assert back == strategy
    assert back.risk.mtm_stop_loss == Decimal("2500.50")


@pytest.mark.parametrize(
    ("ist", "utc"),
    [(time(9, 15), "0345"), (time(15, 40), "1010"), (time(5, 30), "0000"), (time(0, 10), "1840")],
)
def test_ist_clock_times_map_to_utc_minutes(ist: time, utc: str) -> None:
    assert utc_hhmm(ist) == utc


def test_active_strategy_projects_entry_and_exit_paused_projects_none() -> None:
    entries = schedule_items(make_strategy(), shards=4)
    assert [item.gsi2sk for item in entries] == ["0350#ENTRY#u1#s1", "0945#EXIT#u1#s1"]
    shard = keys.schedule_shard("u1", "s1", 4)
    assert {item.gsi2pk for item in entries} == {f"SCHEDULE#{shard}"}
    assert schedule_items(make_strategy(status=StrategyStatus.PAUSED), shards=4) == []


def test_shards_are_stable_and_spread() -> None:
    assert keys.schedule_shard("u1", "s1", 8) == keys.schedule_shard("u1", "s1", 8)
    used = {keys.schedule_shard(f"user-{n}", "s", 8) for n in range(200)}
    assert used == set(range(8))


def test_every_template_is_a_valid_strategy_body() -> None:
    for template in all_templates():
        body = StrategyCreate.model_validate(
            {
                "name": template.name.value,
                "underlying": "NIFTY",
                "legs": [leg.model_dump(mode="json") for leg in template.legs],
                "entry": {"time": "09:20", "weekdays": ["MON"]},
            }
        )
        assert 1 <= len(body.legs) <= 6


def test_iron_condor_is_short_inside_long_outside() -> None:
    legs = template_legs("IRON_CONDOR")
    sold = sorted(leg.strike.steps or 0 for leg in legs if leg.action.value == "SELL")
    bought = sorted(leg.strike.steps or 0 for leg in legs if leg.action.value == "BUY")
    assert sold == [-2, 2] and bought == [-4, 4]


def test_every_expiry_selection_names_a_market_expiry_kind() -> None:
    from shared_utils.market.expiries import ExpiryKind
    from shared_utils.models.strategy import ExpirySelection

    assert [selection.kind for selection in ExpirySelection] == list(ExpiryKind)


def test_expiry_issues_name_weekly_legs_of_monthly_only_indexes() -> None:
    from datetime import date

    from shared_utils.market.underlyings import Underlying
    from shared_utils.models.strategy import ExpirySelection, expiry_issues

    legs = template_legs(TemplateName.SHORT_STRADDLE)
    day = date(2026, 11, 24)
    assert [i.field for i in expiry_issues(Underlying.BANKNIFTY, legs, day)] == [
        "legs.0.expiry",
        "legs.1.expiry",
    ]
    assert expiry_issues(Underlying.NIFTY, legs, day) == []
    monthly = template_legs(TemplateName.SHORT_STRADDLE, expiry=ExpirySelection.CURRENT_MONTHLY)
    assert expiry_issues(Underlying.BANKNIFTY, monthly, day) == []
