"""Operator alarms with an action, and the environment's dashboard.

Every alarm of the stack notifies one encrypted SNS topic (an Aspect adds the action, whoever
created the alarm), which mails the environment's `alarm_emails` (a deployment input, required in
staging and production: `cdk_stack.config`).

The timer's own alarms: the master-timer execution failed (an unreadable calendar, an emitter
down past the close), the starter failed (the daily start, the morning's masters and logins, the
evening's logouts), a minute of the session went without its tick (the emitter had to skip it:
`TimerMinutesSkipped`), and the official holiday data runs out in fewer than 30 days (the
exchanges circulate next year's list in mid-December; an admin enters it).
The order path's: a duplicate order flagged, broker positions differing from the ledger past one
check, an order whose outcome is still unknown past its bound, a broker account whose positions
could not be read, an entry refused because its run came too late, and the strategy-run queue
backing up before that happens.
The platform's: errors and throttles of every function, throttled reads or writes of every table
(and its indexes). The live feed's: the broadcaster falling behind its table streams (iterator
age over `FEED_ITERATOR_AGE_ALARM`). Every dead-letter queue alarms on its first message where it is created
(`events.dead_letter_queue`); the dashboard shows their depth.
What each alarm means and what to do: docs/operations.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Aspects, CfnOutput, Duration, IAspect, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IConstruct
from jsii import implements

from cdk_stack.config import EnvironmentConfig
from cdk_stack.data import TableHandle, removal_policy
from cdk_stack.feed import STREAM_MAX_RECORD_AGE, LiveFeed
from cdk_stack.functions import METRICS_NAMESPACE, SERVICE_NAME
from cdk_stack.timer import MasterTimer
from shared_utils.brokers.credentials import CREDENTIALS_UNAVAILABLE_METRIC
from shared_utils.execution.duplicates import DUPLICATE_METRIC
from shared_utils.execution.engine import NO_FRESH_QUOTE_METRIC
from shared_utils.execution.executor import LATE_ENTRY_METRIC, UNPRICED_METRIC
from shared_utils.execution.reconcile import CHECK_FAILED_METRIC, MISMATCH_METRIC, OVERDUE_METRIC
from shared_utils.tables import resource_prefix
from shared_utils.timer.emitter import (
    CALENDAR_DAYS_LEFT_ALARM,
    CALENDAR_DAYS_LEFT_METRIC,
    TIMER_EVENTS_EMITTED_METRIC,
    TIMER_MINUTES_SKIPPED_METRIC,
)
from shared_utils.timer.listing import LISTING_DISAGREEMENT_METRIC, LISTING_REJECTED_METRIC
from shared_utils.timer.market_data import QUOTES_DROPPED_METRIC
from shared_utils.timer.sessions import LOGIN_FAILED_METRIC, LOGOUT_FAILED_METRIC
from shared_utils.timer.symbol_books import SYMBOL_BOOK_REJECTED_METRIC

# Functions' errors and throttles, and tables' throttles, are counted over this period.
PLATFORM_PERIOD = Duration.minutes(5)
# The broadcaster's oldest unread stream record: a feed a minute behind shows a stale screen.
FEED_ITERATOR_AGE_ALARM = Duration.seconds(60)
DASHBOARD_SUFFIX = "operations"


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
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        timer: MasterTimer,
        functions: Mapping[str, lambda_.Function],
        tables: Mapping[str, TableHandle],
        run_queue: sqs.IQueue,
        run_queue_age_alarm: Duration,
        dead_letter_queues: Mapping[str, sqs.IQueue],
        api: apigateway.RestApi,
        feed: LiveFeed,
    ) -> None:
        """`functions`: every function of the stack, by module; `tables`: every table the
        platform uses, by role; `run_queue_age_alarm`: the age of the oldest strategy run that
        alarms; `dead_letter_queues`: every DLQ (each alarmed where it is created), by name."""
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
        # Each address confirms its subscription once (AWS mails a link); until then it gets nothing.
        for address in config.alarm_emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(address))

        days_left = _custom(CALENDAR_DAYS_LEFT_METRIC, cloudwatch.Stats.MINIMUM, Duration.hours(6))
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
            timer.starter.metric_errors(period=PLATFORM_PERIOD),
            "TimerStartFailed",
            f"{prefix}-master-timer-start-failed",
            "timer_starter failed: the day's master-timer start, the morning's instrument masters "
            "and broker logins, or the evening's logouts (scheduled runs are retried, then "
            "dead-lettered in the start DLQ); see its log.",
        )
        # Only the emitter publishes it, and only while a session runs: nights, weekends and
        # holidays have no datapoint and stay OK (missing data is not breaching).
        self.minutes_skipped = self._on_any(
            _custom(TIMER_MINUTES_SKIPPED_METRIC, cloudwatch.Stats.SUM, Duration.minutes(1)),
            "TimerMinutesSkipped",
            f"{prefix}-timer-minutes-skipped",
            "A minute of the session went without its tick: the emitter reached it more than two "
            "minutes late, or its Emit failed and the loop recovered past it. That minute's entries "
            "and exits were not handed over and its stop-losses not checked (the next tick's "
            "window does not cover it); see the master-timer execution and the emitter's log.",
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
                _custom(metric, cloudwatch.Stats.SUM, Duration.minutes(1)),
                metric,
                f"{prefix}-{metric}",
                description,
            )
            for metric, description in order_path.items()
        ]
        lag = int(run_queue_age_alarm.to_seconds())
        self.run_queue_backlog = run_queue.metric_approximate_age_of_oldest_message(
            period=Duration.minutes(1), statistic=cloudwatch.Stats.MAXIMUM
        ).create_alarm(
            self,
            "StrategyRunsBacklog",
            alarm_name=f"{prefix}-strategy-runs-backlog",
            alarm_description=f"A strategy run has waited {lag} s or more in the run queue: the "
            "executors fail (their errors alarm), are throttled, or are capped by "
            "strategy_runs.max_concurrency. At ENTRY_MAX_LAG_SECONDS (twice this) entries are "
            "refused (EntriesTooLate); exits still run late.",
            threshold=lag,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

        behind = int(FEED_ITERATOR_AGE_ALARM.to_milliseconds())
        self.feed_behind = cloudwatch.Alarm(
            self,
            "FeedBroadcasterBehind",
            metric=_iterator_age(feed),
            alarm_name=f"{prefix}-feed-broadcaster-iterator-age",
            alarm_description=f"The live feed's broadcaster is more than {behind // 1000} s behind "
            "the history or broker-accounts table stream: consoles show stale orders and positions. "
            "Its errors and throttles alarms and its log say why (a failing batch is retried twice, "
            "then reported to the feed's stream DLQ; records older than "
            f"{int(STREAM_MAX_RECORD_AGE.to_minutes())} minutes are skipped).",
            threshold=behind,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

        # One errors and one throttles alarm per function; the starter's errors alarm is
        # `start_failed` above.
        self.function_alarms: dict[str, tuple[cloudwatch.Alarm, cloudwatch.Alarm]] = {}
        for module, function in functions.items():
            label = module.replace("_", "-")
            camel = "".join(part.capitalize() for part in module.split("_"))
            errors = (
                self.start_failed
                if function is timer.starter
                else self._on_any(
                    function.metric_errors(period=PLATFORM_PERIOD),
                    f"{camel}Errors",
                    f"{prefix}-{label}-errors",
                    f"{prefix}-{label} raised errors (unhandled exceptions or timeouts): see its log "
                    "group. An event handler retries, then dead-letters its event; an API call "
                    "answered 502.",
                )
            )
            throttles = self._on_any(
                function.metric_throttles(period=PLATFORM_PERIOD),
                f"{camel}Throttles",
                f"{prefix}-{label}-throttles",
                f"Lambda refused invocations of {prefix}-{label} (the account's concurrency is used "
                "up): timer events are retried then dead-lettered, API callers get 429/502. Ask "
                "for a higher Lambda concurrency quota or lower strategy_runs.max_concurrency.",
            )
            self.function_alarms[module] = (errors, throttles)

        self.table_alarms: dict[str, cloudwatch.Alarm] = {}
        for role, handle in tables.items():
            suffix = handle.definition.suffix
            self.table_alarms[role] = self._on_any(
                _table_throttles(handle),
                f"{''.join(part.capitalize() for part in suffix.split('-'))}Throttled",
                f"{prefix}-{suffix}-throttled",
                f"DynamoDB throttled reads or writes of the {suffix} table or its indexes (on-demand "
                "tables throttle past twice their previous peak, or on one hot key): the SDK retried "
                "and, past its attempts, the request failed. See which operation in the "
                "ThrottledRequests metric.",
            )

        self.dashboard = self._dashboard(
            config,
            prefix,
            timer=timer,
            functions=functions,
            tables=tables,
            run_queue=run_queue,
            dead_letter_queues=dead_letter_queues,
            api=api,
            feed=feed,
            order_path_metrics=list(order_path),
            backlog_seconds=lag,
        )
        Aspects.of(Stack.of(self)).add(_NotifyTopic(self.topic))
        CfnOutput(Stack.of(self), "OperatorAlarmTopicArn", value=self.topic.topic_arn)
        CfnOutput(
            Stack.of(self),
            "OperationsDashboardUrl",
            value=f"https://{config.region}.console.aws.amazon.com/cloudwatch/home?region="
            f"{config.region}#dashboards:name={prefix}-{DASHBOARD_SUFFIX}",
        )

    def _on_any(
        self, metric: cloudwatch.IMetric, construct_id: str, name: str, description: str
    ) -> cloudwatch.Alarm:
        """An alarm on the first occurrence of a failure count in its period."""
        return cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            alarm_name=name,
            alarm_description=description,
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def _dashboard(
        self,
        config: EnvironmentConfig,
        prefix: str,
        *,
        timer: MasterTimer,
        functions: Mapping[str, lambda_.Function],
        tables: Mapping[str, TableHandle],
        run_queue: sqs.IQueue,
        dead_letter_queues: Mapping[str, sqs.IQueue],
        api: apigateway.RestApi,
        feed: LiveFeed,
        order_path_metrics: list[str],
        backlog_seconds: int,
    ) -> cloudwatch.Dashboard:
        """One page per environment: what is alarming, then the timer, the order path, the
        functions, the queues, the tables, the API and the live feed."""
        minute, five = Duration.minutes(1), PLATFORM_PERIOD
        machine = timer.state_machine
        alarms = [node for node in Stack.of(self).node.find_all() if isinstance(node, cloudwatch.Alarm)]
        per_function = {
            "errors": [f.metric_errors(period=five, label=m) for m, f in functions.items()],
            "throttles": [f.metric_throttles(period=five, label=m) for m, f in functions.items()],
            "duration": [
                f.metric_duration(period=five, statistic="p99", label=m) for m, f in functions.items()
            ],
        }
        dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{prefix}-{DASHBOARD_SUFFIX}",
            default_interval=Duration.hours(8),
        )
        dashboard.add_widgets(
            cloudwatch.TextWidget(
                markdown=f"# Options trading: {config.name}\nEvery alarm below mails the operator "
                f"topic `{prefix}-operator-alarms`. What each one means and what to do: "
                "`docs/operations.md` in the repository. Times are UTC (IST = UTC + 5:30).",
                width=24,
                height=2,
            )
        )
        dashboard.add_widgets(cloudwatch.AlarmStatusWidget(title="Alarms", alarms=alarms, width=24, height=6))
        dashboard.add_widgets(
            _graph(
                "Master timer executions",
                [
                    machine.metric_started(period=five, label="started"),
                    machine.metric_succeeded(period=five, label="succeeded"),
                    machine.metric_failed(period=five, label="failed"),
                    machine.metric_aborted(period=five, label="aborted"),
                ],
            ),
            _graph(
                "Timer ticks (per minute)",
                [
                    timer.emitter.metric_invocations(period=minute, label="emitter invocations"),
                    _custom(TIMER_EVENTS_EMITTED_METRIC, cloudwatch.Stats.SUM, minute, "events emitted"),
                    _custom(TIMER_MINUTES_SKIPPED_METRIC, cloudwatch.Stats.SUM, minute, "minutes skipped"),
                ],
            ),
        )
        dashboard.add_widgets(
            _graph(
                "Order path and the morning's data (alarming counts)",
                [_custom(name, cloudwatch.Stats.SUM, five) for name in order_path_metrics],
                width=24,
            )
        )
        dashboard.add_widgets(
            _graph("Lambda errors", per_function["errors"]),
            _graph("Lambda throttles", per_function["throttles"]),
        )
        dashboard.add_widgets(
            _graph("Lambda duration p99 (ms)", per_function["duration"]),
            cloudwatch.GraphWidget(
                title="API requests and errors",
                left=[
                    api.metric_count(period=five, label="requests"),
                    api.metric_client_error(period=five, label="4XX"),
                    api.metric_server_error(period=five, label="5XX"),
                ],
                right=[api.metric_latency(period=five, statistic="p99", label="latency p99 (ms)")],
                width=12,
                height=6,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Strategy-run queue",
                left=[
                    run_queue.metric_approximate_age_of_oldest_message(
                        period=minute, statistic=cloudwatch.Stats.MAXIMUM, label="oldest run (s)"
                    )
                ],
                right=[
                    run_queue.metric_approximate_number_of_messages_visible(
                        period=minute, statistic=cloudwatch.Stats.MAXIMUM, label="runs waiting"
                    )
                ],
                left_annotations=[cloudwatch.HorizontalAnnotation(value=backlog_seconds, label="alarm")],
                width=12,
                height=6,
            ),
            _graph(
                "Dead-letter queues (messages waiting)",
                [
                    queue.metric_approximate_number_of_messages_visible(
                        period=minute, statistic=cloudwatch.Stats.MAXIMUM, label=name
                    )
                    for name, queue in dead_letter_queues.items()
                ],
            ),
        )
        dashboard.add_widgets(
            _graph(
                "DynamoDB throttled reads + writes (tables and indexes)",
                [_table_throttles(handle, label=handle.definition.suffix) for handle in tables.values()],
                width=24,
            )
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Live feed",
                left=[_iterator_age(feed, label="broadcaster iterator age (ms)")],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(
                        value=FEED_ITERATOR_AGE_ALARM.to_milliseconds(), label="alarm"
                    )
                ],
                right=[
                    feed.stage.metric(
                        "ConnectCount", period=minute, statistic=cloudwatch.Stats.SUM, label="connects"
                    ),
                    feed.stage.metric(
                        "MessageCount", period=minute, statistic=cloudwatch.Stats.SUM, label="messages"
                    ),
                ],
                width=24,
                height=6,
            )
        )
        return dashboard


def _custom(
    metric_name: str, statistic: str, period: Duration, label: str | None = None
) -> cloudwatch.Metric:
    """A metric the functions publish through Powertools (namespace and `service` dimension)."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=metric_name,
        dimensions_map={"service": SERVICE_NAME},
        statistic=statistic,
        period=period,
        label=label,
    )


