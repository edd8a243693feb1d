"""Clients and ports the routers use, built lazily on first use (never at import) and cached
for the life of the execution environment. Table names come from the validated settings."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from shared_utils.settings import load_settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import DynamoDBServiceResource, Table

    from shared_utils.api.broker_account_reader import BrokerAccountReader


@lru_cache(maxsize=4)
def _dynamodb(endpoint_url: str | None) -> DynamoDBServiceResource:
    import boto3

    return boto3.resource("dynamodb", endpoint_url=endpoint_url)


def dynamodb() -> DynamoDBServiceResource:
    return _dynamodb(load_settings().dynamodb_endpoint_url)


def broker_accounts_table() -> Table:
    return dynamodb().Table(load_settings().broker_accounts_table_name)


def broker_account_reader() -> BrokerAccountReader:
    from shared_utils.api.broker_account_reader import BrokerAccountReader

    return BrokerAccountReader(broker_accounts_table())


def reset() -> None:
    """Forget cached clients (tests switching endpoints, the local platform restarting)."""
    _dynamodb.cache_clear()
