"""Operator alarms with an action: every alarm of the stack notifies one encrypted SNS topic.

The timer's own alarms: the master-timer execution failed (an unreadable calendar, an emitter
down past the close), the daily start failed, and the official holiday data runs out in fewer
than 30 days (the exchanges circulate next year's list in mid-December; an admin enters it).
The order path's: a duplicate order flagged, broker positions differing from the ledger past one
check, an order whose outcome is still unknown past its bound, a broker account whose positions
could not be read, an entry refused because its run came too late (the strategy-run DLQ has its
own alarm, `execution.StrategyRunQueue`).
"""

from __future__ import annotations

from aws_cdk import Aspects, CfnOutput, Duration, IAspect, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct, IConstruct
from jsii import implements

from cdk_stack.config import EnvironmentConfig
from cdk_stack.data import removal_policy
from cdk_stack.functions import METRICS_NAMESPACE, SERVICE_NAME
from cdk_stack.timer import MasterTimer
from shared_utils.brokers.credentials import CREDENTIALS_UNAVAILABLE_METRIC
from shared_utils.execution.duplicates import DUPLICATE_METRIC
from shared_utils.execution.engine import NO_FRESH_QUOTE_METRIC
from shared_utils.execution.executor import LATE_ENTRY_METRIC, UNPRICED_METRIC
from shared_utils.execution.reconcile import CHECK_FAILED_METRIC, MISMATCH_METRIC, OVERDUE_METRIC
from shared_utils.tables import resource_prefix
from shared_utils.timer.emitter import CALENDAR_DAYS_LEFT_ALARM, CALENDAR_DAYS_LEFT_METRIC
from shared_utils.timer.listing import LISTING_DISAGREEMENT_METRIC, LISTING_REJECTED_METRIC
from shared_utils.timer.market_data import QUOTES_DROPPED_METRIC
from shared_utils.timer.sessions import LOGIN_FAILED_METRIC, LOGOUT_FAILED_METRIC
from shared_utils.timer.symbol_books import SYMBOL_BOOK_REJECTED_METRIC


@implements(IAspect)
class _NotifyTopic:
    """Adds the topic as the alarm action of every alarm in the stack, whoever created it."""

    def __init__(self, topic: sns.ITopic) -> None:
        self._action = actions.SnsAction(topic)

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, cloudwatch.Alarm):
            node.add_alarm_action(self._action)


