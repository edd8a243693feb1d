"""Table definitions: the one source of truth for names, keys and indexes.

The CDK data construct and the local platform (moto server) both build their tables from these,
so a key or index cannot differ between the deployed and the local platform.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class IndexDefinition:
    name: str
    partition_key: str
    sort_key: str


@dataclass(frozen=True)
class TableDefinition:
    logical_id: str
    suffix: str
    partition_key: str
    sort_key: str | None = None
    indexes: tuple[IndexDefinition, ...] = field(default_factory=tuple)
    ttl_attribute: str | None = None
    # What the table's DynamoDB stream carries (the live feed's broadcaster reads it); None: no stream.
    stream_view_type: str | None = None

    def name(self, prefix: str) -> str:
        return f"{prefix}-{self.suffix}"

    def index(self, name: str) -> IndexDefinition:
        for index in self.indexes:
            if index.name == name:
                return index
        raise KeyError(f"{self.suffix} has no index {name}")

    def key_attributes(self) -> list[str]:
        names = [self.partition_key] + ([self.sort_key] if self.sort_key else [])
        for index in self.indexes:
            names += [index.partition_key, index.sort_key]
        return list(dict.fromkeys(names))

    def create_table_kwargs(self, table_name: str, streams: bool = False) -> dict[str, Any]:
        """Arguments for boto3 `create_table` (used by tests and the local platform); `streams`:
        with the table's stream, if it has one (moto keeps every stream record in memory, so
        only a process that reads them asks)."""
        key_schema = [{"AttributeName": self.partition_key, "KeyType": "HASH"}]
        if self.sort_key:
            key_schema.append({"AttributeName": self.sort_key, "KeyType": "RANGE"})
        kwargs: dict[str, Any] = {
            "TableName": table_name,
            "KeySchema": key_schema,
            "AttributeDefinitions": [
                {"AttributeName": name, "AttributeType": "S"} for name in self.key_attributes()
            ],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if streams and self.stream_view_type:
            kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": self.stream_view_type}
        if self.indexes:
            kwargs["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": index.name,
                    "KeySchema": [
                        {"AttributeName": index.partition_key, "KeyType": "HASH"},
                        {"AttributeName": index.sort_key, "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
                for index in self.indexes
            ]
        return kwargs


ALLOCATIONS_BY_STRATEGY = "AllocationsByStrategy"
USER_EXECUTION_SCHEDULE = "UserExecutionSchedule"
EXECUTIONS_BY_STRATEGY = "ExecutionsByStrategy"

TRADING_CONFIGURATIONS = TableDefinition(
    logical_id="TradingConfigurations",
    suffix="trading-configurations",
    partition_key="pk",
    sort_key="sk",
    indexes=(
        IndexDefinition(ALLOCATIONS_BY_STRATEGY, "gsi1pk", "gsi1sk"),
        IndexDefinition(USER_EXECUTION_SCHEDULE, "gsi2pk", "gsi2sk"),
    ),
    ttl_attribute="expires_at",
)

EXECUTION_HISTORY = TableDefinition(
    logical_id="ExecutionHistory",
    suffix="execution-history",
    partition_key="pk",
    sort_key="sk",
    indexes=(IndexDefinition(EXECUTIONS_BY_STRATEGY, "gsi1pk", "gsi1sk"),),
    ttl_attribute="expires_at",
    stream_view_type="NEW_IMAGE",  # orders, positions, executions, kill switches: the live feed
)

# Owned by the auth stack in cross-stack mode; created here only when the stack deploys alone.
BROKER_ACCOUNTS = TableDefinition(
    logical_id="BrokerAccounts",
    suffix="broker-accounts",
    partition_key="user_id",
    sort_key="broker_account_id",
    stream_view_type="NEW_AND_OLD_IMAGES",  # a state change (a login needed): the live feed
)

# The live feed's open WebSocket connections: one item per connection under its user (a
# broadcast is one query), gone after `expires_at` (API Gateway closes a connection at 2 hours).
FEED_CONNECTIONS = TableDefinition(
    logical_id="FeedConnections",
    suffix="feed-connections",
    partition_key="user_id",
    sort_key="connection_id",
    ttl_attribute="expires_at",
)

# Powertools idempotency persistence (its default attribute names).
IDEMPOTENCY = TableDefinition(
    logical_id="Idempotency",
    suffix="idempotency",
    partition_key="id",
    ttl_attribute="expiration",
)

# Backtest jobs (keys in `shared_utils.keys`): a table of their own, so the job function, which
# runs a user's strategies for up to 15 minutes, can write jobs and nothing the platform trades
# on; items go with their results (`expires_at`, the results bucket's expiry).
BACKTEST_JOBS = TableDefinition(
    logical_id="BacktestJobs",
    suffix="backtest-jobs",
    partition_key="pk",
    sort_key="sk",
    ttl_attribute="expires_at",
)

ALL_TABLES: tuple[TableDefinition, ...] = (
    TRADING_CONFIGURATIONS,
    EXECUTION_HISTORY,
    BROKER_ACCOUNTS,
    IDEMPOTENCY,
    FEED_CONNECTIONS,
    BACKTEST_JOBS,
)


def resource_prefix(environment: str) -> str:
    return f"ql-algo-trading-{environment}"
