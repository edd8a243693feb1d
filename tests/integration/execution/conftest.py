"""Execution tests against moto: the history table from the stack's definition, paper brokers,
and brokers that fail the way real ones do (down, timing out after accepting the order)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from local_platform.inprocess_dynamodb import SerializedClient
from shared_utils.brokers.models import (
    BrokerName,
    OptionInstrument,
    OrderRequest,
    OrderResult,
    Position,
)
from shared_utils.brokers.paper import PaperBroker
from shared_utils.brokers.port import Broker, BrokerTimeoutError, BrokerUnavailableError
from shared_utils.clock import FixedClock
from shared_utils.errors import ConfigurationError
from shared_utils.execution.engine import ExecutionEngine
from shared_utils.execution.executor import StrategyRunExecutor
from shared_utils.execution.kill_switch import KillSwitch
from shared_utils.execution.runs import StrategyRun
from shared_utils.execution.store import ExecutionStore
from tests.unit.execution.builders import NOW, market


class DownBroker:
    """A broker whose API refuses connections: nothing reaches it."""

    def __init__(self) -> None:
        self.up = False
        self.inner: PaperBroker | None = None

    @property
    def name(self) -> BrokerName:
        return BrokerName.PAPER

    def _check(self) -> PaperBroker:
        if not self.up or self.inner is None:
            raise BrokerUnavailableError(message="connection refused", broker="PAPER", order_may_exist=False)
        return self.inner

    def place(self, order: OrderRequest) -> OrderResult:
        return self._check().place(order)

    def cancel(self, broker_order_id: str) -> OrderResult:
        return self._check().cancel(broker_order_id)

    def order_status(self, broker_order_id: str) -> OrderResult:
        return self._check().order_status(broker_order_id)

    def find_order_by_tag(self, tag: str) -> OrderResult | None:
        return self._check().find_order_by_tag(tag)

    def positions(self) -> list[Position]:
        return self._check().positions()


class TimeoutAfterAccepting(DownBroker):
    """Takes the first `timeouts` orders but the answer never arrives (a read timeout)."""

    def __init__(self, inner: PaperBroker, timeouts: int = 1, visible: bool = True) -> None:
        super().__init__()
        self.up = True
        self.inner = inner
        self.timeouts = timeouts
        self.visible = visible
        self.hidden: set[str] = set()

    def place(self, order: OrderRequest) -> OrderResult:
        assert self.inner is not None
        if self.timeouts > 0:
            self.timeouts -= 1
            if self.visible:
                self.inner.place(order)
            raise BrokerTimeoutError(message="read timed out", broker="PAPER")
        return self.inner.place(order)


class Brokers:
    """The `BrokerProvider` of a test: one broker object per account, paper unless replaced."""

    def __init__(self, clock: FixedClock, prices: Callable[[OptionInstrument], Decimal | None]) -> None:
        self._clock = clock
        self._prices = prices
        self.by_account: dict[str, Broker] = {}

    def paper(self, account: str) -> PaperBroker:
        broker = PaperBroker(self._prices, self._clock, account_id=account)
        self.by_account[account] = broker
        return broker

    def broker_for(self, broker_account_id: str, broker: str) -> Broker:
        found = self.by_account.get(broker_account_id)
        if found is None:
            raise ConfigurationError(message=f"no broker for account {broker_account_id}")
        return found


def net_quantities(broker: Broker) -> dict[str, int]:
    return {
        p.instrument.key: p.quantity for p in broker.positions() if p.instrument is not None and p.quantity
    }


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def sim(clock: FixedClock) -> Any:
    return market(clock)


@pytest.fixture
def store(aws: dict[str, Any]) -> ExecutionStore:
    return ExecutionStore(SerializedClient(aws["dynamodb"]), aws["settings"].history_table_name)


@pytest.fixture
def brokers(clock: FixedClock, sim: Any) -> Brokers:
    return Brokers(clock, sim.price)


@pytest.fixture
def engine(store: ExecutionStore, brokers: Brokers, clock: FixedClock) -> ExecutionEngine:
    return ExecutionEngine(store, brokers, clock)


class Platform:
    """Strategies in the real repository (moto), paper brokers per account, the execution service."""

    def __init__(
        self, aws: dict[str, Any], clock: FixedClock, brokers: Brokers, store: ExecutionStore
    ) -> None:
        from shared_utils.execution.leases import StrategyLeases
        from shared_utils.execution.market import SimulatedOptionMarket
        from shared_utils.execution.service import ExecutionService
        from shared_utils.market.calendar import TradingCalendar
        from shared_utils.repository.broker_accounts import DynamoBrokerAccounts
        from shared_utils.repository.trading import DynamoTradingRepository
        from tests.unit.execution.builders import LEVELS

        settings = aws["settings"]
        self.clock = clock
        self.brokers = brokers
        self.store = store
        self.levels = dict(LEVELS)
        self.market = SimulatedOptionMarket(self.levels.get, clock)
        brokers._prices = self.market.price
        self.accounts = DynamoBrokerAccounts(aws["dynamodb"], settings.broker_accounts_table_name)
        self.repository = DynamoTradingRepository(
            aws["dynamodb"], settings.trading_table_name, clock, broker_accounts=self.accounts
        )
        self.leases = StrategyLeases(
            aws["dynamodb"], settings.history_table_name, clock, sleep=lambda _s: None
        )
        self.service = ExecutionService(
            store,
            self.repository,
            lambda _user: brokers,
            self.market,
            TradingCalendar.default(),
            clock,
            leases=self.leases,
        )
        self.queue = InlineQueue()
        self.kill_switch = KillSwitch(self.service, self.repository, self.queue, clock)
        self.executor = StrategyRunExecutor(
            self.service,
            self.queue,
            clock,
            subscribers=NoSubscribers(),
            kill_switch=self.kill_switch,
            entry_max_lag=timedelta(minutes=2),
        )
        self._baskets: dict[str, str] = {}

    def execute(self, request: Any) -> str:
        """What the executor does with the owner's run of a timer request."""
        from shared_utils.marketplace.trading import owner_run

        return self.executor.execute(owner_run(request))

    def drain(self) -> list[str]:
        """Run everything queued (and what that queues) through the executor, in order."""
        return self.queue.drain(self.executor)

    def sweep(self, trade_date: Any) -> list[Any]:
        """The retry sweep as the executor runs it: each run of the day's retry list completed."""
        return [
            self.service.retry_run(user, strategy, trade_date, run_name)
            for user, strategy, run_name in self.store.runs_to_retry(trade_date)
        ]

    def checking_executor(self, check: CheckThenRun, metrics: Any = None) -> StrategyRunExecutor:
        """The executor as deployed: it also runs the CHECK runs of `check`'s monitor."""
        return StrategyRunExecutor(
            self.service,
            self.queue,
            self.clock,
            subscribers=NoSubscribers(),
            kill_switch=self.kill_switch,
            entry_max_lag=timedelta(minutes=2),
            checks=check.monitor,
            metrics=metrics,
        )

    def monitor(self, prices: Any = None) -> CheckThenRun:
        """The minute's stop-loss check, and the exits and retries it queues run right after."""
        from shared_utils.execution.exits import PositionStopLossMonitor
        from shared_utils.market.calendar import TradingCalendar

        check = PositionStopLossMonitor(
            self.store, self.repository, prices or self.market, TradingCalendar.default(), self.queue
        )
        return CheckThenRun(check, self)

    def strategy(self, user: str, body: dict[str, Any], allocations: dict[str, int]) -> str:
        from shared_utils.models.allocation import AllocationCreate
        from shared_utils.models.basket import BasketCreate
        from shared_utils.models.broker_account import BrokerAccount
        from shared_utils.models.common import AllocationScope
        from shared_utils.models.strategy import StrategyCreate

        if user not in self._baskets:
            self._baskets[user] = self.repository.create_basket(user, BasketCreate(name="Income")).basket_id
        created = self.repository.create_strategy(
            user, self._baskets[user], StrategyCreate.model_validate(body)
        )
        for account, lots in allocations.items():
            if self.accounts.get_account(user, account) is None:
                self.accounts.put_account(
                    BrokerAccount(user_id=user, broker_account_id=account, broker="PAPER", paper=True)
                )
            if account not in self.brokers.by_account:
                self.brokers.paper(account)
            self.repository.create_allocation(
                user,
                AllocationScope.STRATEGY,
                created.strategy_id,
                AllocationCreate(broker_account_id=account, lots=lots),
            )
        return created.strategy_id


