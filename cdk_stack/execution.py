"""The strategy-run queue and its executor: what the timer, the stop-loss check and the kill
switch decide must run is a message on a standard SQS queue, consumed by the StrategyExecutor
function through an event source mapping.

- Partial batch responses (`ReportBatchItemFailures`): a failed message comes back alone.
- The queue's visibility timeout is six times the executor's timeout (AWS's advice for SQS event
  sources: a message is not handed to a second executor while the first may still run it).
- After `MAX_RECEIVES` receives a message moves to the dead-letter queue, which alarms.
- `strategy_runs.max_concurrency` of the environment caps the executors at once (2-1000).
- Standard, not FIFO: the per-strategy lease keeps one strategy's runs apart (docs/execution.md).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk_stack.config import EnvironmentConfig
from cdk_stack.data import DataTables, TableHandle, removal_policy
from cdk_stack.events import dead_letter_queue
from cdk_stack.functions import FunctionFactory, grant_table

EXECUTOR_MODULE = "strategy_executor"
EXECUTOR_TIMEOUT = Duration.seconds(60)
VISIBILITY_TIMEOUT = Duration.seconds(6 * 60)
MAX_RECEIVES = 5


class StrategyRunQueue(Construct):
    """The queue and its DLQ; built before the functions, whose settings carry its URL."""

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig) -> None:
        super().__init__(scope, construct_id)
        self.dead_letters = dead_letter_queue(self, "StrategyRunsDlq", config)
        self.queue = sqs.Queue(
            self,
            "StrategyRuns",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=VISIBILITY_TIMEOUT,
            # A run nobody took within a day is of a past session: its DLQ keeps it for two weeks.
            retention_period=Duration.days(1),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dead_letters, max_receive_count=MAX_RECEIVES),
            removal_policy=removal_policy(config),
        )

    def add_executor(
        self,
        factory: FunctionFactory,
        *,
        config: EnvironmentConfig,
        data: DataTables,
        broker_accounts: TableHandle,
    ) -> lambda_.Function:
        """The executor: runs entries, exits, retries, subscriber fan-out pages and a user's kill
        switch. It reads and pauses strategies (configurations), writes the ledger, runs and
        positions (history), reads the accounts whose brokers it calls, and queues follow-up runs
        (a busy strategy's run sent back, subscriber runs, a user's exits)."""
        function = factory.create(
            self,
            EXECUTOR_MODULE,
            description="Runs strategy-run messages: entries, exits, retries, fan-out, kill switch",
            timeout=EXECUTOR_TIMEOUT,
            memory_size=512,
        )
        grant_table(function, data.trading, write=True)
        grant_table(function, data.history, write=True)
        grant_table(function, broker_accounts, write=False)
        # A session the broker refuses mid-day marks its account NEEDS_LOGIN (one UpdateItem).
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["dynamodb:UpdateItem"], resources=[broker_accounts.table.table_arn])
        )
        self.queue.grant_send_messages(function)
        function.add_event_source(
            sources.SqsEventSource(
                self.queue,
                batch_size=config.strategy_runs.batch_size,
                max_batching_window=Duration.seconds(0),
                report_batch_item_failures=True,
                max_concurrency=config.strategy_runs.max_concurrency,
            )
        )
        return function

    def allow_sending(self, *functions: lambda_.IFunction) -> None:
        for function in functions:
            self.queue.grant_send_messages(function)
