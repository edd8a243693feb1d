"""User B must never see, change or even detect user A's items: every route with an id answers
404 (exactly as for an id that does not exist), and listings never show A's items."""

from __future__ import annotations

import re

import pytest

from shared_utils.api.catalog import (
    API_ROUTES,
    BASKET_MANAGER,
    BROKER_ACCOUNTS,
    STRATEGY_BROKER_ALLOCATOR,
    STRATEGY_MANAGER,
    STRATEGY_TEMPLATES,
)
from tests.integration.api.conftest import strategy_body

# The configuration API (baskets, strategies, allocations, accounts, templates). Marketplace
# listings are shared across users by design and the execution routes test their own tenancy.
MODULES = {BROKER_ACCOUNTS, BASKET_MANAGER, STRATEGY_MANAGER, STRATEGY_BROKER_ALLOCATOR, STRATEGY_TEMPLATES}
ROUTES = [route for route in API_ROUTES if route.module in MODULES]
ID_ROUTES = [route for route in ROUTES if "{" in route.path]
LIST_ROUTES = [route for route in ROUTES if route.method == "GET" and "{" not in route.path]


def body_for(method: str, path: str, b_account: str) -> dict | None:
    if method == "PUT":
        return (
            {"version": 1, "lots": 9}
            if path.endswith("{allocation_id}")
            else {"version": 1, "name": "hijack"}
        )
    if method == "POST" and path.endswith("/session"):
        return {"state": "a-login-state-of-user-b", "request_token": "token"}
    if method == "POST":
        return (
            strategy_body() if path.endswith("/strategies") else {"broker_account_id": b_account, "lots": 1}
        )
    return None


@pytest.fixture
def worlds(build_world):
    return build_world("user-a"), build_world("user-b")


@pytest.mark.parametrize("route", ID_ROUTES, ids=lambda route: f"{route.method} {route.path}")
def test_user_b_gets_404_for_user_a_ids(api, worlds, route):
    a, b = worlds
    allocation_id = (
        a.basket_allocation_id if route.path.startswith("/options/baskets") else a.strategy_allocation_id
    )
    ids = {
        "basket_id": a.basket_id,
        "strategy_id": a.strategy_id,
        "allocation_id": allocation_id,
        "broker_account_id": a.broker_account_id,
    }
    params = {name: ids[name] for name in re.findall(r"\{(\w+)\}", route.path)}

    response = api(
        route.method,
        route.path,
        user="user-b",
        body=body_for(route.method, route.path, b.broker_account_id),
        **params,
    )

    assert response.status == 404, response.body
    assert response.body["code"] == "NOT_FOUND"
    for value in ids.values():
        assert value not in response.raw_body


def test_user_a_items_are_untouched_after_user_b_tried_everything(api, worlds):
    a, b = worlds
    for route in ID_ROUTES:
        allocation_id = (
            a.basket_allocation_id if route.path.startswith("/options/baskets") else a.strategy_allocation_id
        )
        ids = {
            "basket_id": a.basket_id,
            "strategy_id": a.strategy_id,
            "allocation_id": allocation_id,
            "broker_account_id": a.broker_account_id,
        }
        params = {name: ids[name] for name in re.findall(r"\{(\w+)\}", route.path)}
        api(
            route.method,
            route.path,
            user="user-b",
            body=body_for(route.method, route.path, b.broker_account_id),
            **params,
        )

    basket = api("GET", "/options/baskets/{basket_id}", basket_id=a.basket_id, user="user-a").body
    assert basket["basket"]["version"] == 1
    assert [item["strategy_id"] for item in basket["strategies"]] == [a.strategy_id]
    assert [item["lots"] for item in basket["default_allocations"]] == [1]
    strategy = api("GET", "/options/strategies/{strategy_id}", strategy_id=a.strategy_id, user="user-a").body
    assert strategy["strategy"]["version"] == 1
    assert [item["lots"] for item in strategy["allocations"]["allocations"]] == [2]


@pytest.mark.parametrize("route", LIST_ROUTES, ids=lambda route: f"{route.method} {route.path}")
def test_listings_never_show_another_users_items(api, worlds, route):
    a, _ = worlds

    response = api(route.method, route.path, user="user-b")

    assert response.status == 200
    for secret in (a.basket_id, a.strategy_id, a.broker_account_id, a.strategy_allocation_id, "user-a"):
        assert secret not in response.raw_body


def test_filtering_my_strategies_by_someone_elses_basket_is_a_404(api, worlds):
    a, _ = worlds

    response = api("GET", "/options/strategies", user="user-b", query={"basket_id": a.basket_id})

    assert response.status == 404
    assert a.strategy_id not in response.raw_body


def test_created_items_belong_to_the_caller_whatever_the_body_says(api, worlds):
    smuggled = api("POST", "/options/baskets", user="user-b", body={"name": "x", "user_id": "user-a"})
    assert smuggled.status == 422

    created = api("POST", "/options/baskets", user="user-b", body={"name": "Mine"})
    assert created.body["user_id"] == "user-b"
    names = [item["name"] for item in api("GET", "/options/baskets", user="user-a").body["items"]]
    assert "Mine" not in names


# Creates write only under the caller: linking an account stores it in the caller's partition.
CREATE_ROUTES = [("POST", "/options/baskets"), ("POST", "/options/broker-accounts")]
# Reads and stores nothing of any user's: a draft priced on the market.
USERLESS_ROUTES = [("POST", "/options/strategy-preview")]
# The caller's own single item (no id in the path): written under the caller only.
OWN_ITEM_ROUTES = [("PUT", "/options/risk-settings")]


def test_my_portfolio_rules_are_written_and_read_under_me_only(api, worlds):
    path = "/options/risk-settings"
    assert api("PUT", path, user="user-a", body={"version": 0, "risk": {"mtm_stop_loss": 5000}}).status == 200

    theirs = api("PUT", path, user="user-b", body={"version": 0, "risk": {"mtm_target": 1}})

    assert theirs.status == 200 and theirs.body["user_id"] == "user-b"  # B's own, not a conflict with A's
    mine = api("GET", path, user="user-a").body
    assert (mine["version"], mine["risk"]["mtm_stop_loss"], mine["risk"]["mtm_target"]) == (1, 5000, None)


def test_isolation_matrix_covers_every_route():
    covered = {(route.method, route.path) for route in ID_ROUTES + LIST_ROUTES}
    covered |= {*CREATE_ROUTES, *USERLESS_ROUTES, *OWN_ITEM_ROUTES}
    assert covered == {(route.method, route.path) for route in ROUTES}