class InlineQueue:
    """The run queue of these tests: keeps what is sent; `drain` runs it, in order, through the
    real executor (the local platform's threaded queue has its own tests)."""

    def __init__(self) -> None:
        self.sent: list[StrategyRun] = []

    def send(self, runs: Sequence[StrategyRun], *, delay_s: int = 0) -> None:
        self.sent += runs

    def drain(self, executor: StrategyRunExecutor) -> list[str]:
        """Outcomes in order; a run that raises is a failed message (the queue would deliver it
        again, then dead-letter it): recorded as `FAILED ...`, and the others still run."""
        outcomes: list[str] = []
        while self.sent:
            run = self.sent.pop(0)
            try:
                outcomes.append(executor.execute(run))
            except Exception as error:
                outcomes.append(f"FAILED {run.user_id}/{run.strategy_id}: {error}")
        return outcomes


class CheckThenRun:
    def __init__(self, monitor: Any, platform: Platform) -> None:
        self.monitor = monitor
        self.platform = platform
        self.outcomes: list[str] = []

    def check(self, tick: datetime, trade_date: Any) -> Any:
        """The tick and every partition's CHECK run in one report (the split itself is tested
        in `test_stop_loss_partitions.py`)."""
        report = self.monitor.check_all(tick, trade_date)
        self.outcomes = self.platform.drain()
        return report