def _iterator_age(feed: LiveFeed, label: str | None = None) -> cloudwatch.Metric:
    """Age of the broadcaster's last read stream record (ms), the worst of its two streams."""
    return feed.broadcaster.metric(
        "IteratorAge", period=Duration.minutes(1), statistic=cloudwatch.Stats.MAXIMUM, label=label
    )


def _table_throttles(handle: TableHandle, label: str | None = None) -> cloudwatch.MathExpression:
    """Throttled read and write events of a table and of each of its global secondary indexes."""
    using: dict[str, cloudwatch.IMetric] = {}
    scopes: list[dict[str, str]] = [{"TableName": handle.table.table_name}]
    scopes += [
        {"TableName": handle.table.table_name, "GlobalSecondaryIndexName": index.name}
        for index in handle.definition.indexes
    ]
    for number, dimensions in enumerate(scopes):
        for kind in ("Read", "Write"):
            # Ids unique across tables: one graph draws every table's expression.
            using[f"{handle.definition.suffix.replace('-', '_')}_{kind.lower()}{number}"] = cloudwatch.Metric(
                namespace="AWS/DynamoDB",
                metric_name=f"{kind}ThrottleEvents",
                dimensions_map=dimensions,
                statistic=cloudwatch.Stats.SUM,
                period=PLATFORM_PERIOD,
            )
    return cloudwatch.MathExpression(
        expression=" + ".join(f"FILL({key}, 0)" for key in using),
        using_metrics=using,
        label=label or f"{handle.definition.suffix} throttled",
        period=PLATFORM_PERIOD,
    )


def _graph(title: str, metrics: Sequence[cloudwatch.IMetric], *, width: int = 12) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(
        title=title,
        left=list(metrics),
        width=width,
        height=6,
        legend_position=cloudwatch.LegendPosition.RIGHT,
    )
