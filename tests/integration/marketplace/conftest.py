"""Marketplace tests drive the real handler modules (API) and the real engine (trading) on moto."""

# The API and execution fixtures are imported to be shared; fixtures take them as arguments.
# ruff: noqa: F811

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.integration.api.conftest import Call, api, seed_broker_account, strategy_body  # noqa: F401
from tests.integration.execution.conftest import brokers, clock, platform, sim, store  # noqa: F401

ADMINS = ("Admins",)
TERMS = {
    "category": "INCOME",
    "description": "Weekly NIFTY iron condors",
    "minimum_capital": 150000,
    "risk_level": "MEDIUM",
    "fee": {"monthly_fee": 999, "performance_fee_pct": 10},
}


@dataclass(frozen=True)
class AdminBasket:
    admin: str
    basket_id: str
    strategy_id: str
    admin_account: str


@pytest.fixture
def admin_basket(api: Call, seed_broker_account: Callable[..., dict[str, Any]]) -> Callable[..., AdminBasket]:
    """An admin's basket with one strategy and the admin's own allocation (not yet published)."""

    def build(admin: str = "admin-1", name: str = "Condors", underlying: str = "NIFTY") -> AdminBasket:
        account = seed_broker_account(admin, f"{admin}-zerodha", "ZERODHA")["broker_account_id"]
        basket = api("POST", "/options/baskets", user=admin, groups=ADMINS, body={"name": name})
        assert basket.status == 201, basket.body
        basket_id = basket.body["basket_id"]
        strategy = api(
            "POST",
            "/options/baskets/{basket_id}/strategies",
            basket_id=basket_id,
            user=admin,
            groups=ADMINS,
            body=strategy_body(underlying=underlying),
        )
        assert strategy.status == 201, strategy.body
        own = api(
            "POST",
            "/options/baskets/{basket_id}/brokers",
            basket_id=basket_id,
            user=admin,
            groups=ADMINS,
            body={"broker_account_id": account, "lots": 3},
        )
        assert own.status == 201, own.body
        return AdminBasket(admin, basket_id, strategy.body["strategy_id"], account)

    return build


@pytest.fixture
def publish(api: Call) -> Callable[..., Any]:
    def call(basket: AdminBasket, **terms: Any) -> Any:
        response = api(
            "PUT",
            "/options/marketplace/listings/{basket_id}",
            basket_id=basket.basket_id,
            user=basket.admin,
            groups=ADMINS,
            body=TERMS | terms,
        )
        assert response.status == 200, response.body
        return response.body

    return call


@pytest.fixture
def subscribe(api: Call, seed_broker_account: Callable[..., dict[str, Any]]) -> Callable[..., Any]:
    """`subscribe(user, basket_id, {"zerodha": 2, "angel": 1})`: seeds the user's accounts
    (`{user}-{name}`) and subscribes with those lots."""
    broker_names = {"zerodha": "ZERODHA", "angel": "ANGEL_ONE", "finvasia": "FINVASIA"}

    def call(user: str, basket_id: str, lots: dict[str, int]) -> Any:
        allocations = []
        for name, count in lots.items():
            account = seed_broker_account(user, f"{user}-{name}", broker_names[name])["broker_account_id"]
            allocations.append({"broker_account_id": account, "lots": count})
        return api(
            "POST",
            "/options/subscriptions",
            user=user,
            body={"basket_id": basket_id, "allocations": allocations},
        )

    return call
