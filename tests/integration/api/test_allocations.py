from __future__ import annotations

import pytest

from tests.integration.api.conftest import strategy_body

STRATEGY_BROKERS = "/options/strategies/{strategy_id}/brokers"
STRATEGY_BROKER = "/options/strategies/{strategy_id}/brokers/{allocation_id}"
BASKET_BROKERS = "/options/baskets/{basket_id}/brokers"
BASKET_BROKER = "/options/baskets/{basket_id}/brokers/{allocation_id}"


@pytest.fixture
def setup(api, seed_broker_account):
    seed_broker_account("user-a", "acct-zerodha", "ZERODHA", api_secret="hidden")
    seed_broker_account("user-a", "acct-upstox", "UPSTOX")
    seed_broker_account("user-b", "acct-of-b", "ZERODHA")
    basket_id = api("POST", "/options/baskets", body={"name": "Theta"}).body["basket_id"]
    strategy_id = api(
        "POST", "/options/baskets/{basket_id}/strategies", basket_id=basket_id, body=strategy_body()
    ).body["strategy_id"]
    return basket_id, strategy_id


def test_strategy_allocation_lifecycle(api, setup):
    _, strategy_id = setup

    created = api(
        "POST",
        STRATEGY_BROKERS,
        strategy_id=strategy_id,
        body={"broker_account_id": "acct-upstox", "lots": 3},
    )
    assert created.status == 201
    allocation = created.body
    assert allocation["broker"] == "UPSTOX"
    assert allocation["lots"] == 3
    assert allocation["version"] == 1
    assert allocation["scope"] == "STRATEGY"

    listed = api("GET", STRATEGY_BROKERS, strategy_id=strategy_id)
    assert [item["allocation_id"] for item in listed.body["items"]] == [allocation["allocation_id"]]

    detail = api("GET", "/options/strategies/{strategy_id}", strategy_id=strategy_id).body
    assert detail["allocations"]["source"] == "STRATEGY"
    assert [item["lots"] for item in detail["allocations"]["allocations"]] == [3]

    updated = api(
        "PUT",
        STRATEGY_BROKER,
        strategy_id=strategy_id,
        allocation_id=allocation["allocation_id"],
        body={"version": 1, "lots": 5, "max_lots_per_order": 2},
    )
    assert updated.status == 200
    assert (updated.body["lots"], updated.body["max_lots_per_order"], updated.body["version"]) == (5, 2, 2)

    stale = api(
        "PUT",
        STRATEGY_BROKER,
        strategy_id=strategy_id,
        allocation_id=allocation["allocation_id"],
        body={"version": 1, "lots": 9},
    )
    assert stale.status == 409
    assert stale.body["code"] == "VERSION_CONFLICT"

    deleted = api(
        "DELETE", STRATEGY_BROKER, strategy_id=strategy_id, allocation_id=allocation["allocation_id"]
    )
    assert deleted.status == 204
    assert api("GET", STRATEGY_BROKERS, strategy_id=strategy_id).body["items"] == []


def test_basket_defaults_are_inherited_until_the_strategy_has_its_own(api, setup):
    basket_id, strategy_id = setup

    default = api(
        "POST", BASKET_BROKERS, basket_id=basket_id, body={"broker_account_id": "acct-zerodha", "lots": 1}
    )
    assert default.status == 201
    assert default.body["scope"] == "BASKET"
    assert api("GET", BASKET_BROKERS, basket_id=basket_id).body["items"] == [default.body]

    inherited = api("GET", "/options/strategies/{strategy_id}", strategy_id=strategy_id).body["allocations"]
    assert inherited["source"] == "BASKET"
    assert [item["broker_account_id"] for item in inherited["allocations"]] == ["acct-zerodha"]

    api(
        "POST",
        STRATEGY_BROKERS,
        strategy_id=strategy_id,
        body={"broker_account_id": "acct-upstox", "lots": 2},
    )
    own = api("GET", "/options/strategies/{strategy_id}", strategy_id=strategy_id).body["allocations"]
    assert own["source"] == "STRATEGY"
    assert [item["broker_account_id"] for item in own["allocations"]] == ["acct-upstox"]

    updated = api(
        "PUT",
        BASKET_BROKER,
        basket_id=basket_id,
        allocation_id=default.body["allocation_id"],
        body={"version": 1, "lots": 4},
    )
    assert updated.status == 200
    assert updated.body["lots"] == 4
    assert (
        api("DELETE", BASKET_BROKER, basket_id=basket_id, allocation_id=default.body["allocation_id"]).status
        == 204
    )
    assert api("GET", BASKET_BROKERS, basket_id=basket_id).body["items"] == []


@pytest.mark.parametrize("account", ["acct-of-b", "acct-never-linked"])
def test_allocation_must_use_one_of_my_broker_accounts(api, setup, account):
    basket_id, strategy_id = setup

    for route, params in (
        (STRATEGY_BROKERS, {"strategy_id": strategy_id}),
        (BASKET_BROKERS, {"basket_id": basket_id}),
    ):
        response = api("POST", route, **params, body={"broker_account_id": account, "lots": 1})
        assert response.status == 422
        assert response.body["details"] == [
            {"field": "broker_account_id", "issue": "no such broker account for this user"}
        ]


@pytest.mark.parametrize("lots", [0, -3])
def test_non_positive_lots_is_a_422(api, setup, lots):
    _, strategy_id = setup

    response = api(
        "POST",
        STRATEGY_BROKERS,
        strategy_id=strategy_id,
        body={"broker_account_id": "acct-zerodha", "lots": lots},
    )

    assert response.status == 422
    assert [detail["field"] for detail in response.body["details"]] == ["lots"]


def test_second_allocation_to_the_same_account_is_a_409(api, setup):
    _, strategy_id = setup
    body = {"broker_account_id": "acct-zerodha", "lots": 1}
    api("POST", STRATEGY_BROKERS, strategy_id=strategy_id, body=body)

    response = api("POST", STRATEGY_BROKERS, strategy_id=strategy_id, body=body)

    assert response.status == 409
    assert response.body["code"] == "ALREADY_EXISTS"


def test_allocation_is_only_reachable_under_its_own_strategy(api, setup):
    basket_id, strategy_id = setup
    other = api(
        "POST",
        "/options/baskets/{basket_id}/strategies",
        basket_id=basket_id,
        body=strategy_body(name="Other"),
    ).body
    allocation = api(
        "POST",
        STRATEGY_BROKERS,
        strategy_id=strategy_id,
        body={"broker_account_id": "acct-zerodha", "lots": 1},
    ).body

    for method, body in (("PUT", {"version": 1, "lots": 7}), ("DELETE", None)):
        response = api(
            method,
            STRATEGY_BROKER,
            strategy_id=other["strategy_id"],
            allocation_id=allocation["allocation_id"],
            body=body,
        )
        assert response.status == 404
        response = api(
            method, BASKET_BROKER, basket_id=basket_id, allocation_id=allocation["allocation_id"], body=body
        )
        assert response.status == 404
    assert api("GET", STRATEGY_BROKERS, strategy_id=strategy_id).body["items"][0]["lots"] == 1


def test_responses_never_carry_broker_credentials(api, setup):
    _, strategy_id = setup
    response = api(
        "POST",
        STRATEGY_BROKERS,
        strategy_id=strategy_id,
        body={"broker_account_id": "acct-zerodha", "lots": 1},
    )

    assert "hidden" not in response.raw_body
