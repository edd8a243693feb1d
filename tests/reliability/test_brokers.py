"""Brokers misbehaving under the real execution engine: timeouts, 5xx and 429 never double an
order; repeated failures open the account's circuit and the history says so; secrets that
become unavailable are served from the cache while it is valid, then fail closed with an alert.

Strategies live in the real repository (moto) and orders are recorded at the broker: the
paper book (`order_log`), here wrapped in a broker that fails on script, or sitting behind the
real broker registry where the SDK adapter would be built from the account's credentials."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from typing import Any

import boto3
import pytest
import time_machine
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.utilities import parameters

from shared_utils.brokers._common import BrokerEndpoint
from shared_utils.brokers.circuit import CircuitBreaker, CircuitState
from shared_utils.brokers.credentials import (
    CREDENTIALS_UNAVAILABLE_METRIC,
    BrokerCredentials,
    SecretsManagerCredentialsProvider,
)
from shared_utils.brokers.guarded import GuardedBroker
from shared_utils.brokers.models import (
    BrokerName,
    OrderRequest,
    OrderResult,
    Position,
)
from shared_utils.brokers.paper import PaperBroker
from shared_utils.brokers.port import (
    Broker,
    BrokerRateLimitedError,
    BrokerTimeoutError,
    BrokerUnavailableError,
)
from shared_utils.brokers.registry import BrokerRegistry
from shared_utils.clock import FixedClock
from shared_utils.execution.accounts import AccountBrokers
from shared_utils.execution.engine import BrokerProvider
from shared_utils.execution.leases import StrategyLeases
from shared_utils.execution.market import SimulatedOptionMarket
from shared_utils.execution.models import BrokerStatus, ExecutionStatus, LedgerStatus
from shared_utils.execution.service import ExecutionService
from shared_utils.execution.store import ExecutionStore
from shared_utils.market.calendar import TradingCalendar
from shared_utils.models.allocation import AllocationCreate
from shared_utils.models.basket import BasketCreate
from shared_utils.models.broker_account import BrokerAccount
from shared_utils.models.common import AllocationScope
from shared_utils.models.strategy import StrategyCreate
from shared_utils.repository import DynamoBrokerAccounts, DynamoTradingRepository
from tests.conftest import TEST_REGION
from tests.integration.execution.conftest import SerializedClient, condor_body
from tests.reliability.timer_harness import OrderLog
from tests.unit.execution.builders import LEVELS, NOW

TRADE_DATE = date(2026, 11, 25)
USER = "trader-1"
LEGS = 4


class ScriptedBroker:
    """A paper book behind an API that fails on script, one fault per `place` call:
    `timeout-accepted` (the order went in, the answer never came), `timeout-lost`, `5xx-after-send`,
    `5xx-before-send`, `429`; None: the call goes through."""

    def __init__(
        self, inner: PaperBroker, script: Sequence[str | None] = (), always: str | None = None
    ) -> None:
        self.inner = inner
        self.script = list(script)
        self.always = always

    @property
    def name(self) -> BrokerName:
        return BrokerName.PAPER

    def place(self, order: OrderRequest) -> OrderResult:
        fault = self.script.pop(0) if self.script else self.always
        if fault in ("timeout-accepted", "5xx-after-send"):
            self.inner.place(order)
        if fault in ("timeout-accepted", "timeout-lost"):
            raise BrokerTimeoutError(message="read timed out", broker="PAPER")
        if fault == "5xx-after-send":
            raise BrokerUnavailableError(message="502 Bad Gateway", broker="PAPER", order_may_exist=True)
        if fault == "5xx-before-send":
            raise BrokerUnavailableError(message="503 Service Unavailable", broker="PAPER")
        if fault == "429":
            raise BrokerRateLimitedError(message="429 Too Many Requests", broker="PAPER")
        return self.inner.place(order)

    def cancel(self, broker_order_id: str) -> OrderResult:
        return self.inner.cancel(broker_order_id)

    def order_status(self, broker_order_id: str) -> OrderResult:
        return self.inner.order_status(broker_order_id)

    def find_order_by_tag(self, tag: str) -> OrderResult | None:
        return self.inner.find_order_by_tag(tag)

    def positions(self) -> list[Position]:
        return self.inner.positions()


class Desk:
    """The execution service over moto, with the broker provider a test chooses."""

    def __init__(self, aws: dict[str, Any]) -> None:
        settings = aws["settings"]
        self.clock = FixedClock(NOW)
        client = SerializedClient(aws["dynamodb"])
        self.accounts = DynamoBrokerAccounts(client, settings.broker_accounts_table_name)
        self.repo = DynamoTradingRepository(
            client, settings.trading_table_name, self.clock, broker_accounts=self.accounts
        )
        self.store = ExecutionStore(client, settings.history_table_name)
        self.leases = StrategyLeases(client, settings.history_table_name, self.clock, sleep=lambda _s: None)
        self.market = SimulatedOptionMarket(dict(LEVELS).get, self.clock)
        self.provider: BrokerProvider | None = None
        self.basket = self.repo.create_basket(USER, BasketCreate(name="Income")).basket_id

    def service(self) -> ExecutionService:
        assert self.provider is not None
        provider = self.provider
        return ExecutionService(
            self.store,
            self.repo,
            lambda _user: provider,
            self.market,
            TradingCalendar.default(),
            self.clock,
            leases=self.leases,
        )

    def paper(self, account: str) -> PaperBroker:
        return PaperBroker(self.market.price, self.clock, account_id=account)

    def strategy(self, account: str, broker: str = "PAPER", lots: int = 1) -> str:
        if self.accounts.get_account(USER, account) is None:
            self.accounts.put_account(
                BrokerAccount(
                    user_id=USER,
                    broker_account_id=account,
                    broker=broker,
                    paper=broker == "PAPER",
                    created_at=NOW,
                )
            )
        created = self.repo.create_strategy(USER, self.basket, StrategyCreate.model_validate(condor_body()))
        self.repo.create_allocation(
            USER,
            AllocationScope.STRATEGY,
            created.strategy_id,
            AllocationCreate(broker_account_id=account, lots=lots),
        )
        return created.strategy_id

    def enter(self, strategy_id: str) -> Any:
        return self.service().enter(USER, strategy_id, TRADE_DATE)

    def history(self) -> list[Any]:
        records, _ = self.store.list_records(
            USER, NOW - timedelta(days=1), NOW + timedelta(days=1), limit=100
        )
        return records


class OneBroker:
    def __init__(self, broker: Broker) -> None:
        self.broker = broker

    def broker_for(self, broker_account_id: str, broker: str) -> Broker:
        return self.broker


@pytest.fixture
def desk(aws: dict[str, Any]) -> Desk:
    return Desk(aws)


def test_timeouts_5xx_and_429_never_double_an_order(desk: Desk, order_log: OrderLog) -> None:
    strategy = desk.strategy("acct-1", lots=2)
    book = desk.paper("acct-1")
    flaky = ScriptedBroker(book, ["timeout-accepted", "5xx-after-send", "429"])
    circuit = CircuitBreaker("acct-1", desk.clock, failure_threshold=5)
    desk.provider = OneBroker(GuardedBroker(flaky, "acct-1", None, circuit))

    first = desk.enter(strategy)
    assert first.status is ExecutionStatus.PARTIAL  # legs 1-2 reconciled by tag, leg 3 refused (429)
    retried = desk.enter(strategy)  # the redelivered trigger completes the run

    assert retried.status is ExecutionStatus.COMPLETE
    per_key = order_log.per_key()
    assert len(per_key) == LEGS and set(per_key.values()) == {1}  # one order per leg at the broker
    ledger = desk.store.ledger_of_day(USER, TRADE_DATE, strategy)
    assert all(e.status is LedgerStatus.FILLED and len(e.broker_order_ids) == 1 for e in ledger)
    nets = sorted(abs(p.quantity) for p in book.positions() if p.quantity)
    assert nets == [130] * LEGS  # 2 lots x 65 on every leg, never twice
    assert circuit.snapshot().state is CircuitState.CLOSED  # 429 is an answer, not an outage


def test_repeated_failures_open_the_accounts_circuit_and_the_history_shows_it(
    desk: Desk, order_log: OrderLog
) -> None:
    strategies = [desk.strategy("acct-9") for _ in range(4)]
    book = desk.paper("acct-9")
    down = ScriptedBroker(book, always="5xx-before-send")
    circuit = CircuitBreaker("acct-9", desk.clock, failure_threshold=3, cool_down=timedelta(seconds=60))
    desk.provider = OneBroker(GuardedBroker(down, "acct-9", None, circuit))

    records = [desk.enter(strategy_id) for strategy_id in strategies]

    assert [r.status for r in records] == [ExecutionStatus.FAILED] * 4
    assert circuit.snapshot().state is CircuitState.OPEN
    assert order_log.orders == []  # nothing ever reached the broker
    newest = {r.strategy_id: r for r in desk.history()}[strategies[-1]]
    outcome = newest.brokers[0]
    assert outcome.status is BrokerStatus.FAILED and "BROKER_CIRCUIT_OPEN" in (outcome.reason or "")
    assert "circuit open for account acct-9" in (newest.reason or "")

    # The broker recovers; after the cool-down one trial call closes the circuit and the
    # redelivered entry places each leg once.
    down.always = None
    desk.clock.set(NOW + timedelta(seconds=61))
    recovered = desk.enter(strategies[-1])
    assert recovered.status is ExecutionStatus.COMPLETE
    assert circuit.snapshot().state is CircuitState.CLOSED
    assert len(order_log.orders) == LEGS == len(set(order_log.orders))


# ---------------------------------------------------------------- secrets

PREFIX = "test/brokers/"
SECRET = {"api_key": "kite-api-key", "access_token": "kite-access-token", "user_id": "AB1234"}


@pytest.fixture
def metrics() -> Iterator[Metrics]:
    metrics = Metrics(namespace="ReliabilityTest")
    metrics.clear_metrics()
    yield metrics
    metrics.clear_metrics()


@pytest.fixture
def zerodha_via_registry(
    desk: Desk, metrics: Metrics, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, list[BrokerCredentials]]:
    """The real registry and Secrets Manager provider (moto); only the SDK adapter's network side
    is replaced, at the registry's one building seam, by a paper book recording the credentials
    it was built with."""
    secrets = boto3.client("secretsmanager", region_name=TEST_REGION)
    secrets.create_secret(Name=f"{PREFIX}zerodha-1", SecretString=json.dumps(SECRET))
    provider = SecretsManagerCredentialsProvider(
        PREFIX, parameters.SecretsProvider(boto3_client=secrets), metrics, max_age_s=300
    )
    built: list[BrokerCredentials] = []
    book = desk.paper("zerodha-1")

    def build_adapter(
        self: BrokerRegistry, name: BrokerName, credentials: BrokerCredentials, endpoint: BrokerEndpoint
    ) -> Broker:
        built.append(credentials)
        return book

    monkeypatch.setattr(BrokerRegistry, "_build_adapter", build_adapter)
    registry = BrokerRegistry(provider, desk.clock, prices=desk.market.price)
    desk.provider = AccountBrokers(registry, desk.accounts, USER)
    return secrets, built


def test_unavailable_secrets_use_the_valid_cache_then_fail_closed_with_an_alert(
    desk: Desk, order_log: OrderLog, metrics: Metrics, zerodha_via_registry: tuple[Any, list[Any]]
) -> None:
    secrets, built = zerodha_via_registry
    before, during, after = (desk.strategy("zerodha-1", broker="ZERODHA") for _ in range(3))
    with time_machine.travel(NOW, tick=False) as traveller:
        assert desk.enter(before).status is ExecutionStatus.COMPLETE
        secrets.delete_secret(SecretId=f"{PREFIX}zerodha-1", ForceDeleteWithoutRecovery=True)

        traveller.shift(timedelta(seconds=200))  # Secrets Manager is gone; the cached copy is valid
        assert desk.enter(during).status is ExecutionStatus.COMPLETE
        assert CREDENTIALS_UNAVAILABLE_METRIC not in metrics.metric_set

        traveller.shift(timedelta(seconds=200))  # past the cache's 300 s
        refused = desk.enter(after)

    assert refused.status is ExecutionStatus.FAILED
    assert "credentials for broker account zerodha-1 unavailable" in (refused.reason or "")
    assert all(o.status is None for o in refused.brokers[0].orders)  # not attempted
    assert desk.store.ledger_of_day(USER, TRADE_DATE, after) == []
    placed = {key for _, key in order_log.orders}
    assert not any(after in key for key in placed)
    assert len(placed) == 2 * LEGS == len(order_log.orders)
    assert metrics.metric_set[CREDENTIALS_UNAVAILABLE_METRIC]["Value"] == [1.0]
    assert {c.access_token.get_secret_value() for c in built} == {SECRET["access_token"]}
