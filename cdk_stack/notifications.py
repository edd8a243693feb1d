"""Notifications: the platform's own stored events sent to each user's Telegram chat and e-mail,
off the trading path (docs/notifications.md).

- The notifier (`notifier`) is a second reader of the history and broker-accounts tables'
  streams (its own event source mappings, beside the live feed's): it reads users' preferences
  and strategies' names (configurations, read-only) and puts one delivery per (event, user,
  channel) on the notification queue. Stream batches it cannot finish are bisected, retried twice
  and then reported to the stream readers' on-failure queue (the feed's, alarmed like every DLQ).
- The notification queue (standard SQS) feeds the sender (`notification_sender`) through an
  event source mapping with partial batch responses; a delivery a channel cannot take now is
  pushed back by the sender itself (`ChangeMessageVisibility`: Telegram's `retry_after`, else
  exponential), and after `MAX_RECEIVES` receives it moves to the dead-letter queue, whose first
  message alarms through the stack's alarm topic.
- The sender may: claim and mark deliveries (idempotency table), update the one attribute of a
  user's preferences that records a channel's error (`channel_errors`, an IAM condition on the
  attributes), read bot tokens under the notification secret prefix (decrypting with the broker
  secrets' key through Secrets Manager), and send e-mail from the configured SES identity only.
- The preferences routes (on the basket manager's function, beside the portfolio rules) may write
  and delete bot tokens under that prefix and queue test messages.
- The notifier also subscribes to the stack's alarm topic (`subscribe_alarms`): each alarm
  going into ALARM or back to OK becomes one delivery per admin who switched `platform_alarms` on
  (a subscription and an invoke permission: two resources, no function of its own).
- E-mail: with `notification_email_sender` in the environment, an SES e-mail identity for it
  (AWS mails it a verification link on deployment) and a configuration set; without one, the
  environment has no e-mail channel (the API answers 422 for an e-mail preference).
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, ArnFormat, Duration, Stack, Token, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk_stack.brokers import SECRET_NAMESPACE
from cdk_stack.config import EnvironmentConfig
from cdk_stack.data import DataTables, TableHandle, removal_policy
from cdk_stack.events import dead_letter_queue
from cdk_stack.feed import LIST_STREAMS_REASON, stream_source
from cdk_stack.functions import FunctionFactory, grant_table
from lambda_functions.option_baskets import NOTIFICATION_SENDER, NOTIFIER
from shared_utils.notifications.sender import MAX_RECEIVES
from shared_utils.notifications.settings_store import ERRORS_ATTRIBUTE
from shared_utils.tables import TRADING_CONFIGURATIONS, resource_prefix

_SUFFIX = "amazonaws.com"
SENDER_TIMEOUT = Duration.seconds(30)
# AWS's advice for an SQS event source: six times the function's timeout.
VISIBILITY_TIMEOUT = Duration.seconds(6 * 30)
SENDER_BATCH_SIZE = 10
SENDER_MAX_CONCURRENCY = 5
# A notification an hour late is still worth sending (the trader was away); older is history.
NOTIFIER_MAX_RECORD_AGE = Duration.hours(1)
# What the sender may touch of a user's preferences item: its keys, the version it conditions on,
# and the channel errors it records.
SENDER_SETTINGS_ATTRIBUTES = (
    TRADING_CONFIGURATIONS.partition_key,
    TRADING_CONFIGURATIONS.sort_key or "sk",
    "version",
    ERRORS_ATTRIBUTE,
)


def notification_secret_prefix(config: EnvironmentConfig) -> str:
    return f"{SECRET_NAMESPACE}/{config.name}/notifications/"


class Notifications(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        factory: FunctionFactory,
        data: DataTables,
        broker_accounts: TableHandle,
        secrets_key: kms.IKey,
        stream_failures: sqs.IQueue,
    ) -> None:
        """`stream_failures`: the on-failure queue of the feed's stream readers, which the
        notifier shares (each message names the function whose batch failed): a queue, its policy
        and its alarm fewer of the stack's 500 resources."""
        super().__init__(scope, construct_id)
        prefix = resource_prefix(config.name)
        stack = Stack.of(self)
        self._key = secrets_key
        self.secret_prefix = notification_secret_prefix(config)
        self.secrets_arn_pattern = stack.format_arn(
            service="secretsmanager",
            resource="secret",
            resource_name=f"{self.secret_prefix}*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.dead_letters = dead_letter_queue(self, "NotificationsDlq", config)
        self.queue = sqs.Queue(
            self,
            "Notifications",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=VISIBILITY_TIMEOUT,
            retention_period=Duration.days(1),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dead_letters, max_receive_count=MAX_RECEIVES),
            removal_policy=removal_policy(config),
        )
        self.email_identity: ses.EmailIdentity | None = None
        self.configuration_set: ses.ConfigurationSet | None = None
        if config.notification_email_sender:
            self.configuration_set = ses.ConfigurationSet(
                self, "EmailConfiguration", configuration_set_name=f"{prefix}-notifications"
            )
            self.email_identity = ses.EmailIdentity(
                self,
                "EmailSender",
                identity=ses.Identity.email(config.notification_email_sender),
                configuration_set=self.configuration_set,
            )
        self.email_sender = config.notification_email_sender

        # The notifier: both streams -> the queue.
        self.notifier = factory.create(
            self,
            NOTIFIER,
            description="Notifications: history and account changes -> deliveries on the notification queue",
            timeout=Duration.seconds(60),
            settings={"notification_queue_url": self.queue.queue_url},
            wildcard_reason=LIST_STREAMS_REASON,
        )
        # Preferences (one batch per invocation, and GSI1's partition of them for the platform-wide
        # kill switch) and the strategies' names.
        grant_table(self.notifier, data.trading, write=False)
        self.queue.grant_send_messages(self.notifier)
        self.stream_failures = stream_failures
        for handle in (data.history, broker_accounts):
            self.notifier.add_event_source(
                stream_source(handle.table, self.stream_failures, NOTIFIER_MAX_RECORD_AGE)
            )

        # The sender: the queue -> Telegram and SES.
        self.sender = factory.create(
            self,
            NOTIFICATION_SENDER,
            description="Notifications: sends each delivery to Telegram or e-mail, once, with back-off",
            timeout=SENDER_TIMEOUT,
            settings=self.settings(),
        )
        grant_table(self.sender, data.idempotency, write=True)  # the delivery marks
        self.sender.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:UpdateItem"],
                resources=[data.trading.table.table_arn],
                conditions={
                    "ForAllValues:StringEquals": {"dynamodb:Attributes": list(SENDER_SETTINGS_ATTRIBUTES)},
                    "StringEqualsIfExists": {"dynamodb:ReturnValues": ["NONE"]},
                },
            )
        )
        self.sender.add_to_role_policy(
            iam.PolicyStatement(
                actions=["secretsmanager:GetSecretValue"], resources=[self.secrets_arn_pattern]
            )
        )
        self._grant_key(self.sender, "kms:Decrypt")
        self._acknowledge_prefix(self.sender, "reads one user's bot token by name")
        if self.email_identity is not None and self.configuration_set is not None:
            configuration_set_arn = stack.format_arn(
                service="ses",
                resource="configuration-set",
                resource_name=self.configuration_set.configuration_set_name,
            )
            self.sender.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["ses:SendEmail"],
                    resources=[self.email_identity.email_identity_arn, configuration_set_arn],
                )
            )
        self.sender.add_event_source(
            sources.SqsEventSource(
                self.queue,
                batch_size=SENDER_BATCH_SIZE,
                max_batching_window=Duration.seconds(0),
                report_batch_item_failures=True,
                max_concurrency=SENDER_MAX_CONCURRENCY,
            )
        )

    def subscribe_alarms(self, topic: sns.ITopic) -> None:
        """The stack's alarm topic -> the notifier (admins' Telegram and e-mail; the topic's own
        e-mail subscriptions stay). SNS decrypts the encrypted topic's messages for Lambda itself."""
        topic.add_subscription(subscriptions.LambdaSubscription(self.notifier))

    def draw(self, dashboard: cloudwatch.Dashboard) -> None:
        """The queue on the operations dashboard: deliveries waiting and the oldest one's age (an
        outage of Telegram shows here first; the DLQ is drawn with the others)."""
        minute = Duration.minutes(1)
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Notification queue",
                left=[
                    self.queue.metric_approximate_number_of_messages_visible(
                        period=minute, statistic=cloudwatch.Stats.MAXIMUM, label="deliveries waiting"
                    )
                ],
                right=[
                    self.queue.metric_approximate_age_of_oldest_message(
                        period=minute, statistic=cloudwatch.Stats.MAXIMUM, label="oldest delivery (s)"
                    )
                ],
                width=12,
                height=6,
            )
        )

    def settings(self) -> dict[str, str | None]:
        """The `RuntimeSettings` fields of the functions that send or set notifications."""
        return {
            "notification_queue_url": self.queue.queue_url,
            "notification_secret_prefix": self.secret_prefix,
            "notification_secret_kms_key": self._key.key_arn,
            "notification_email_sender": self.email_sender,
            "notification_ses_configuration_set": self.configuration_set.configuration_set_name
            if self.configuration_set is not None
            else None,
        }

    def allow_settings_routes(self, function: lambda_.Function) -> None:
        """The preferences routes: store, replace and delete bot tokens under the prefix (encrypting
        with the secrets key through Secrets Manager), and queue test messages."""
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=[
                    "secretsmanager:CreateSecret",
                    "secretsmanager:PutSecretValue",
                    "secretsmanager:DeleteSecret",
                ],
                resources=[self.secrets_arn_pattern],
            )
        )
        # CreateSecret with a customer-managed key also decrypts the data key it generates.
        self._grant_key(function, "kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey")
        self._acknowledge_prefix(function, "writes one user's bot token by name")
        self.queue.grant_send_messages(function)

    def _grant_key(self, function: lambda_.Function, *actions: str) -> None:
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=list(actions),
                resources=[self._key.key_arn],
                conditions={
                    "StringEquals": {"kms:ViaService": f"secretsmanager.{Stack.of(self).region}.{_SUFFIX}"}
                },
            )
        )

    def _acknowledge_prefix(self, function: lambda_.Function, what: str) -> None:
        Validations.of(function.role).acknowledge(  # type: ignore[arg-type]
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::{_nag_arn(Stack.of(self), self.secret_prefix)}]",
                reason=f"One secret per user's Telegram bot under this environment's notification prefix "
                f"(Secrets Manager appends a random suffix); the function {what}.",
            )
        )


def _nag_arn(stack: Stack, prefix: str) -> str:
    """The secret-prefix ARN as cdk-nag prints it in a finding id."""
    region = "<AWS::Region>" if Token.is_unresolved(stack.region) else stack.region
    account = "<AWS::AccountId>" if Token.is_unresolved(stack.account) else stack.account
    return f"arn:<AWS::Partition>:secretsmanager:{region}:{account}:secret:{prefix}*"