class Monitoring(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, timer: MasterTimer
    ) -> None:
        super().__init__(scope, construct_id)
        prefix = resource_prefix(config.name)
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description=f"Encrypts the operator alarm topic ({config.name})",
            enable_key_rotation=True,
            removal_policy=removal_policy(config),
        )
        # CloudWatch publishes alarm notifications to the encrypted topic.
        key.grant_encrypt_decrypt(iam.ServicePrincipal("cloudwatch.amazonaws.com"))
        self.topic = sns.Topic(
            self, "AlarmTopic", topic_name=f"{prefix}-operator-alarms", master_key=key, enforce_ssl=True
        )

        days_left = cloudwatch.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name=CALENDAR_DAYS_LEFT_METRIC,
            dimensions_map={"service": SERVICE_NAME},
            statistic=cloudwatch.Stats.MINIMUM,
            period=Duration.hours(6),
        )
        self.calendar_coverage = days_left.create_alarm(
            self,
            "CalendarCoverage",
            alarm_name=f"{prefix}-calendar-coverage",
            alarm_description=(
                f"Fewer than {CALENDAR_DAYS_LEFT_ALARM} days of official holiday data are left: enter "
                "next year's exchange holiday list (docs/market.md, 'Keeping the calendar')."
            ),
            threshold=CALENDAR_DAYS_LEFT_ALARM,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=1,
            # The emitter publishes only on session days: a quiet weekend keeps the state.
            treat_missing_data=cloudwatch.TreatMissingData.IGNORE,
        )
        self.timer_failed = self._on_any(
            timer.state_machine.metric_failed(period=Duration.minutes(1)),
            "TimerExecutionFailed",
            f"{prefix}-master-timer-failed",
            "The master timer stopped: no triggers, stop-losses or exits until it runs again "
            "(an unreadable calendar or an emitter down past the close; see the execution).",
        )
        self.start_failed = self._on_any(
            timer.starter.metric_errors(period=Duration.minutes(5)),
            "TimerStartFailed",
            f"{prefix}-master-timer-start-failed",
            "The daily start of the master timer failed (retried, then dead-lettered).",
        )
        order_path = {
            DUPLICATE_METRIC: "A duplicate order was flagged on the ledger (more than one broker order "
            "for one key, or an order outside its run's plan): check the account at the broker.",
            MISMATCH_METRIC: "A broker account's positions differ from the platform's ledger for more "
            "than a minute: the check's report and the account's MISMATCH item show both sides.",
            OVERDUE_METRIC: "An order's outcome is still unknown past UNKNOWN_ORDER_ALERT_SECONDS (the "
            "broker's lookup keeps failing, or it sits unfilled): it is flagged on its ledger entry.",
            CHECK_FAILED_METRIC: "A broker account's positions could not be read: the platform cannot "
            "tell whether it holds what the ledger says.",
            LATE_ENTRY_METRIC: "An entry was refused because its run reached an executor more than "
            "ENTRY_MAX_LAG_SECONDS after its minute: the run queue is backed up (executor errors, "
            "max concurrency too low) or a dead-letter redrive replayed old entries.",
            UNPRICED_METRIC: "Open positions had no quote fresher than QUOTE_MAX_AGE_SECONDS: their "
            "stop-loss, target and trailing rules were not judged this minute (the market-data "
            "refresh is failing or its source is down).",
            NO_FRESH_QUOTE_METRIC: "An entry was not placed because no quote fresher than "
            "QUOTE_MAX_AGE_SECONDS priced it (stored NOT_ENTERED, 'no fresh quote'): the market-data "
            "refresh is failing or its source is down.",
            CREDENTIALS_UNAVAILABLE_METRIC: "A broker account's credentials could not be read from "
            "Secrets Manager (missing, unreadable or malformed secret): its orders fail closed "
            "until the secret is fixed.",
            LISTING_REJECTED_METRIC: "The day's instrument master failed to download or was rejected "
            "(empty, unreadable, or missing too many of yesterday's contracts): yesterday's listing "
            "stays; check the source before the open.",
            LISTING_DISAGREEMENT_METRIC: "The exchange's listing disagrees with the platform's rules "
            "(an expiry moved by a holiday, a revised lot or strike step): see the starter's log and "
            "update the rules' data.",
            LOGIN_FAILED_METRIC: "A broker account that logs itself in (Angel One: PIN + TOTP) was "
            "refused or unreachable at the morning's login: it is NEEDS_LOGIN and its orders are "
            "refused until the user logs in; see the starter's log for the account.",
            LOGOUT_FAILED_METRIC: "A broker session could not be logged out after the close (the "
            "exchange asks for it); it ends by itself at the broker's cut-off.",
            SYMBOL_BOOK_REJECTED_METRIC: "A broker's instrument master failed to download or was "
            "rejected (empty, unreadable, or missing too many of yesterday's contracts): its orders "
            "use yesterday's symbol book, and a contract that book does not list (a new expiry) is "
            "refused unsent; see the starter's log.",
            QUOTES_DROPPED_METRIC: "The market-data source answered quotes the platform does not trust "
            "(a price at or below zero, a timestamp in the future: a bad feed or a wrong clock); "
            "they were dropped, so those instruments may go unpriced.",
        }
        self.order_path_alarms = [
            self._on_any(
                cloudwatch.Metric(
                    namespace=METRICS_NAMESPACE,
                    metric_name=metric,
                    dimensions_map={"service": SERVICE_NAME},
                    statistic=cloudwatch.Stats.SUM,
                    period=Duration.minutes(1),
                ),
                metric,
                f"{prefix}-{metric}",
                description,
            )
            for metric, description in order_path.items()
        ]
        Aspects.of(Stack.of(self)).add(_NotifyTopic(self.topic))
        CfnOutput(Stack.of(self), "OperatorAlarmTopicArn", value=self.topic.topic_arn)

    def _on_any(
        self, metric: cloudwatch.Metric, construct_id: str, name: str, description: str
    ) -> cloudwatch.Alarm:
        """An alarm on the first occurrence of a failure count in its period."""
        return metric.create_alarm(
            self,
            construct_id,
            alarm_name=name,
            alarm_description=description,
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
