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
    if method == "POST" and path.endswith("/rotate"):
        return None
    if method == "POST":
        return (
            strategy_body() if path.endswith("/strategies") else {"broker_account_id": b_account, "lots": 1}
        )
    return None


@pytest.fixture
def worlds(build_world):
    return build_world("user-a"), build_world("user-b")


@pytest.fixture
def a_webhook(api, worlds):
    """user-a's signal webhook on their strategy (its URL is in this answer only)."""
    a, _ = worlds
    body = {"strategy_id": a.strategy_id, "action": "ENTER", "format": "TRADINGVIEW"}
    created = api("POST", "/options/webhooks", user="user-a", body=body)
    assert created.status == 201, created.body
    return created.body


@pytest.mark.parametrize("route", ID_ROUTES, ids=lambda route: f"{route.method} {route.path}")
def test_user_b_gets_404_for_user_a_ids(api, worlds, a_webhook, route):
    a, b = worlds
    allocation_id = (
        a.basket_allocation_id if route.path.startswith("/options/baskets") else a.strategy_allocation_id
    )
    ids = {
        "basket_id": a.basket_id,
        "strategy_id": a.strategy_id,
        "allocation_id": allocation_id,
        "broker_account_id": a.broker_account_id,
        "webhook_id": a_webhook["webhook_id"],
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


def test_user_a_items_are_untouched_after_user_b_tried_everything(api, worlds, a_webhook):
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
            "webhook_id": a_webhook["webhook_id"],
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
    (webhook,) = api("GET", "/options/webhooks", user="user-a").body["items"]  # not deleted, not rotated
    assert (webhook["version"], webhook["token_hint"]) == (1, a_webhook["token_hint"])


@pytest.mark.parametrize("route", LIST_ROUTES, ids=lambda route: f"{route.method} {route.path}")
def test_listings_never_show_another_users_items(api, worlds, a_webhook, route):
    a, _ = worlds

    response = api(route.method, route.path, user="user-b")

    assert response.status == 200
    secrets = (
        a.basket_id,
        a.strategy_id,
        a.broker_account_id,
        a.strategy_allocation_id,
        a_webhook["webhook_id"],
    )
    for secret in (*secrets, "user-a"):
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


# Creates write only under the caller: linking an account stores it in the caller's partition; a
# webhook is for one of the caller's strategies (another's is a 404, below).
CREATE_ROUTES = [
    ("POST", "/options/baskets"),
    ("POST", "/options/broker-accounts"),
    ("POST", "/options/webhooks"),
]
# Reads and stores nothing of any user's: a draft priced on the market.
USERLESS_ROUTES = [("POST", "/options/strategy-preview")]
# The caller's own single item (no id in the path): written under the caller only.
OWN_ITEM_ROUTES = [
    ("PUT", "/options/risk-settings"),
    ("PUT", "/options/notification-settings"),
    ("POST", "/options/notification-settings/test"),
]


def test_a_webhook_for_someone_elses_strategy_is_a_404(api, worlds):
    a, _ = worlds
    body = {"strategy_id": a.strategy_id, "action": "ENTER", "format": "TRADINGVIEW"}

    response = api("POST", "/options/webhooks", user="user-b", body=body)

    assert response.status == 404 and a.strategy_id not in response.raw_body
    assert api("GET", "/options/webhooks", user="user-b").body["items"] == []


def test_my_portfolio_rules_are_written_and_read_under_me_only(api, worlds):
    path = "/options/risk-settings"
    assert api("PUT", path, user="user-a", body={"version": 0, "risk": {"mtm_stop_loss": 5000}}).status == 200

    theirs = api("PUT", path, user="user-b", body={"version": 0, "risk": {"mtm_target": 1}})

    assert theirs.status == 200 and theirs.body["user_id"] == "user-b"  # B's own, not a conflict with A's
    mine = api("GET", path, user="user-a").body
    assert (mine["version"], mine["risk"]["mtm_stop_loss"], mine["risk"]["mtm_target"]) == (1, 5000, None)


def test_my_notification_settings_are_written_read_and_tested_under_me_only(api, worlds):
    from shared_utils.composition import platform

    path = "/options/notification-settings"
    token = "7012345678:AAF3xQ9v2Lr8TnW5cYk1ZbH0dJgE4sUoPqM"
    mine = {"version": 0, "telegram": {"chat_id": "111111", "bot_token": token}}
    assert api("PUT", path, user="user-a", body=mine).status == 200

    theirs = api(
        "PUT", path, user="user-b", body={"version": 0, "email": {"address": "b@ql-trading-desk.in"}}
    )
    tested = api("POST", f"{path}/test", user="user-b")

    assert theirs.status == 200 and theirs.body["user_id"] == "user-b"  # B's own, not a conflict with A's
    assert tested.status == 202 and tested.body["queued"] == ["EMAIL"]  # B's channel, never A's chat
    queued = platform().notification_queue.queued()  # type: ignore[attr-defined]
    assert {(d.user_id, d.target) for d in queued} == {("user-b", "b@ql-trading-desk.in")}
    assert "111111" not in api("GET", path, user="user-b").raw_body
    assert platform().notification_secrets.bot_token("user-b") is None
    a = api("GET", path, user="user-a").body
    assert (a["version"], a["telegram"]["chat_id"], a["email"]) == (1, "111111", None)


def test_isolation_matrix_covers_every_route():
    covered = {(route.method, route.path) for route in ID_ROUTES + LIST_ROUTES}
    covered |= {*CREATE_ROUTES, *USERLESS_ROUTES, *OWN_ITEM_ROUTES}
    assert covered == {(route.method, route.path) for route in ROUTES}
