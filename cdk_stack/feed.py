"""The live feed: a WebSocket API the trader console holds open, and the broadcaster that pushes
orders, positions, executions, kill switches, account logins and the minute's marks down it.

- `$connect` is authorised by a Lambda REQUEST authorizer (`feed_authorizer`) reading the Cognito
  ID token from the query string (`?token=`): a browser cannot set headers on a WebSocket. It
  checks the token against the user pool's keys (fetched over HTTPS: the feed's functions call no
  broker, so they run outside the broker egress VPC) and its audience, the console's app client.
  API Gateway runs authorizers on `$connect` only; `$disconnect` is its own notice of a connection
  it authorised. Both routes reach `feed_connections`, which keeps one item per connection in the
  connections table (per user, expiring with API Gateway's two-hour connection limit).
- The broadcaster (`feed_broadcaster`) reads the history and broker-accounts tables' streams
  (the views `shared_utils.tables` declares) and is the target of the `QuotesRefreshed` rule
  (`events.TimerEvents` builds that rule, with its DLQ and retry bounds, for the function built
  here). It posts to the stage's
  management endpoint (`FEED_ENDPOINT_URL`), allowed `execute-api:ManageConnections` on this API's
  stage only, and deletes the connections API Gateway reports gone.
- Stream reads: small batches, no batching window (a feed is about now), one bisect-and-retry
  round per failing batch (2 retries, partial batch responses so a good record is not resent),
  and no record older than `STREAM_MAX_RECORD_AGE`: past that a position or order update is
  stale and the console's next read of the REST API shows the truth. What is dropped that way,
  or still fails, is reported to an on-failure queue (the batch's shard and sequence numbers),
  which alarms on its first message like every DLQ; the broadcaster's iterator age has its own
  alarm (`monitoring.Monitoring`).
"""

from __future__ import annotations

import json

import jsii
from aws_cdk import Acknowledgment, CfnOutput, Duration, Stack, Token, Validations
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk_stack.config import EnvironmentConfig
from cdk_stack.data import DataTables, TableHandle, log_retention, removal_policy
from cdk_stack.events import MAX_EVENT_AGE, dead_letter_queue
from cdk_stack.functions import FunctionFactory, grant_table
from lambda_functions.option_baskets import FEED_AUTHORIZER, FEED_BROADCASTER, FEED_CONNECTIONS
from shared_utils.tables import resource_prefix

TOKEN_IDENTITY_SOURCE = "route.request.querystring.token"
STREAM_BATCH_SIZE = 100
STREAM_RETRY_ATTEMPTS = 2
# The same staleness bound as the QuotesRefreshed rule's target (`events.MAX_EVENT_AGE`).
STREAM_MAX_RECORD_AGE = MAX_EVENT_AGE


def stream_source(
    table: dynamodb.ITable, failures: sqs.IQueue, max_record_age: Duration
) -> sources.DynamoEventSource:
    """A table's stream as a function's event source, as the feed and the notifier read it: the
    newest records, batches without waiting, a failing batch bisected and retried, then its
    records to `failures`; nothing older than `max_record_age`."""
    return sources.DynamoEventSource(
        table,
        starting_position=lambda_.StartingPosition.LATEST,
        batch_size=STREAM_BATCH_SIZE,
        max_batching_window=Duration.seconds(0),
        bisect_batch_on_error=True,
        retry_attempts=STREAM_RETRY_ATTEMPTS,
        max_record_age=max_record_age,
        report_batch_item_failures=True,
        on_failure=sources.SqsDlq(failures),
    )


ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "eventType": "$context.eventType",
    "routeKey": "$context.routeKey",
    "connectionId": "$context.connectionId",
    "status": "$context.status",
    "user": "$context.authorizer.principalId",
    "error": "$context.error.message",
    "authorizerError": "$context.authorizer.error",
    "integrationError": "$context.integration.error",
}
LIST_STREAMS_REASON = (
    "Reading a table stream (DynamoEventSource) grants dynamodb:ListStreams, which AWS "
    "documents on '*' only; the stream records themselves are granted on the two streams' ARNs."
)


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogs:
    """The stage's access log settings: JSON lines (CDK offers the interface only)."""

    def __init__(self, destination: apigwv2.IAccessLogDestination) -> None:
        self._destination = destination

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigateway.AccessLogFormat:
        return apigateway.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FORMAT))


