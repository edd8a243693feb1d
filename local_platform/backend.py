"""The DynamoDB-compatible endpoint: moto's threaded server on loopback, with every table built
from `shared_utils.tables` (the definitions the stack deploys)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import boto3
from moto.server import ThreadedMotoServer

from local_platform import moto_memory, moto_queries, moto_serialization, moto_transactions
from local_platform.environment import REGION
from shared_utils.settings import RuntimeSettings
from shared_utils.tables import (
    ALL_TABLES,
    BACKTEST_JOBS,
    BROKER_ACCOUNTS,
    EXECUTION_HISTORY,
    FEED_CONNECTIONS,
    IDEMPOTENCY,
    TRADING_CONFIGURATIONS,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

LOOPBACK = "127.0.0.1"


@dataclass
class MotoEndpoint:
    server: ThreadedMotoServer
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self.server.stop()


def start_moto(port: int = 0) -> MotoEndpoint:
    """moto on 127.0.0.1 (`port` 0: a free port chosen by the OS); its request lines stay quiet."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto_transactions.install()
    moto_memory.install()
    moto_serialization.install()
    moto_queries.install()
    server = ThreadedMotoServer(ip_address=LOOPBACK, port=port, verbose=False)
    server.start()
    host, bound = server.get_host_and_port()
    return MotoEndpoint(server=server, host=host, port=int(bound))


def dynamodb(endpoint_url: str) -> DynamoDBClient:
    return boto3.client("dynamodb", endpoint_url=endpoint_url, region_name=REGION)


def table_names(settings: RuntimeSettings) -> dict[str, str]:
    """Logical table -> the name the settings give it (the handlers use the same settings)."""
    return {
        TRADING_CONFIGURATIONS.logical_id: settings.trading_table_name,
        EXECUTION_HISTORY.logical_id: settings.history_table_name,
        BROKER_ACCOUNTS.logical_id: settings.broker_accounts_table_name,
        IDEMPOTENCY.logical_id: settings.idempotency_table_name,
        FEED_CONNECTIONS.logical_id: settings.feed_connections_table_name or FEED_CONNECTIONS.suffix,
        BACKTEST_JOBS.logical_id: settings.backtest_jobs_table_name or BACKTEST_JOBS.suffix,
    }


def create_tables(client: DynamoDBClient, settings: RuntimeSettings, streams: bool = False) -> list[str]:
    """Create every table of `ALL_TABLES` that does not exist yet; returns the names created.
    `streams`: with their DynamoDB streams (the live feed reads them)."""
    names = table_names(settings)
    existing = set(client.list_tables().get("TableNames", []))
    created = []
    for definition in ALL_TABLES:
        name = names[definition.logical_id]
        if name in existing:
            continue
        client.create_table(**definition.create_table_kwargs(name, streams=streams))
        if definition.ttl_attribute:
            client.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": definition.ttl_attribute},
            )
        created.append(name)
    return created
