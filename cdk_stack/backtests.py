"""Backtests as jobs: the results bucket and the job function (docs/backtesting.md).

The API (`backtests` module) stores a job and invokes the job function asynchronously with its
reference; the function runs the backtester for up to 15 minutes on one full vCPU (1769 MB),
writes `result.json` and `report.html` under `backtests/{user}/{job}/` and ends the job. At most
`RUNNER_CONCURRENCY` jobs run at once (others wait in Lambda's event queue, up to the jobs'
start deadline, `START_WITHIN`); Lambda never retries one (a job that failed is FAILED, and a
redelivered event does nothing): an invocation that failed (a timeout) or expired in the queue
goes to a dead-letter queue that alarms. Results expire after 30 days, with the jobs' items.

Least privilege: the job function reads the configurations table (strategies, allocations,
calendar changes), reads and updates jobs (never creates or deletes one, and writes no other
table), and puts objects under `backtests/*`; the API function may invoke this one function and
read objects under `backtests/*` (the links it presigns are signed with its role).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, Duration, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk_stack.config import EnvironmentConfig
from cdk_stack.data import DataTables, removal_policy
from cdk_stack.events import dead_letter_queue
from cdk_stack.functions import FunctionFactory, function_name, grant_table
from lambda_functions.option_baskets import BACKTEST_RUNNER
from shared_utils.api.catalog import BACKTESTS
from shared_utils.backtest.job_models import JOB_TIMEOUT, RETENTION, START_WITHIN
from shared_utils.keys import BACKTEST_OBJECT_PREFIX

# The API module that submits and reads jobs.
API_MODULE = BACKTESTS
# One full vCPU: the backtester is single-threaded CPU work (Lambda allots a vCPU at 1769 MB).
RUNNER_MEMORY_MB = 1769
RUNNER_CONCURRENCY = 5


class Backtests(Construct):
    """The results bucket; built before the functions (their settings name it). Then
    `add_runner` builds the job function and `allow_starting` lets the API function use both."""

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self.bucket = s3.Bucket(
            self,
            "Results",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            encryption=s3.BucketEncryption.S3_MANAGED,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireBacktestResults",
                    prefix=BACKTEST_OBJECT_PREFIX,
                    expiration=Duration.days(RETENTION.days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=removal_policy(config),
        )
        Validations.of(self.bucket).acknowledge(
            Acknowledgment(
                id="AwsSolutions-S1",
                reason="Holds each user's backtest results, written by the job function and read "
                "through 15-minute links the API signs for the job's owner only; the API's access "
                "logs record every request for a link, and objects expire after 30 days.",
            )
        )
        # An invocation that failed anyway (a timeout, a crash) or waited past the start deadline
        # is kept, with the job's reference, in a dead-letter queue that alarms.
        self.dead_letters = dead_letter_queue(self, "BacktestRunnerDlq", config)
        self.runner: lambda_.Function | None = None

    @property
    def runner_name(self) -> str:
        return function_name(self._config, BACKTEST_RUNNER)

    def settings(self, data: DataTables, *, starts_jobs: bool) -> dict[str, Any]:
        """The `RuntimeSettings` fields of the functions that keep or run jobs."""
        settings: dict[str, Any] = {
            "backtest_jobs_table_name": data.backtest_jobs.table.table_name,
            "backtest_results_bucket": self.bucket.bucket_name,
        }
        if starts_jobs:
            settings["backtest_runner_function"] = self.runner_name
        return settings

    def add_runner(self, factory: FunctionFactory, *, data: DataTables) -> lambda_.Function:
        function = factory.create(
            self,
            BACKTEST_RUNNER,
            description="Runs one backtest job: the backtester, its result and report, the job's end",
            timeout=Duration.seconds(int(JOB_TIMEOUT.total_seconds())),
            memory_size=RUNNER_MEMORY_MB,
            settings=self.settings(data, starts_jobs=False),
            reserved_concurrency=RUNNER_CONCURRENCY,
        )
        function.configure_async_invoke(
            retry_attempts=0,
            max_event_age=Duration.seconds(int(START_WITHIN.total_seconds())),
            on_failure=destinations.SqsDestination(self.dead_letters),
        )
        grant_table(function, data.trading, write=False)
        data.backtest_jobs.table.grant(function, "dynamodb:GetItem", "dynamodb:UpdateItem")
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:PutObject"], resources=[self._objects()])
        )
        self._acknowledge_objects(function, "writes")
        self.runner = function
        return function

    def allow_starting(self, api_function: lambda_.Function) -> None:
        """The API function invokes the job function (asynchronously) and signs GET links."""
        if self.runner is None:
            raise ValueError("add_runner first")
        api_function.add_to_role_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[self.runner.function_arn])
        )
        api_function.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[self._objects()])
        )
        self._acknowledge_objects(api_function, "signs links to")

    def _objects(self) -> str:
        return self.bucket.arn_for_objects(f"{BACKTEST_OBJECT_PREFIX}*")

    def _acknowledge_objects(self, function: lambda_.Function, what: str) -> None:
        logical_id = Stack.of(self.bucket).get_logical_id(self.bucket.node.default_child)  # type: ignore[arg-type]
        Validations.of(function.role).acknowledge(  # type: ignore[arg-type]
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>/{BACKTEST_OBJECT_PREFIX}*]",
                reason=f"The function {what} the backtest results, one object per job under "
                f"{BACKTEST_OBJECT_PREFIX}{{user}}/{{job}}/: the prefix is the narrowest pattern "
                "that covers jobs created after deployment.",
            )
        )