class LiveFeed(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        factory: FunctionFactory,
        data: DataTables,
        broker_accounts: TableHandle,
        user_pool_id: str,
        console_client_id: str,
    ) -> None:
        super().__init__(scope, construct_id)
        prefix = resource_prefix(config.name)
        self.api = apigwv2.WebSocketApi(
            self,
            "Api",
            api_name=f"{prefix}-live-feed",
            description="Live feed of the trader console: orders, positions, quotes, accounts",
        )
        access_logs = logs.LogGroup(
            self, "AccessLogs", retention=log_retention(config), removal_policy=removal_policy(config)
        )
        self.stage = apigwv2.WebSocketStage(
            self,
            "Stage",
            web_socket_api=self.api,
            stage_name=config.name,
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(
                rate_limit=config.api_throttling.rate_limit, burst_limit=config.api_throttling.burst_limit
            ),
            access_log_settings=_AccessLogs(apigwv2.LogGroupLogDestination(access_logs)),
        )
        stage_resource = self.stage.node.default_child
        assert isinstance(stage_resource, apigwv2.CfnStage)
        # Execution logs for errors only, never message bodies (they carry positions).
        stage_resource.add_property_override("DefaultRouteSettings.LoggingLevel", "ERROR")
        stage_resource.add_property_override("DefaultRouteSettings.DataTraceEnabled", False)

        self.authorizer = factory.create(
            self,
            FEED_AUTHORIZER,
            description="Live feed $connect: checks the console's Cognito ID token (?token=)",
            timeout=Duration.seconds(10),
            settings={"cognito_user_pool_id": user_pool_id, "cognito_app_client_id": console_client_id},
        )
        self.connections = factory.create(
            self, FEED_CONNECTIONS, description="Live feed $connect/$disconnect: keeps the connections table"
        )
        grant_table(self.connections, data.feed_connections, write=True)
        self.api.add_route(
            "$connect",
            integration=integrations.WebSocketLambdaIntegration("Connect", self.connections),
            authorizer=authorizers.WebSocketLambdaAuthorizer(
                "TokenAuthorizer",
                self.authorizer,
                identity_source=[TOKEN_IDENTITY_SOURCE],
                authorizer_name=f"{prefix}-feed-token",
            ),
        )
        disconnect = self.api.add_route(
            "$disconnect", integration=integrations.WebSocketLambdaIntegration("Disconnect", self.connections)
        )
        Validations.of(disconnect).acknowledge(
            Acknowledgment(
                id="AwsSolutions-APIG4",
                reason="API Gateway runs WebSocket authorizers on $connect only; $disconnect is its "
                "own notice that a connection authorised there has closed.",
            )
        )

        self.broadcaster = factory.create(
            self,
            FEED_BROADCASTER,
            description="Live feed: pushes history and account changes and the minute's marks",
            timeout=Duration.seconds(60),
            memory_size=512,
            settings={"feed_endpoint_url": self.stage.callback_url},
            wildcard_reason=LIST_STREAMS_REASON,
        )
        grant_table(self.broadcaster, data.history, write=False)  # open positions to mark
        grant_table(self.broadcaster, data.trading, write=False)  # the minute's quotes
        # QuotesRefreshed is handled once per tick, as every timer event (Powertools Idempotency).
        grant_table(self.broadcaster, data.idempotency, write=True)
        # Of the connections it reads a user's, and deletes those API Gateway reports gone (410).
        grant_table(self.broadcaster, data.feed_connections, write=False)
        self.broadcaster.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:DeleteItem"], resources=[data.feed_connections.table.table_arn]
            )
        )
        self.stage.grant_management_api_access(self.broadcaster)
        Validations.of(self.broadcaster.role).acknowledge(  # type: ignore[arg-type]
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::{_nag_connections_arn(self.api, config.name)}]",
                reason="execute-api:ManageConnections on this feed API's own stage: posting to, "
                "reading and closing any of its connections, whose ids are only known at run time.",
            )
        )
        self.stream_failures = dead_letter_queue(self, "StreamFailuresDlq", config)
        for handle in (data.history, broker_accounts):
            self.broadcaster.add_event_source(
                stream_source(handle.table, self.stream_failures, STREAM_MAX_RECORD_AGE)
            )
        CfnOutput(self, "FeedUrl", value=self.stage.url).override_logical_id("FeedUrl")

    @property
    def url(self) -> str:
        """`wss://{api}.execute-api.{region}.amazonaws.com/{stage}`: what the console opens."""
        return self.stage.url

    @property
    def origin(self) -> str:
        """The feed's origin (`wss://host`), for the console's Content-Security-Policy."""
        stack = Stack.of(self)
        return f"wss://{self.api.api_id}.execute-api.{stack.region}.{stack.url_suffix}"


def _nag_connections_arn(api: apigwv2.WebSocketApi, stage: str) -> str:
    """The stage's `@connections` ARN as cdk-nag prints it in a finding id: unresolved pseudo
    parameters as `<AWS::...>`, a region or account fixed by the environment as itself."""
    stack = Stack.of(api)
    region = "<AWS::Region>" if Token.is_unresolved(stack.region) else stack.region
    account = "<AWS::AccountId>" if Token.is_unresolved(stack.account) else stack.account
    api_id = stack.get_logical_id(api.node.default_child)  # type: ignore[arg-type]
    return f"arn:<AWS::Partition>:execute-api:{region}:{account}:<{api_id}>/{stage}/*/@connections/*"
