from __future__ import annotations

import pytest

from shared_utils.models.allocation import NO_ALLOCATION_REASON
from tests.integration.api.conftest import strategy_body

STRATEGIES = "/options/strategies"
STRATEGY = "/options/strategies/{strategy_id}"
CREATE = "/options/baskets/{basket_id}/strategies"


@pytest.fixture
def basket_id(api):
    return api("POST", "/options/baskets", body={"name": "Theta"}).body["basket_id"]


def create(api, basket_id, user="user-a", **overrides):
    return api("POST", CREATE, basket_id=basket_id, user=user, body=strategy_body(**overrides))


def test_create_then_read_with_legs_and_inherited_allocations(api, basket_id):
    created = create(api, basket_id)

    assert created.status == 201
    strategy = created.body
    assert strategy["basket_id"] == basket_id
    assert strategy["version"] == 1
    assert len(strategy["legs"]) == 4
    assert strategy["entry"] == {"time": "09:20", "weekdays": ["MON", "TUE", "WED", "THU"]}
    assert strategy["created_at"] and strategy["updated_at"]

    detail = api("GET", STRATEGY, strategy_id=strategy["strategy_id"])
    assert detail.status == 200
    assert detail.body["strategy"] == strategy
    assert detail.body["allocations"] == {"source": "BASKET", "allocations": []}
    assert detail.body["cannot_enter"] == NO_ALLOCATION_REASON  # nothing to trade with yet

    basket = api("GET", "/options/baskets/{basket_id}", basket_id=basket_id).body
    assert [item["strategy_id"] for item in basket["strategies"]] == [strategy["strategy_id"]]
    assert basket["basket"]["strategy_count"] == 1


def test_list_across_baskets_with_filters(api, basket_id):
    other_basket = api("POST", "/options/baskets", body={"name": "Other"}).body["basket_id"]
    nifty = create(api, basket_id).body
    banknifty = create(api, basket_id, underlying="BANKNIFTY", status="PAUSED").body
    sensex = create(api, other_basket, underlying="SENSEX").body

    def ids(**query):
        response = api("GET", STRATEGIES, query=query)
        assert response.status == 200
        return {item["strategy_id"] for item in response.body["items"]}

    assert ids() == {nifty["strategy_id"], banknifty["strategy_id"], sensex["strategy_id"]}
    assert ids(basket_id=basket_id) == {nifty["strategy_id"], banknifty["strategy_id"]}
    assert ids(underlying="SENSEX") == {sensex["strategy_id"]}
    assert ids(status="PAUSED") == {banknifty["strategy_id"]}
    assert ids(basket_id=basket_id, status="ACTIVE") == {nifty["strategy_id"]}


def test_list_pages_through_strategies(api, basket_id):
    created = {create(api, basket_id, name=f"S{i}").body["strategy_id"] for i in range(5)}

    seen, token = [], None
    while True:
        query = {"limit": "2"} | ({"next_token": token} if token else {})
        page = api("GET", STRATEGIES, query=query).body
        seen += [item["strategy_id"] for item in page["items"]]
        token = page["next_token"]
        if not token:
            break
    assert sorted(seen) == sorted(created)


def test_eleventh_strategy_is_a_409_strategy_limit(api, basket_id):
    for i in range(10):
        assert create(api, basket_id, name=f"S{i}").status == 201

    response = create(api, basket_id, name="S10")

    assert response.status == 409
    assert response.body["code"] == "STRATEGY_LIMIT"
    assert len(api("GET", STRATEGIES, query={"basket_id": basket_id}).body["items"]) == 10


def test_seventh_leg_is_a_422_on_legs(api, basket_id):
    legs = strategy_body()["legs"]
    response = create(api, basket_id, legs=legs + legs[:3])

    assert response.status == 422
    assert response.body["code"] == "VALIDATION_ERROR"
    assert "legs" in [detail["field"] for detail in response.body["details"]]


@pytest.mark.parametrize("lots", [0, -1])
def test_non_positive_lots_is_a_422_on_the_leg(api, basket_id, lots):
    legs = strategy_body()["legs"]
    legs[1] = legs[1] | {"lots": lots}

    response = create(api, basket_id, legs=legs)

    assert response.status == 422
    assert "legs.1.lots" in [detail["field"] for detail in response.body["details"]]


def test_unknown_underlying_is_a_422(api, basket_id):
    response = create(api, basket_id, underlying="DOWJONES")

    assert response.status == 422
    assert [detail["field"] for detail in response.body["details"]] == ["underlying"]


def test_weekly_leg_on_a_monthly_only_index_is_a_422_and_nothing_is_stored(api, basket_id):
    weekly_legs = strategy_body()["legs"]  # NIFTY condor on the current weekly expiry
    response = create(api, basket_id, underlying="BANKNIFTY", legs=weekly_legs)

    assert response.status == 422
    assert [detail["field"] for detail in response.body["details"]] == [
        f"legs.{index}.expiry" for index in range(len(weekly_legs))
    ]
    listed = api("GET", "/options/strategies")
    assert listed.body["items"] == []


