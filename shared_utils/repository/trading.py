"""The trading-configurations repository: baskets, strategies, broker allocations and schedule
entries of every user, one adapter per aggregate on one table (`trading_table`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared_utils.clock import Clock
from shared_utils.repository.allocations import AllocationStore
from shared_utils.repository.baskets import BasketStore
from shared_utils.repository.broker_accounts import DynamoBrokerAccounts
from shared_utils.repository.risk_settings import RiskSettingsStore
from shared_utils.repository.schedule import ScheduleStore
from shared_utils.repository.strategies import StrategyStore
from shared_utils.settings import RuntimeSettings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoTradingRepository(BasketStore, StrategyStore, AllocationStore, ScheduleStore, RiskSettingsStore):
    """Baskets, strategies, broker allocations, schedule entries and portfolio rules of every user."""

    @classmethod
    def from_settings(
        cls, settings: RuntimeSettings, client: DynamoDBClient, clock: Clock, **options: Any
    ) -> DynamoTradingRepository:
        options.setdefault(
            "broker_accounts", DynamoBrokerAccounts(client, settings.broker_accounts_table_name)
        )
        return cls(
            client, settings.trading_table_name, clock, schedule_shards=settings.schedule_shards, **options
        )
