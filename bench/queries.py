"""DynamoDB request counts of the hot access patterns, counted (not estimated) on moto.

Every request a boto3 client sends is counted with a botocore `before-send` hook. Users are
loaded with batch writes of the same stored items the repository writes, so 10,000 users load in
seconds; the patterns are then read through the repository itself.

    .venv/bin/python bench/queries.py [--shards 1 4] [--users 10 1000 10000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

for _name, _value in {
    "AWS_DEFAULT_REGION": "ap-south-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
}.items():
    os.environ.setdefault(_name, _value)

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from shared_utils.clock import IST, FixedClock  # noqa: E402
from shared_utils.models.allocation import AllocationCreate  # noqa: E402
from shared_utils.models.basket import Basket, BasketCreate  # noqa: E402
from shared_utils.models.broker_account import BrokerAccount  # noqa: E402
from shared_utils.models.common import AllocationScope  # noqa: E402
from shared_utils.models.items import BasketItem, StrategyItem, schedule_items  # noqa: E402
from shared_utils.models.strategy import Strategy, StrategyCreate  # noqa: E402
from shared_utils.repository import DynamoBrokerAccounts, DynamoTradingRepository  # noqa: E402
from shared_utils.settings import RuntimeSettings  # noqa: E402
from shared_utils.tables import ALL_TABLES  # noqa: E402
from shared_utils.templates import TemplateName, template_legs  # noqa: E402

REGION = "ap-south-1"
TUESDAY = datetime(2026, 11, 24, tzinfo=IST)
NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
MARKET_MINUTES = 370  # entries spread over 09:15 .. 15:25 IST


class RequestCounter:
    def __init__(self, client: Any) -> None:
        self.count = 0
        client.meta.events.register("before-send.dynamodb", self._count)

    def _count(self, **_: Any) -> None:
        self.count += 1


def settings_for(prefix: str, shards: int) -> RuntimeSettings:
    return RuntimeSettings(
        environment="bench",
        trading_table_name=f"{prefix}-trading-configurations",
        history_table_name=f"{prefix}-execution-history",
        broker_accounts_table_name=f"{prefix}-broker-accounts",
        idempotency_table_name=f"{prefix}-idempotency",
        event_bus_name=f"{prefix}-bus",
        schedule_shards=shards,
    )


def create_tables(client: Any, prefix: str) -> None:
    for definition in ALL_TABLES:
        client.create_table(**definition.create_table_kwargs(definition.name(prefix)))


def user_strategy(n: int, body: StrategyCreate) -> tuple[Basket, Strategy]:
    user = f"user-{n:05d}"
    basket = Basket(
        basket_id=f"basket-{n:05d}", user_id=user, name="Bench", strategy_count=1, version=1,
        created_at=NOW, updated_at=NOW,
    )  # fmt: skip
    entry_minute = 9 * 60 + 15 + n % MARKET_MINUTES
    entry = {
        "time": f"{entry_minute // 60:02d}:{entry_minute % 60:02d}",
        "weekdays": ["MON", "TUE", "WED", "THU", "FRI"],
    }
    strategy = Strategy(
        strategy_id=f"strategy-{n:05d}", user_id=user, basket_id=basket.basket_id, version=1,
        created_at=NOW, updated_at=NOW, **(dict(body) | {"entry": entry}),
    )  # fmt: skip
    return basket, strategy


def load_users(client: Any, settings: RuntimeSettings, first: int, last: int, body: StrategyCreate) -> None:
    """Users first..last-1, one basket and one strategy each (entry spread over the day, exit 15:15)."""
    items: list[dict[str, Any]] = []
    for n in range(first, last):
        basket, strategy = user_strategy(n, body)
        items.append(BasketItem.from_domain(basket).to_dynamo())
        items.append(StrategyItem.from_domain(strategy).to_dynamo())
        items += [item.to_dynamo() for item in schedule_items(strategy, settings.schedule_shards)]
    for start in range(0, len(items), 25):
        requests: dict[str, Any] = {
            settings.trading_table_name: [
                {"PutRequest": {"Item": item}} for item in items[start : start + 25]
            ]
        }
        while requests:
            requests = client.batch_write_item(RequestItems=requests).get("UnprocessedItems") or {}


def due_rows(users: list[int], shard_counts: list[int], body: StrategyCreate) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    windows = {
        "09:20-09:25 entries": (TUESDAY.replace(hour=9, minute=20), TUESDAY.replace(hour=9, minute=25)),
        "15:15-15:20 every exit": (TUESDAY.replace(hour=15, minute=15), TUESDAY.replace(hour=15, minute=20)),
    }
    for shards in shard_counts:
        client = boto3.client("dynamodb", region_name=REGION)
        settings = settings_for(f"bench-due-{shards}", shards)
        create_tables(client, f"bench-due-{shards}")
        repo = DynamoTradingRepository.from_settings(settings, client, FixedClock(NOW))
        counter = RequestCounter(client)
        loaded = 0
        for count in users:
            load_users(client, settings, loaded, count, body)
            loaded = count
            for label, (start, end) in windows.items():
                counter.count = 0
                due = repo.due_schedule_entries(start, end)
                rows.append((count, shards, label, len(due), counter.count))
    return rows


def single_item_rows(body: StrategyCreate) -> list[tuple[str, int, str]]:
    client = boto3.client("dynamodb", region_name=REGION)
    settings = settings_for("bench-items", 4)
    create_tables(client, "bench-items")
    accounts = DynamoBrokerAccounts(client, settings.broker_accounts_table_name)
    for n in (1, 2, 3):
        accounts.put_account(
            BrokerAccount(user_id="trader", broker_account_id=f"paper-{n}", broker="PAPER", paper=True)
        )
    repo = DynamoTradingRepository.from_settings(settings, client, FixedClock(NOW))
    basket = repo.create_basket("trader", BasketCreate(name="Ten strategies"))
    for n in (1, 2):
        repo.create_allocation(
            "trader",
            AllocationScope.BASKET,
            basket.basket_id,
            AllocationCreate(broker_account_id=f"paper-{n}", lots=n),
        )
    strategies = [
        repo.create_strategy("trader", basket.basket_id, body.model_copy(update={"name": f"S{n}"}))
        for n in range(10)
    ]
    for n in (1, 2, 3):
        repo.create_allocation(
            "trader",
            AllocationScope.STRATEGY,
            strategies[0].strategy_id,
            AllocationCreate(broker_account_id=f"paper-{n}", lots=n),
        )
    counter = RequestCounter(client)
    rows: list[tuple[str, int, str]] = []
    detail = repo.get_strategy_with_allocations("trader", strategies[0].strategy_id)
    rows.append(
        (
            "strategy + legs + own allocations",
            counter.count,
            f"{len(detail.strategy.legs)} legs, {len(detail.allocations.allocations)} allocations",
        )
    )
    counter.count = 0
    detail = repo.get_strategy_with_allocations("trader", strategies[1].strategy_id)
    rows.append(
        (
            "strategy + legs + inherited basket defaults",
            counter.count,
            f"{len(detail.allocations.allocations)} allocations ({detail.allocations.source.value})",
        )
    )
    counter.count = 0
    basket_detail = repo.get_basket_with_strategies("trader", basket.basket_id)
    rows.append(
        ("basket + defaults + all strategies", counter.count, f"{len(basket_detail.strategies)} strategies")
    )
    return rows


def subscription_rows(counts: list[int]) -> list[tuple[Any, ...]]:
    """Marketplace fan-out discovery: a due published strategy's ACTIVE subscriptions, read
    through the basket-to-subscriptions index while another basket holds 1,000 subscribers and
    every basket has paused and ended subscriptions too."""
    from shared_utils.marketplace.items import SubscriptionItem
    from shared_utils.marketplace.models import (
        FeeModel,
        Subscription,
        SubscriptionAllocation,
        SubscriptionStatus,
    )
    from shared_utils.marketplace.repository import DynamoMarketplaceRepository
    from shared_utils.marketplace.trading import ENTRY_STATUSES, EXIT_STATUSES

    client = boto3.client("dynamodb", region_name=REGION)
    settings = settings_for("bench-subscriptions", 1)
    create_tables(client, "bench-subscriptions")
    repo = DynamoMarketplaceRepository(client, settings.trading_table_name, FixedClock(NOW))
    allocations = [
        SubscriptionAllocation(broker_account_id=f"acct-{n}", broker="ZERODHA", lots=n) for n in (1, 2)
    ]

    def load(basket: str, first: int, last: int) -> None:
        statuses = [SubscriptionStatus.ACTIVE] * 8 + [SubscriptionStatus.PAUSED, SubscriptionStatus.ENDED]
        items = [
            SubscriptionItem.from_domain(
                Subscription(
                    user_id=f"sub-{n:06d}", basket_id=basket, owner_id="admin", status=statuses[n % 10],
                    allocations=allocations, fee=FeeModel(), version=1, subscribed_at=NOW, updated_at=NOW,
                ),
                "Bench basket",
            ).to_dynamo()
            for n in range(first, last)
        ]  # fmt: skip
        for start in range(0, len(items), 25):
            requests: dict[str, Any] = {
                settings.trading_table_name: [{"PutRequest": {"Item": i}} for i in items[start : start + 25]]
            }
            while requests:
                requests = client.batch_write_item(RequestItems=requests).get("UnprocessedItems") or {}

    load("basket-other", 900_000, 901_000)
    counter = RequestCounter(client)
    rows: list[tuple[Any, ...]] = []
    loaded = 0
    for count in counts:
        load("basket-bench", loaded, count)
        loaded = count
        for label, statuses in (("entry: ACTIVE", ENTRY_STATUSES), ("exit: every status", EXIT_STATUSES)):
            counter.count = 0
            found = sum(len(page) for page in repo.subscriptions_of_basket("basket-bench", statuses))
            rows.append((count, label, found, counter.count))
    return rows


def table(headers: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    cells = [headers, *[tuple(str(cell) for cell in row) for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |"
        for row in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shards", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--users", type=int, nargs="+", default=[10, 1_000, 10_000])
    parser.add_argument("--subscribers", type=int, nargs="+", default=[10, 1_000, 10_000])
    args = parser.parse_args()
    body = StrategyCreate.model_validate(
        {
            "name": "Iron condor",
            "underlying": "NIFTY",
            "legs": [leg.model_dump() for leg in template_legs(TemplateName.IRON_CONDOR)],
            "entry": {"time": "09:20", "weekdays": ["TUE"]},
            "exit": {"time": "15:15"},
        }
    )
    began = time.perf_counter()
    with mock_aws():
        due = due_rows(sorted(args.users), args.shards, body)
        single = single_item_rows(body)
        subscriptions = subscription_rows(sorted(args.subscribers))
    print("Due executions in a 5-minute window (Tuesday; one strategy per user):")
    print(table(("users", "shards", "window (IST)", "due", "requests"), due))
    print()
    print("Single reads:")
    print(table(("pattern", "requests", "returned"), single))
    print()
    print("Subscriptions of one due published basket (marketplace fan-out discovery):")
    print(table(("subscriptions of the basket", "statuses read", "found", "requests"), subscriptions))
    print(f"\nbench wall time {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    main()
