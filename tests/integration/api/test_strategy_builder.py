"""The strategy builder's rules at the door: re-entry, wait and trade, move to cost — stored and
read back as sent, and every value that could never act a 422 naming its field, storing nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.api.conftest import strategy_body

STRATEGIES = "/options/strategies"
STRATEGY = "/options/strategies/{strategy_id}"
CREATE = "/options/baskets/{basket_id}/strategies"


@pytest.fixture
def basket_id(api):
    return api("POST", "/options/baskets", body={"name": "Builder"}).body["basket_id"]


def legs_with(first: dict[str, Any]) -> list[dict[str, Any]]:
    legs = strategy_body()["legs"]
    return [legs[0] | first, *legs[1:]]


STOP = {"stop_loss": {"kind": "PERCENT", "value": 30}}
LEG_RE_ENTRY = {"mode": "RE_EXECUTE", "when": "PREMIUM_RETURNS", "max_per_day": 2, "until": "13:00"}
WAIT = {"direction": "UP", "kind": "POINTS", "value": 5, "timeout_minutes": 20}


def test_every_rule_is_stored_and_read_back_as_sent(api, basket_id):
    body = strategy_body(
        legs=legs_with(STOP | {"re_entry": LEG_RE_ENTRY, "wait_and_trade": WAIT}),
        re_entry={"until": "14:30", "after": ["STOP_LOSS", "TARGET"], "max_per_day": 3},
        move_to_cost={"after_leg_stop": True, "at_profit": 2500},
        risk={"mtm_stop_loss": 4000, "mtm_target": 6000},
    )
    created = api("POST", CREATE, basket_id=basket_id, body=body)

    assert created.status == 201, created.body
    strategy = api("GET", STRATEGY, strategy_id=created.body["strategy_id"]).body["strategy"]
    assert strategy["re_entry"] == {
        "mode": "RE_ENTER", "when": "IMMEDIATELY", "max_per_day": 3, "until": "14:30",
        "after": ["STOP_LOSS", "TARGET"],
    }  # fmt: skip
    assert strategy["move_to_cost"] == {"after_leg_stop": True, "at_profit": 2500.0}
    assert strategy["legs"][0]["re_entry"] == LEG_RE_ENTRY | {"after": ["STOP_LOSS"]}
    assert strategy["legs"][0]["wait_and_trade"] == WAIT | {"value": "5"}  # a Decimal, as a leg's stop
    # null removes a rule; every other field stays.
    updated = api("PUT", STRATEGY, strategy_id=strategy["strategy_id"], body={"version": 1, "re_entry": None})
    assert updated.status == 200, updated.body
    assert updated.body["re_entry"] is None and updated.body["move_to_cost"] == strategy["move_to_cost"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"re_entry": {"until": "14:00", "max_per_day": 11}}, "re_entry.max_per_day"),
        ({"re_entry": {"until": "09:15"}}, "re_entry.until"),  # before the 09:20 entry
        ({"re_entry": {"until": "15:30"}}, "re_entry.until"),  # after the 15:15 exit
        ({"re_entry": {"until": "14:00"}, "exit": {"time": "15:15", "days_before_expiry": 1}}, "re_entry"),
        ({"re_entry": {"until": "14:00", "after": ["TARGET", "TARGET"]}}, "re_entry.after"),
        ({"legs": legs_with({"re_entry": {"until": "14:00"}})}, "legs.0.re_entry"),  # no leg stop
        ({"legs": legs_with(STOP | {"re_entry": {"until": "14:00", "after": ["TARGET"]}})},
         "legs.0.re_entry.after"),
        ({"legs": legs_with({"wait_and_trade": WAIT | {"value": 0}})}, "legs.0.wait_and_trade.value"),
        ({"legs": legs_with({"wait_and_trade": WAIT | {"timeout_minutes": 400}})},
         "legs.0.wait_and_trade.timeout_minutes"),
        ({"legs": legs_with({"wait_and_trade": WAIT | {"timeout_minutes": 360}})},
         "legs.0.wait_and_trade.timeout_minutes"),  # 09:20 + 6 h is after the 15:15 exit
        ({"legs": legs_with({"wait_and_trade": WAIT | {"kind": "PERCENT", "direction": "DOWN",
                                                       "value": 100}})},
         "legs.0.wait_and_trade.value"),
        ({"move_to_cost": {"after_leg_stop": False}}, "move_to_cost"),
        ({"move_to_cost": {"after_leg_stop": True}}, "move_to_cost.after_leg_stop"),  # no leg has a stop
        ({"move_to_cost": {"after_leg_stop": False, "at_profit": -5}}, "move_to_cost.at_profit"),
    ],
)  # fmt: skip
def test_a_rule_that_could_never_act_is_a_422_on_its_field_and_stores_nothing(
    api, basket_id, overrides, field
):
    refused = api("POST", CREATE, basket_id=basket_id, body=strategy_body(**overrides))

    assert refused.status == 422, refused.body
    assert [d["field"] for d in refused.body["details"]] == [field]
    assert api("GET", STRATEGIES).body["items"] == []


def test_an_update_is_checked_as_a_whole(api, basket_id):
    created = api("POST", CREATE, basket_id=basket_id, body=strategy_body(re_entry={"until": "15:00"})).body

    # Moving the exit before the re-entry's cut-off would leave the cut-off outside the day.
    refused = api(
        "PUT", STRATEGY, strategy_id=created["strategy_id"], body={"version": 1, "exit": {"time": "14:00"}}
    )

    assert refused.status == 422 and [d["field"] for d in refused.body["details"]] == ["re_entry.until"]
    assert api("GET", STRATEGY, strategy_id=created["strategy_id"]).body["strategy"]["version"] == 1
