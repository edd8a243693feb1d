"""Signal webhooks' public endpoint: `POST /signals/{token}` on the REST API, WITHOUT the Cognito
authorizer (a chart platform cannot sign in), served by a function of its own (docs/signals.md).

The URL's token is the credential: the function looks its hash up and answers an unknown one with
the API's plain 404. Each webhook has its own per-minute limit (a counter item in DynamoDB), and
the stage's throttling (per environment) bounds the endpoint as a whole.

Least privilege: the function reads the configurations table (the token lookup, the strategy, the
calendar) and writes in it only the webhooks' own partitions (`WEBHOOK#...`: signal records,
replay marks, rate counters), by a `dynamodb:LeadingKeys` condition; it numbers the signal in the
history table (one UpdateItem) and sends the run to the strategy-run queue. It calls no broker.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from cdk_stack.api import RestApi
from cdk_stack.data import DataTables
from cdk_stack.execution import StrategyRunQueue
from cdk_stack.functions import FunctionFactory, grant_table
from shared_utils.api.catalog import PUBLIC_ROUTES, SIGNAL_WEBHOOK
from shared_utils.keys import WEBHOOK_PREFIX

# TradingView gives up on a webhook after 3 seconds; a run is only queued here.
TIMEOUT = Duration.seconds(10)
WRITE_ACTIONS = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
NO_AUTHORIZER_REASON = (
    "Signal webhooks are called by chart platforms (TradingView, Chartink), which cannot sign in: "
    "the secret URL token (256 random bits, stored hashed, rotatable) authenticates each request in "
    "the function, an unknown token gets a plain 404, each webhook is rate-limited and the stage is "
    "throttled."
)


class SignalWebhooks(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        factory: FunctionFactory,
        api: RestApi,
        data: DataTables,
        runs: StrategyRunQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function: lambda_.Function = factory.create(
            self,
            SIGNAL_WEBHOOK,
            description="Public: POST /signals/{token}, a chart alert on a user's signal webhook",
            timeout=TIMEOUT,
        )
        grant_table(self.function, data.trading, write=False)
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=WRITE_ACTIONS,
                resources=[data.trading.table.table_arn],
                conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{WEBHOOK_PREFIX}*"]}},
            )
        )
        # The dispatcher numbers the strategy's signals of the day (one UpdateItem, no index).
        self.function.add_to_role_policy(
            iam.PolicyStatement(actions=["dynamodb:UpdateItem"], resources=[data.history.table.table_arn])
        )
        runs.allow_sending(self.function)
        self.methods = [
            api.add_public_route(route, self.function, reason=NO_AUTHORIZER_REASON)
            for route in PUBLIC_ROUTES
            if route.module == SIGNAL_WEBHOOK
        ]
