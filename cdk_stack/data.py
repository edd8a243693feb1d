"""DynamoDB tables, built from the same definitions (`shared_utils.tables`) the local platform uses.

Every definition of `shared_utils.tables.ALL_TABLES` is built exactly once: the broker-accounts
table by the auth capability (`auth.Auth`: imported from the auth stack in cross-stack mode), the
others here. A definition's `stream_view_type` turns its DynamoDB stream on (the live feed's
broadcaster reads the history and broker-accounts streams: `feed.LiveFeed`).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Acknowledgment, RemovalPolicy, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_stack.config import EnvironmentConfig
from shared_utils.tables import (
    BACKTEST_JOBS,
    EXECUTION_HISTORY,
    FEED_CONNECTIONS,
    IDEMPOTENCY,
    TRADING_CONFIGURATIONS,
    TableDefinition,
    resource_prefix,
)


@dataclass(frozen=True)
class TableHandle:
    """A table with the definition it was built from (or, when imported, that it follows)."""

    table: dynamodb.ITable
    definition: TableDefinition


_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)


def log_retention(config: EnvironmentConfig) -> logs.RetentionDays:
    """CDK's retention member for the configured number of days (validated by the config)."""
    members = [member for member in logs.RetentionDays if member is not logs.RetentionDays.INFINITE]
    return dict(zip(_DAYS, members, strict=True))[config.log_retention_days]


def removal_policy(config: EnvironmentConfig) -> RemovalPolicy:
    return RemovalPolicy.DESTROY if config.removal_policy == "destroy" else RemovalPolicy.RETAIN


def build_table(scope: Construct, definition: TableDefinition, config: EnvironmentConfig) -> dynamodb.Table:
    """One on-demand, encrypted table with the definition's keys, GSIs, TTL attribute and stream."""
    string = dynamodb.AttributeType.STRING
    table = dynamodb.Table(
        scope,
        definition.logical_id,
        table_name=definition.name(resource_prefix(config.name)),
        partition_key=dynamodb.Attribute(name=definition.partition_key, type=string),
        sort_key=dynamodb.Attribute(name=definition.sort_key, type=string) if definition.sort_key else None,
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption=dynamodb.TableEncryption.AWS_MANAGED,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=config.point_in_time_recovery
        ),
        time_to_live_attribute=definition.ttl_attribute,
        stream=dynamodb.StreamViewType[definition.stream_view_type] if definition.stream_view_type else None,
        removal_policy=removal_policy(config),
    )
    for index in definition.indexes:
        table.add_global_secondary_index(
            index_name=index.name,
            partition_key=dynamodb.Attribute(name=index.partition_key, type=string),
            sort_key=dynamodb.Attribute(name=index.sort_key, type=string),
            projection_type=dynamodb.ProjectionType.ALL,
        )
    if not config.point_in_time_recovery:
        Validations.of(table).acknowledge(
            Acknowledgment(
                id="AwsSolutions-DDB3",
                reason=f"Point-in-time recovery is off in the {config.name} environment by configuration "
                "(environments.json): its data is disposable test data; staging and production enable it.",
            )
        )
    return table


class DataTables(Construct):
    """The platform's own tables. The broker-accounts table belongs to the auth capability.

    `feed_connections`: the live feed's open WebSocket connections, here rather than in the feed
    construct because every function's settings name it and the settings come before the
    functions. `backtest_jobs`: the backtests' jobs (`backtests.Backtests` runs them)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig) -> None:
        super().__init__(scope, construct_id)
        self.trading = TableHandle(build_table(self, TRADING_CONFIGURATIONS, config), TRADING_CONFIGURATIONS)
        self.history = TableHandle(build_table(self, EXECUTION_HISTORY, config), EXECUTION_HISTORY)
        self.idempotency = TableHandle(build_table(self, IDEMPOTENCY, config), IDEMPOTENCY)
        self.feed_connections = TableHandle(build_table(self, FEED_CONNECTIONS, config), FEED_CONNECTIONS)
        self.backtest_jobs = TableHandle(build_table(self, BACKTEST_JOBS, config), BACKTEST_JOBS)
