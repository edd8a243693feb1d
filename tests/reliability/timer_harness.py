"""The deployed path of a trading day, in process: EventBridge events handed to the real timer
handlers (`schedule_trigger` ...), the real execution engine behind them, paper brokers from the
real broker registry, in-process moto, and the composition root's clock moved by the test.

Every order a paper broker receives is recorded (`orders`), so a test can say exactly how many
orders reached a broker for each (strategy, account, leg)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from shared_utils.brokers.models import OrderRequest, OrderResult
from shared_utils.brokers.paper import PaperBroker
from shared_utils.clock import FixedClock
from shared_utils.composition import platform
from shared_utils.execution.store import ExecutionStore
from shared_utils.market.underlyings import Underlying
from shared_utils.market_data.cache import QuoteCache
from shared_utils.market_data.models import QuoteRequest
from shared_utils.models.allocation import AllocationCreate
from shared_utils.models.basket import BasketCreate
from shared_utils.models.broker_account import BrokerAccount
from shared_utils.models.common import AllocationScope
from shared_utils.models.strategy import StrategyCreate
from shared_utils.repository import DynamoBrokerAccounts, DynamoTradingRepository
from tests.conftest import TEST_REGION, install_platform
from tests.integration.execution.conftest import SerializedClient, condor_body

# Wednesday 2026-11-25; 09:30 IST = 04:00 UTC.
TRADE_DAY_START = datetime(2026, 11, 25, 3, 40, tzinfo=UTC)


class OrderLog:
    """Every order the paper brokers received: (account, order key)."""

    def __init__(self) -> None:
        self.orders: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self.during_place: Callable[[], None] | None = None

    def per_key(self) -> Counter[tuple[str, str]]:
        return Counter(self.orders)


class TradingDay:
    def __init__(self, aws: dict[str, Any], client: Any, log: OrderLog, clock: FixedClock) -> None:
        self.settings = aws["settings"]
        self.client = client
        self.log = log
        self.clock = clock
        self.accounts = DynamoBrokerAccounts(client, self.settings.broker_accounts_table_name)
        self.repo = DynamoTradingRepository.from_settings(self.settings, client, clock)
        self.store = ExecutionStore(client, self.settings.history_table_name)
        self.strategies: dict[str, tuple[str, dict[str, int]]] = {}

    def move_to(self, instant: datetime) -> None:
        """The clock at `instant`, and what that minute's RefreshMarketData caches: every index
        level from the configured source (without a fresh quote nothing is priced)."""
        self.clock.set(instant)
        batch = platform().market_data_source().quotes(QuoteRequest(indices=list(Underlying)), instant)
        QuoteCache(self.client, self.settings.trading_table_name).put(batch.quotes, instant)

    def strategy(self, user: str, entry: str, allocations: dict[str, int], **extra: Any) -> str:
        basket = self.repo.create_basket(user, BasketCreate(name=f"{user} {entry}")).basket_id
        body = condor_body(**extra)
        body["entry"] = {"time": entry, "weekdays": ["MON", "TUE", "WED", "THU", "FRI"]}
        created = self.repo.create_strategy(user, basket, StrategyCreate.model_validate(body))
        for account, lots in allocations.items():
            if self.accounts.get_account(user, account) is None:
                self.accounts.put_account(
                    BrokerAccount(
                        user_id=user,
                        broker_account_id=account,
                        broker="PAPER",
                        paper=True,
                        created_at=TRADE_DAY_START,
                    )
                )
            self.repo.create_allocation(
                user,
                AllocationScope.STRATEGY,
                created.strategy_id,
                AllocationCreate(broker_account_id=account, lots=lots),
            )
        self.strategies[created.strategy_id] = (user, allocations)
        return created.strategy_id

    def ledger(self, user: str, strategy_id: str) -> list[Any]:
        return self.store.ledger_of_day(user, TRADE_DAY_START.date(), strategy_id)


@pytest.fixture
def order_log(monkeypatch: pytest.MonkeyPatch) -> OrderLog:
    log = OrderLog()
    original = PaperBroker.place

    def place(self: PaperBroker, order: OrderRequest) -> OrderResult:
        with log._lock:
            log.orders.append((self._account_id, order.order_key))
        if log.during_place is not None:
            hook, log.during_place = log.during_place, None
            hook()
        return original(self, order)

    monkeypatch.setattr(PaperBroker, "place", place)
    return log


@pytest.fixture
def trading_day(aws: dict[str, Any], order_log: OrderLog) -> Iterator[TradingDay]:
    """Handlers wired exactly as deployed; their one DynamoDB client serialises calls, because the
    engine's broker threads would otherwise run moto transactions concurrently (TESTING_NOTES)."""
    client = SerializedClient(boto3.client("dynamodb", region_name=TEST_REGION))
    clock = FixedClock(TRADE_DAY_START)
    install_platform(aws["settings"], clock, client)
    yield TradingDay(aws, client, order_log, clock)
