"""The timer's event bus and one rule -> handler function per detail-type of the event catalog.

The timer handlers' functions are built here. A detail-type whose handler belongs to another
capability (`QuotesRefreshed` -> the live feed's broadcaster, `feed.LiveFeed`, which also reads
table streams) comes in built (`built_elsewhere`); its rule, dead-letter queue and retry bounds
are made here all the same, so every detail-type is routed one way.

Rules are built from `shared_utils.events.catalog.rule_pattern`, the same patterns the local
platform routes with. Every asynchronous hop (rule -> function, and the function's own async
invocation) retries a bounded number of times within a maximum event age and then lands in the
handler's dead-letter queue: a timer event older than a few minutes is stale, and a lost one must
be visible rather than silent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk_stack.brokers import market_data_secret
from cdk_stack.config import ConfigError, EnvironmentConfig
from cdk_stack.data import DataTables, TableHandle, removal_policy
from cdk_stack.functions import FunctionFactory, grant_table
from shared_utils.events.catalog import HANDLER_MODULES, DetailType, rule_pattern
from shared_utils.tables import resource_prefix

MAX_EVENT_AGE = Duration.minutes(5)
RULE_RETRY_ATTEMPTS = 3
ASYNC_RETRY_ATTEMPTS = 1


def event_bus_name(config: EnvironmentConfig) -> str:
    return f"{resource_prefix(config.name)}-timer-bus"


def dead_letter_queue(scope: Construct, construct_id: str, config: EnvironmentConfig) -> sqs.Queue:
    """An encrypted, TLS-only queue that keeps undeliverable events for two weeks."""
    queue = sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),
        removal_policy=removal_policy(config),
    )
    # Anything in a DLQ is a timer tick or a daily start that did not happen: make it visible.
    queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(1)).create_alarm(
        scope,
        f"{construct_id}NotEmpty",
        alarm_description=f"Undelivered events in {construct_id} ({config.name})",
        threshold=0,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods=1,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
    Validations.of(queue).acknowledge(
        Acknowledgment(
            id="AwsSolutions-SQS3",
            reason="This queue is itself a dead-letter queue (of an EventBridge/Scheduler target, "
            "a Lambda on-failure destination or the strategy-run queue); a DLQ of a DLQ would only "
            "move the problem.",
        )
    )
    return queue


def route_failures_to(function: lambda_.Function, queue: sqs.IQueue) -> None:
    """Bound the function's own asynchronous retries and keep what still fails."""
    function.configure_async_invoke(
        max_event_age=MAX_EVENT_AGE,
        retry_attempts=ASYNC_RETRY_ATTEMPTS,
        on_failure=destinations.SqsDestination(queue),
    )


def event_pattern(pattern: dict[str, Any]) -> events.EventPattern:
    """Map a catalog pattern (EventBridge JSON keys) onto CDK's `EventPattern` fields."""
    return events.EventPattern(**{key.replace("-", "_"): value for key, value in pattern.items()})


# Which tables each handler touches, and whether it writes (False = read-only grant).
# schedule_trigger claims each due trigger in the trading table (and reads strategies and
# listings there); stop_loss_checker reads positions, the retry list, the armed entries
# (re-entries, wait-and-trade legs) and kill switches and keeps trailing peaks and moved-to-cost
# stops (history) and reads strategies: both only queue strategy runs (the executor
# places the orders; `execution.StrategyRunQueue`). market_data_refresher caches quotes in the
# trading table (and reads the open positions and armed entries whose contracts it quotes; a
# real source logs in with a secret under the broker-secret prefix). The duplicate-order checker flags ledger
# entries and stores broker-position mismatches (history), and reads the accounts whose
# positions it asks the brokers for.
HANDLER_ACCESS: dict[str, dict[str, bool]] = {
    "schedule_trigger": {"trading": True},
    "stop_loss_checker": {"trading": False, "history": True},
    "duplicate_order_checker": {"trading": False, "history": True, "broker_accounts": False},
    "market_data_refresher": {"trading": True, "history": False},
}

HANDLER_DESCRIPTIONS: dict[DetailType, str] = {
    DetailType.SCHEDULE_STRATEGY_TRIGGER: "Queues the entries/exits due this minute for the executors",
    DetailType.CHECK_STOP_LOSS: "Checks open positions against their stop-loss rules, queues exits",
    DetailType.CHECK_DUPLICATE_ORDERS: "Flags duplicate and overdue orders, compares broker positions",
    DetailType.REFRESH_MARKET_DATA: "Refreshes quotes of the traded underlyings",
}


class TimerEvents(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        factory: FunctionFactory,
        data: DataTables,
        broker_accounts: TableHandle,
        built_elsewhere: Mapping[DetailType, lambda_.Function] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        built_elsewhere = built_elsewhere or {}
        self.bus = events.EventBus(self, "Bus", event_bus_name=event_bus_name(config))
        tables = {
            "trading": data.trading,
            "history": data.history,
            "broker_accounts": broker_accounts,
        }
        self.handlers: dict[DetailType, lambda_.Function] = {}
        self.dead_letter_queues: dict[DetailType, sqs.Queue] = {}
        for detail_type, module in HANDLER_MODULES.items():
            function = built_elsewhere.get(detail_type)
            if function is None:
                function = self._timer_handler(config, factory, detail_type, module, tables, data.idempotency)
            elif factory.functions.get(module) is not function:
                raise ValueError(f"the {detail_type.value} handler given is not {module}'s function")

            dlq = dead_letter_queue(self, f"{detail_type.value}Dlq", config)
            route_failures_to(function, dlq)
            events.Rule(
                self,
                f"{detail_type.value}Rule",
                event_bus=self.bus,
                rule_name=f"{resource_prefix(config.name)}-{module.replace('_', '-')}",
                description=f"{detail_type.value} events -> {module}",
                event_pattern=event_pattern(rule_pattern(detail_type)),
                targets=[
                    targets.LambdaFunction(
                        function,
                        dead_letter_queue=dlq,
                        max_event_age=MAX_EVENT_AGE,
                        retry_attempts=RULE_RETRY_ATTEMPTS,
                    )
                ],
            )
            self.handlers[detail_type] = function
            self.dead_letter_queues[detail_type] = dlq

    def _timer_handler(
        self,
        config: EnvironmentConfig,
        factory: FunctionFactory,
        detail_type: DetailType,
        module: str,
        tables: Mapping[str, TableHandle],
        idempotency: TableHandle,
    ) -> lambda_.Function:
        if module not in HANDLER_ACCESS:
            raise ConfigError(
                f"event handler {module!r} ({detail_type.value}) has no entry in HANDLER_ACCESS "
                "(cdk_stack/events.py) and is not built by another construct"
            )
        function = factory.create(
            self,
            module,
            description=HANDLER_DESCRIPTIONS[detail_type],
            timeout=Duration.seconds(60),
            memory_size=512,
        )
        for table_key, write in HANDLER_ACCESS[module].items():
            grant_table(function, tables[table_key], write=write)
        secret = market_data_secret(config)
        if module == "market_data_refresher" and secret is not None:
            factory.grant_market_data_secret(function, secret)
        # Every handler is idempotent (at-least-once delivery) through Powertools Idempotency.
        grant_table(function, idempotency, write=True)
        return function