def test_strategy_in_a_missing_basket_is_a_404(api):
    response = create(api, "no-such-basket")

    assert response.status == 404


def test_update_with_version_and_conflict(api, basket_id):
    strategy = create(api, basket_id).body

    paused = api(
        "PUT", STRATEGY, strategy_id=strategy["strategy_id"], body={"version": 1, "status": "PAUSED"}
    )
    assert paused.status == 200
    assert paused.body["status"] == "PAUSED"
    assert paused.body["version"] == 2
    assert paused.body["legs"] == strategy["legs"]

    stale = api("PUT", STRATEGY, strategy_id=strategy["strategy_id"], body={"version": 1, "name": "Lost"})
    assert stale.status == 409
    assert stale.body["code"] == "VERSION_CONFLICT"


def test_update_to_seven_legs_is_a_422(api, basket_id):
    strategy = create(api, basket_id).body
    legs = strategy["legs"] + strategy["legs"][:3]

    response = api("PUT", STRATEGY, strategy_id=strategy["strategy_id"], body={"version": 1, "legs": legs})

    assert response.status == 422
    assert api("GET", STRATEGY, strategy_id=strategy["strategy_id"]).body["strategy"]["version"] == 1


def test_delete_strategy(api, basket_id):
    strategy = create(api, basket_id).body

    assert api("DELETE", STRATEGY, strategy_id=strategy["strategy_id"]).status == 204
    assert api("GET", STRATEGY, strategy_id=strategy["strategy_id"]).status == 404
    assert (
        api("GET", "/options/baskets/{basket_id}", basket_id=basket_id).body["basket"]["strategy_count"] == 0
    )


def test_deleting_a_basket_takes_its_strategies_and_allocations(api, build_world):
    world = build_world("user-a")

    assert api("DELETE", "/options/baskets/{basket_id}", basket_id=world.basket_id).status == 204

    assert api("GET", STRATEGY, strategy_id=world.strategy_id).status == 404
    assert api("GET", STRATEGIES).body["items"] == []
    assert (
        api("GET", "/options/strategies/{strategy_id}/brokers", strategy_id=world.strategy_id).status == 404
    )


@pytest.mark.parametrize("exit_time", ["09:20", "09:15"])
def test_an_intraday_strategy_exiting_before_it_enters_is_a_422_on_the_exit(api, basket_id, exit_time):
    refused = create(api, basket_id, exit={"time": exit_time})

    assert refused.status == 422
    assert [d["field"] for d in refused.body["details"]] == ["exit.time"]
    assert api("GET", STRATEGIES).body["items"] == []
    # Carried overnight (NRML), or exiting before an expiry, the same times are fine.
    assert create(api, basket_id, exit={"time": exit_time}, product="NRML").status == 201
    assert create(api, basket_id, exit={"time": exit_time, "days_before_expiry": 1}).status == 201


def test_an_update_cannot_move_the_intraday_exit_before_the_entry(api, basket_id):
    created = create(api, basket_id).body
    refused = api(
        "PUT", STRATEGY, strategy_id=created["strategy_id"], body={"version": 1, "exit": {"time": "09:15"}}
    )

    assert refused.status == 422 and refused.body["details"][0]["field"] == "exit.time"
    assert api("GET", STRATEGY, strategy_id=created["strategy_id"]).body["strategy"]["version"] == 1


def fixed_call(strike: float) -> list[dict[str, object]]:
    return [{"action": "SELL", "option_type": "CE", "strike": {"method": "FIXED", "strike": strike},
             "expiry": "CURRENT_WEEKLY"}]  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"legs": fixed_call(26033)}, "legs.0.strike.strike"),  # NIFTY's grid is 50 points
        ({"entry": {"time": "09:20", "weekdays": ["MON", "SUN"]}}, "entry.weekdays"),
        ({"entry": {"time": "08:45", "weekdays": ["MON"]}}, "entry.time"),  # before the open
        ({"exit": {"time": "15:45"}, "product": "NRML"}, "exit.time"),  # after the 15:40 close
    ],
)
def test_what_could_never_run_is_a_422_on_its_field_and_stores_nothing(api, basket_id, overrides, field):
    refused = create(api, basket_id, **overrides)

    assert refused.status == 422, refused.body
    assert [d["field"] for d in refused.body["details"]] == [field]
    assert api("GET", STRATEGIES).body["items"] == []


def test_a_fixed_strike_on_the_grid_and_a_session_long_schedule_are_accepted(api, basket_id):
    made = create(api, basket_id, legs=fixed_call(26050), entry={"time": "09:15", "weekdays": ["FRI"]},
                  exit={"time": "15:39"})  # fmt: skip

    assert made.status == 201, made.body


def test_a_strategy_with_an_allocation_has_nothing_standing_in_its_way(api, build_world):
    world = build_world("user-a")

    detail = api("GET", STRATEGY, strategy_id=world.strategy_id).body

    assert detail["allocations"]["allocations"] and detail["cannot_enter"] is None
