"""Clients and repositories the routers use, built lazily on first use (never at import).

The boto3 client is cached for the life of the execution environment; repositories are cheap
objects over it, built per request from the validated settings.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from shared_utils.settings import load_settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from shared_utils.repository.ports import BrokerAccountsReader, TradingRepository


@lru_cache(maxsize=4)
def _dynamodb_client(endpoint_url: str | None) -> DynamoDBClient:
    import boto3

    return boto3.client("dynamodb", endpoint_url=endpoint_url)


def dynamodb_client() -> DynamoDBClient:
    return _dynamodb_client(load_settings().dynamodb_endpoint_url)


def broker_accounts() -> BrokerAccountsReader:
    from shared_utils.repository.broker_accounts import DynamoBrokerAccounts

    return DynamoBrokerAccounts(dynamodb_client(), load_settings().broker_accounts_table_name)


def trading_repository() -> TradingRepository:
    from shared_utils.clock import SystemClock
    from shared_utils.repository.trading import DynamoTradingRepository

    return DynamoTradingRepository.from_settings(load_settings(), dynamodb_client(), SystemClock())


def reset() -> None:
    """Forget cached clients (tests switching endpoints, the local platform restarting)."""
    _dynamodb_client.cache_clear()
