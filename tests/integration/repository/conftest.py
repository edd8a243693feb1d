"""Repository fixtures on moto: a fixed clock, seeded paper broker accounts, and helpers to
build valid request bodies, count DynamoDB requests and snapshot the whole table."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from shared_utils.clock import FixedClock
from shared_utils.models.basket import BasketCreate
from shared_utils.models.broker_account import BrokerAccount
from shared_utils.models.strategy import StrategyCreate
from shared_utils.repository import DynamoBrokerAccounts, DynamoTradingRepository
from shared_utils.settings import RuntimeSettings

REGION = "ap-south-1"
USER = "user-1"
OTHER_USER = "user-2"
# Tuesday 2026-11-24, 03:30 UTC = 09:00 IST
START = datetime(2026, 11, 24, 3, 30, tzinfo=UTC)


def strategy_body(name: str = "Straddle", **overrides: Any) -> StrategyCreate:
    body: dict[str, Any] = {
        "name": name,
        "underlying": "NIFTY",
        "legs": [
            {
                "action": "SELL",
                "option_type": "CE",
                "strike": {"method": "ATM_OFFSET", "steps": 0},
                "expiry": "CURRENT_WEEKLY",
            },
            {
                "action": "SELL",
                "option_type": "PE",
                "strike": {"method": "ATM_OFFSET", "steps": 0},
                "expiry": "CURRENT_WEEKLY",
                "stop_loss": {"kind": "PERCENT", "value": 30},
            },
        ],
        "entry": {"time": "09:20", "weekdays": ["MON", "TUE", "WED", "THU", "FRI"]},
        "exit": {"time": "15:15"},
    }
    return StrategyCreate.model_validate(body | overrides)


class RequestCounter:
    """Counts the HTTP requests a boto3 client really sends (botocore `before-send` hook)."""

    def __init__(self, client: Any) -> None:
        self.operations: list[str] = []
        client.meta.events.register("before-send.dynamodb", self._count)

    def _count(self, request: Any, **_: Any) -> None:
        self.operations.append(request.headers.get("X-Amz-Target", b"").decode().split(".")[-1])

    def reset(self) -> None:
        self.operations.clear()

    @property
    def count(self) -> int:
        return len(self.operations)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def settings(aws: dict[str, Any]) -> RuntimeSettings:
    settings: RuntimeSettings = aws["settings"]
    return settings


def make_repo(
    settings: RuntimeSettings, clock: FixedClock, client: Any | None = None
) -> DynamoTradingRepository:
    return DynamoTradingRepository.from_settings(
        settings, client or boto3.client("dynamodb", region_name=REGION), clock
    )


@pytest.fixture
def client(aws: dict[str, Any]) -> Any:
    return boto3.client("dynamodb", region_name=REGION)


@pytest.fixture
def repo(settings: RuntimeSettings, clock: FixedClock, client: Any) -> DynamoTradingRepository:
    return make_repo(settings, clock, client)


@pytest.fixture
def accounts(settings: RuntimeSettings, client: Any) -> DynamoBrokerAccounts:
    store = DynamoBrokerAccounts(client, settings.broker_accounts_table_name)
    for user in (USER, OTHER_USER):
        for n in (1, 2, 3):
            store.put_account(
                BrokerAccount(
                    user_id=user,
                    broker_account_id=f"paper-{n}",
                    broker="PAPER",
                    label=f"Paper {n}",
                    paper=True,
                    created_at=START,
                ),
                secret_ref=f"secret/{user}/{n}",
            )
    return store


@pytest.fixture
def counter(client: Any) -> RequestCounter:
    return RequestCounter(client)


@pytest.fixture
def basket_id(repo: DynamoTradingRepository) -> str:
    return repo.create_basket(USER, BasketCreate(name="Weekly income")).basket_id


def snapshot(client: Any, settings: RuntimeSettings) -> list[dict[str, Any]]:
    """Every item of the trading table, in a stable order: to prove a rejected write changed nothing."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": settings.trading_table_name}
    while True:
        page = client.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return sorted(items, key=lambda item: (item["pk"]["S"], item["sk"]["S"]))


@pytest.fixture
def table_items(client: Any, settings: RuntimeSettings) -> Iterator[Any]:
    yield lambda: snapshot(client, settings)
