"""The canonical event fixtures drive a whole user journey through the handlers as API Gateway would."""

from __future__ import annotations

from tests.events import load_event
from tests.integration.api.conftest import invoke


def with_path(event: dict, placeholder: str, value: str) -> dict:
    event["path"] = event["path"].replace(placeholder, value)
    event["requestContext"]["path"] = event["requestContext"]["path"].replace(placeholder, value)
    event["pathParameters"] = {
        key: value if val == placeholder else val for key, val in event["pathParameters"].items()
    }
    return event


def test_journey_from_the_canonical_events(aws, seed_broker_account):
    seed_broker_account("user-a", "acct-zerodha", "ZERODHA")

    basket = invoke("basket_manager", load_event("api/create_basket.json"))
    assert basket.status == 201
    assert basket.body["name"] == "Weekly Nifty theta"
    retried = invoke("basket_manager", load_event("api/create_basket.json"))
    assert retried.body == basket.body

    strategy = invoke(
        "strategy_manager",
        with_path(load_event("api/create_strategy.json"), "BASKET_ID", basket.body["basket_id"]),
    )
    assert strategy.status == 201
    assert strategy.body["risk"] == {
        "mtm_stop_loss": 5000.0,
        "mtm_target": 3000.0,
        "trailing_stop_loss": None,
    }

    allocation = invoke(
        "strategy_broker_allocator",
        with_path(
            load_event("api/create_strategy_allocation.json"), "STRATEGY_ID", strategy.body["strategy_id"]
        ),
    )
    assert allocation.status == 201
    assert (allocation.body["broker"], allocation.body["lots"]) == ("ZERODHA", 2)

    listed = invoke("strategy_manager", load_event("api/list_strategies.json"))
    assert listed.status == 200
    assert [item["strategy_id"] for item in listed.body["items"]] == [strategy.body["strategy_id"]]
    someone_else = load_event("api/list_strategies.json")
    someone_else["requestContext"]["authorizer"]["claims"]["sub"] = "user-b"
    assert invoke("strategy_manager", someone_else).body["items"] == []
