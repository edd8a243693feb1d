"""Repository ports and their DynamoDB adapters."""

from shared_utils.repository.broker_accounts import DynamoBrokerAccounts
from shared_utils.repository.ports import (
    BrokerAccountsReader,
    BrokerAccountsWriter,
    ScheduleReader,
    TradingRepository,
)
from shared_utils.repository.trading import (
    ALLOCATION_LIMIT,
    MAX_ALLOCATIONS_PER_OWNER,
    STRATEGY_LIMIT,
    DynamoTradingRepository,
)

__all__ = [
    "ALLOCATION_LIMIT",
    "MAX_ALLOCATIONS_PER_OWNER",
    "STRATEGY_LIMIT",
    "BrokerAccountsReader",
    "BrokerAccountsWriter",
    "DynamoBrokerAccounts",
    "DynamoTradingRepository",
    "ScheduleReader",
    "TradingRepository",
]