class NoSubscribers:
    def fan_out(self, run: StrategyRun) -> int:
        raise AssertionError("no marketplace in these tests")

    def run(self, run: StrategyRun, *, refuse: str | None) -> None:
        raise AssertionError("no marketplace in these tests")


def timer_request(strategy_id: str, action: Any = None, user: str = "user-a") -> Any:
    """What the timer hands the engine for the 09:30 tick of 2026-11-25 (ENTRY by default)."""
    from shared_utils.execution.requests import ExecutionRequest
    from shared_utils.keys import ScheduleKind

    at = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)
    return ExecutionRequest(
        user_id=user,
        strategy_id=strategy_id,
        basket_id="b",
        action=action or ScheduleKind.ENTRY,
        scheduled_at=at,
        trade_date=at.date(),
        strategy_version=1,
        tick=at,
    )


def condor_body(**extra: Any) -> dict[str, Any]:
    legs = [
        ("SELL", "CE", 2),
        ("BUY", "CE", 6),
        ("SELL", "PE", -2),
        ("BUY", "PE", -6),
    ]
    return {
        "name": "Iron condor",
        "underlying": "NIFTY",
        "legs": [
            {
                "action": action,
                "option_type": kind,
                "strike": {"method": "ATM_OFFSET", "steps": steps},
                "expiry": "CURRENT_WEEKLY",
            }
            for action, kind, steps in legs
        ],
        "entry": {"time": "09:30", "weekdays": ["MON", "TUE", "WED", "THU", "FRI"]},
        "exit": {"time": "15:10"},
        **extra,
    }


@pytest.fixture
def platform(aws: dict[str, Any], clock: FixedClock, brokers: Brokers, store: ExecutionStore) -> Platform:
    return Platform(aws, clock, brokers, store)


from tests.integration.api.conftest import api  # noqa: E402,F401  (the API fixture, shared)
