"""Builds the marketplace's adapters from the run-time settings (handler modules and the timer
wiring only; the domain receives them as arguments)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools import Metrics

from shared_utils.clock import SystemClock
from shared_utils.execution.store import ExecutionStore
from shared_utils.marketplace.repository import DynamoMarketplaceRepository
from shared_utils.marketplace.service import MarketplaceService
from shared_utils.marketplace.trading import (
    SubscribedStrategies,
    SubscriberExecutions,
    SubscriberStrategyLookup,
    SubscriptionFanOut,
)
from shared_utils.repository.broker_accounts import DynamoBrokerAccounts
from shared_utils.repository.trading import DynamoTradingRepository
from shared_utils.settings import RuntimeSettings
from shared_utils.timer.triggers import ExecutionRequester

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def repository(client: DynamoDBClient, settings: RuntimeSettings) -> DynamoMarketplaceRepository:
    return DynamoMarketplaceRepository(client, settings.trading_table_name, SystemClock())


def service(client: DynamoDBClient, settings: RuntimeSettings) -> MarketplaceService:
    return MarketplaceService(
        repository(client, settings),
        DynamoTradingRepository.from_settings(settings, client, SystemClock()),
        DynamoBrokerAccounts(client, settings.broker_accounts_table_name),
        ExecutionStore(client, settings.history_table_name),
        SystemClock(),
    )


def fan_out(
    owner: ExecutionRequester,
    client: DynamoDBClient,
    settings: RuntimeSettings,
    metrics: Metrics | None = None,
) -> SubscriptionFanOut:
    """The timer's requester: `owner` for the strategy's owner, then every subscription."""
    from shared_utils.execution import wiring as execution

    def service_for(reader: SubscribedStrategies) -> SubscriberExecutions:
        return execution.service(client, settings, metrics, strategies=reader)

    return SubscriptionFanOut(
        owner,
        repository(client, settings),
        DynamoTradingRepository.from_settings(settings, client, SystemClock()),
        service_for,
    )


def strategy_lookup(client: DynamoDBClient, settings: RuntimeSettings) -> SubscriberStrategyLookup:
    """The stop-loss monitor's lookup: own strategies, then subscribed published ones."""
    return SubscriberStrategyLookup(
        DynamoTradingRepository.from_settings(settings, client, SystemClock()), repository(client, settings)
    )
