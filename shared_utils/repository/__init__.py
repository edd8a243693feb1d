"""Repository ports and their DynamoDB adapters (on the toolkit of `repository.dynamo`)."""

from shared_utils.repository.broker_accounts import DynamoBrokerAccounts
from shared_utils.repository.ports import (
    BrokerAccountsReader,
    BrokerAccountsWriter,
    ScheduleReader,
    TradingRepository,
)
from shared_utils.repository.trading import DynamoTradingRepository

__all__ = [
    "BrokerAccountsReader",
    "BrokerAccountsWriter",
    "DynamoBrokerAccounts",
    "DynamoTradingRepository",
    "ScheduleReader",
    "TradingRepository",
]
