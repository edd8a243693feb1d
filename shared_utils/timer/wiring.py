"""Builds the timer's adapters from the run-time settings, for the handler modules only.

Clients are created on first use (never at import) and reused across warm invocations; domain
code never calls these: it receives the ports as arguments.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import boto3
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from shared_utils.clock import SystemClock
from shared_utils.execution.duplicates import LedgerDuplicateScanner
from shared_utils.execution.exits import PositionStopLossMonitor
from shared_utils.execution.service import EngineExecutionRequester
from shared_utils.repository.trading import DynamoTradingRepository
from shared_utils.settings import RuntimeSettings, load_settings
from shared_utils.timer.calendar_view import CalendarMarketView
from shared_utils.timer.checks import DuplicateOrderScanner, StopLossMonitor
from shared_utils.timer.envelope import TimerEnvelope
from shared_utils.timer.market_data import (
    NoOpenPositions,
    QuoteCache,
    RefreshReport,
    SimulatedMarketData,
    refresh_market_data,
)
from shared_utils.timer.publisher import EventBridgePublisher
from shared_utils.timer.schedule_view import RepositorySchedule
from shared_utils.timer.triggers import (
    DynamoTriggerClaims,
    ExecutionRequester,
    TriggerReport,
    trigger_due_strategies,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_stepfunctions import SFNClient


@lru_cache(maxsize=1)
def dynamodb_client() -> DynamoDBClient:
    return boto3.client("dynamodb", endpoint_url=load_settings().dynamodb_endpoint_url)


@lru_cache(maxsize=1)
def stepfunctions_client() -> SFNClient:
    return boto3.client("stepfunctions")


@lru_cache(maxsize=1)
def events_client() -> EventBridgeClient:
    return boto3.client("events")


def settings() -> RuntimeSettings:
    return load_settings()


def publisher() -> EventBridgePublisher:
    return EventBridgePublisher(events_client(), load_settings().event_bus_name)


@lru_cache(maxsize=1)
def idempotency_store() -> DynamoDBPersistenceLayer:
    """One persistence layer per warm container: each one registers a user-agent hook on the
    shared client, so building one per invocation makes every later request slower."""
    return DynamoDBPersistenceLayer(
        table_name=load_settings().idempotency_table_name, boto3_client=dynamodb_client()
    )


def reset() -> None:
    """Forget cached clients (tests switch moto contexts between cases)."""
    from shared_utils.execution import wiring as execution

    dynamodb_client.cache_clear()
    stepfunctions_client.cache_clear()
    idempotency_store.cache_clear()
    events_client.cache_clear()
    execution.reset()


def market_view() -> CalendarMarketView:
    return CalendarMarketView.default()


def stop_loss_monitor() -> StopLossMonitor:
    from shared_utils.execution import wiring as execution
    from shared_utils.marketplace import wiring as marketplace

    client, config = dynamodb_client(), load_settings()
    return PositionStopLossMonitor(
        execution.service(client, config, Metrics()),
        marketplace.strategy_lookup(client, config),
        execution.market(client, config),
        market_view().calendar,
    )


def duplicate_order_scanner() -> DuplicateOrderScanner:
    from shared_utils.execution import wiring as execution

    return LedgerDuplicateScanner(
        execution.store(dynamodb_client(), load_settings()), SystemClock(), Metrics()
    )


def schedule() -> RepositorySchedule:
    repository = DynamoTradingRepository.from_settings(load_settings(), dynamodb_client(), SystemClock())
    return RepositorySchedule(repository)


def trigger(envelope: TimerEnvelope) -> TriggerReport:
    view = schedule()
    return trigger_due_strategies(
        envelope,
        view,
        view,
        market_view().calendar,
        DynamoTriggerClaims(dynamodb_client(), load_settings().trading_table_name),
        execution_requester(),
    )


def execution_requester() -> ExecutionRequester:
    """The owner's execution, then one per marketplace subscription of the strategy's basket."""
    from shared_utils.execution import wiring as execution
    from shared_utils.marketplace import wiring as marketplace

    client, config, metrics = dynamodb_client(), load_settings(), Metrics()
    owner = EngineExecutionRequester(execution.service(client, config, metrics))
    return marketplace.fan_out(owner, client, config, metrics)


def refresh(envelope: TimerEnvelope) -> RefreshReport:
    return refresh_market_data(
        envelope,
        schedule(),
        NoOpenPositions(),
        SimulatedMarketData(),
        QuoteCache(dynamodb_client(), load_settings().trading_table_name),
        SystemClock().now(),
    )
