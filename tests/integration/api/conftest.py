"""Drive the API handler modules with API Gateway proxy events against moto tables."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from shared_utils.api.catalog import API_ROUTES
from tests.conftest import platform_now
from tests.events import api_event


@dataclass(frozen=True)
class FakeLambdaContext:
    function_name: str = "options-api-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:ap-south-1:123456789012:function:options-api-test"
    aws_request_id: str = "4a8d1d1e-0000-4000-8000-000000000001"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@dataclass(frozen=True)
class ApiResponse:
    status: int
    headers: dict[str, str]
    raw_body: str

    @property
    def body(self) -> Any:
        return json.loads(self.raw_body) if self.raw_body else None


def module_for(method: str, resource: str) -> str:
    for route in API_ROUTES:
        if route.method == method and route.path == resource:
            return route.module
    raise LookupError(f"{method} {resource} is not in the API catalog")


def invoke(module: str, event: dict[str, Any]) -> ApiResponse:
    handler = importlib.import_module(f"lambda_functions.option_baskets.{module}").handler
    result = handler(event, FakeLambdaContext())
    headers = dict(result.get("headers") or {})
    headers |= {name: ", ".join(values) for name, values in (result.get("multiValueHeaders") or {}).items()}
    return ApiResponse(status=result["statusCode"], headers=headers, raw_body=result["body"])


Call = Callable[..., ApiResponse]


@pytest.fixture
def api(aws: dict[str, Any]) -> Iterator[Call]:
    """`api("GET", "/options/baskets/{basket_id}", basket_id=..., user=..., body=...)`.

    The route template picks the handler module from the catalog, exactly as API Gateway does.
    """

    def call(method: str, resource: str, /, **kwargs: Any) -> ApiResponse:
        params = {key: kwargs.pop(key) for key in list(kwargs) if "{" + key + "}" in resource}
        path = resource.format(**params)
        event = api_event(method, path, resource=resource, **kwargs)
        return invoke(module_for(method, resource), event)

    yield call


@pytest.fixture
def seed_broker_account(aws: dict[str, Any]) -> Callable[..., dict[str, Any]]:
    import boto3

    table = boto3.resource("dynamodb").Table(aws["settings"].broker_accounts_table_name)

    def seed(user_id: str, broker_account_id: str, broker: str = "ZERODHA", **extra: Any) -> dict[str, Any]:
        item = {
            "user_id": user_id,
            "broker_account_id": broker_account_id,
            "broker": broker,
            "label": f"{broker.title()} main",
            "paper": False,
            "created_at": "2026-11-02T04:30:00+00:00",
            **extra,
        }
        table.put_item(Item=item)
        return item

    return seed


def strategy_body(**overrides: Any) -> dict[str, Any]:
    """A valid `StrategyCreate` body: an iron condor (NIFTY unless overridden) entering 09:20 IST
    Mon-Thu, on the nearest weekly expiry where the index lists one, else the nearest monthly."""
    from shared_utils.clock import to_ist
    from shared_utils.errors import DomainError
    from shared_utils.market.expiries import ExpiryKind, valid_kinds
    from shared_utils.models.strategy import ExpirySelection
    from shared_utils.templates import template_legs

    underlying = overrides.get("underlying", "NIFTY")
    try:
        weekly = ExpiryKind.CURRENT_WEEKLY in valid_kinds(underlying, to_ist(platform_now()).date())
    except DomainError:  # an unknown underlying: the API must refuse it, whatever the legs
        weekly = True
    expiry = ExpirySelection.CURRENT_WEEKLY if weekly else ExpirySelection.CURRENT_MONTHLY
    body: dict[str, Any] = {
        "name": "Nifty iron condor",
        "underlying": "NIFTY",
        "legs": [
            leg.model_dump(mode="json", exclude_none=True) for leg in template_legs("IRON_CONDOR", expiry)
        ],
        "entry": {"time": "09:20", "weekdays": ["MON", "TUE", "WED", "THU"]},
        "exit": {"time": "15:15"},
    }
    body.update(overrides)
    return body


@dataclass(frozen=True)
class World:
    """One user's basket, strategy, broker account and both kinds of allocation."""

    user: str
    basket_id: str
    strategy_id: str
    broker_account_id: str
    strategy_allocation_id: str
    basket_allocation_id: str


@pytest.fixture
def build_world(api: Call, seed_broker_account: Callable[..., dict[str, Any]]) -> Callable[[str], World]:
    def build(user: str) -> World:
        account = seed_broker_account(user, f"{user}-zerodha", "ZERODHA")["broker_account_id"]
        basket = api("POST", "/options/baskets", user=user, body={"name": f"{user} basket"})
        assert basket.status == 201, basket.body
        basket_id = basket.body["basket_id"]
        strategy = api(
            "POST",
            "/options/baskets/{basket_id}/strategies",
            basket_id=basket_id,
            user=user,
            body=strategy_body(),
        )
        assert strategy.status == 201, strategy.body
        strategy_id = strategy.body["strategy_id"]
        own = api(
            "POST",
            "/options/strategies/{strategy_id}/brokers",
            strategy_id=strategy_id,
            user=user,
            body={"broker_account_id": account, "lots": 2},
        )
        assert own.status == 201, own.body
        default = api(
            "POST",
            "/options/baskets/{basket_id}/brokers",
            basket_id=basket_id,
            user=user,
            body={"broker_account_id": account, "lots": 1},
        )
        assert default.status == 201, default.body
        return World(
            user, basket_id, strategy_id, account, own.body["allocation_id"], default.body["allocation_id"]
        )

    return build
