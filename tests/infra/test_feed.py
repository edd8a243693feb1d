"""The live feed: a WebSocket API whose $connect needs the console's Cognito ID token (query
string), a connections table, the history and broker-accounts streams and the QuotesRefreshed
rule feeding one broadcaster, which may manage this API's connections only, and an alarm when it
falls behind its streams. Each test reads the session's templates (no synthesis of its own)."""

from __future__ import annotations

from typing import Any

import pytest

from cdk_stack.feed import STREAM_BATCH_SIZE, STREAM_RETRY_ATTEMPTS, TOKEN_IDENTITY_SOURCE
from cdk_stack.monitoring import FEED_ITERATOR_AGE_ALARM
from lambda_functions.option_baskets import FEED_AUTHORIZER, FEED_BROADCASTER, FEED_CONNECTIONS
from shared_utils.events.catalog import DetailType, rule_pattern
from shared_utils.tables import BROKER_ACCOUNTS, EXECUTION_HISTORY, resource_prefix
from shared_utils.tables import FEED_CONNECTIONS as CONNECTIONS_TABLE
from tests.infra.conftest import AUTH_EXPORTS, Synthesized
from tests.infra.helpers import (
    as_list,
    function_by_module,
    platform_functions,
    policy_statements_of_role,
    ref_target,
    rendered,
    statement_targets,
)

pytestmark = pytest.mark.infra


def _one(synth: Synthesized, resource_type: str) -> tuple[str, dict[str, Any]]:
    ((logical_id, resource),) = synth.of_type(resource_type).items()
    return logical_id, resource["Properties"]


def _table_id(synth: Synthesized, suffix: str) -> str | None:
    name = f"{resource_prefix(synth.config.name)}-{suffix}"
    found = [
        k for k, t in synth.of_type("AWS::DynamoDB::Table").items() if t["Properties"]["TableName"] == name
    ]
    assert len(found) <= 1, name
    return found[0] if found else None


def _integration_function(synth: Synthesized, route: dict[str, Any]) -> str | None:
    integration_id = rendered(route["Target"]).removeprefix("integrations/").strip("<>")
    uri = synth.resources[integration_id]["Properties"]["IntegrationUri"]
    return next(iter(statement_targets({"Resource": uri}) & set(platform_functions(synth))), None)


def _statements(synth: Synthesized, module: str) -> list[dict[str, Any]]:
    role = synth.resources[function_by_module(synth, module)]["Properties"]["Role"]
    return policy_statements_of_role(synth, ref_target(role) or "")


def test_connect_needs_the_token_in_the_query_string_and_disconnect_reaches_the_connections_function(
    synthesized: Synthesized,
) -> None:
    api_id, api = _one(synthesized, "AWS::ApiGatewayV2::Api")
    assert api["ProtocolType"] == "WEBSOCKET"
    authorizer_id, authorizer = _one(synthesized, "AWS::ApiGatewayV2::Authorizer")
    assert authorizer["AuthorizerType"] == "REQUEST"
    # Browsers cannot set headers on a WebSocket: the console sends ?token=<ID token>.
    assert authorizer["IdentitySource"] == [TOKEN_IDENTITY_SOURCE] == ["route.request.querystring.token"]
    assert ref_target(authorizer["ApiId"]) == api_id
    assert function_by_module(synthesized, FEED_AUTHORIZER) in statement_targets(
        {"Resource": authorizer["AuthorizerUri"]}
    )
    routes = {
        route["Properties"]["RouteKey"]: route["Properties"]
        for route in synthesized.of_type("AWS::ApiGatewayV2::Route").values()
    }
    assert set(routes) == {"$connect", "$disconnect"}
    connect, disconnect = routes["$connect"], routes["$disconnect"]
    assert connect["AuthorizationType"] == "CUSTOM"
    assert ref_target(connect["AuthorizerId"]) == authorizer_id
    # API Gateway runs WebSocket authorizers on $connect only.
    assert disconnect["AuthorizationType"] == "NONE"
    connections = function_by_module(synthesized, FEED_CONNECTIONS)
    assert _integration_function(synthesized, connect) == connections
    assert _integration_function(synthesized, disconnect) == connections


def test_the_stage_is_the_environments_throttled_and_logged_without_message_bodies(
    synthesized: Synthesized,
) -> None:
    stage_id, stage = _one(synthesized, "AWS::ApiGatewayV2::Stage")
    assert stage["StageName"] == synthesized.config.name
    assert stage["AutoDeploy"] is True
    settings = stage["DefaultRouteSettings"]
    throttling = synthesized.config.api_throttling
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (
        throttling.rate_limit,
        throttling.burst_limit,
    )
    assert (settings["LoggingLevel"], settings["DataTraceEnabled"]) == ("ERROR", False)
    log_group = synthesized.resources[ref_target(stage["AccessLogSettings"]["DestinationArn"]) or ""]
    assert log_group["Properties"]["RetentionInDays"] == synthesized.config.log_retention_days
    assert "$context.connectionId" in stage["AccessLogSettings"]["Format"]
    # Logging needs the account's API Gateway CloudWatch role, which the REST API sets.
    (account_id,) = synthesized.of_type("AWS::ApiGateway::Account")
    assert account_id in as_list(synthesized.resources[stage_id].get("DependsOn", []))
    api_id, _ = _one(synthesized, "AWS::ApiGatewayV2::Api")
    url = (
        f"wss://<{api_id}>.execute-api.{synthesized.config.region}.<AWS::URLSuffix>/{synthesized.config.name}"
    )
    assert rendered(synthesized.template["Outputs"]["FeedUrl"]["Value"]) == url


def test_the_connections_table_keeps_each_users_connections_until_they_expire(
    synthesized: Synthesized,
) -> None:
    table = synthesized.resources[_table_id(synthesized, CONNECTIONS_TABLE.suffix) or ""]["Properties"]
    assert [(key["AttributeName"], key["KeyType"]) for key in table["KeySchema"]] == [
        ("user_id", "HASH"),
        ("connection_id", "RANGE"),
    ]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert "StreamSpecification" not in table
    for function in platform_functions(synthesized).values():
        name = function["Properties"]["Environment"]["Variables"]["FEED_CONNECTIONS_TABLE_NAME"]
        assert ref_target(name) == _table_id(synthesized, CONNECTIONS_TABLE.suffix)


def test_streams_carry_the_new_images_of_the_history_and_broker_accounts_tables_only(
    synthesized: Synthesized,
) -> None:
    streamed = {
        table["Properties"]["TableName"]: table["Properties"]["StreamSpecification"]
        for table in synthesized.of_type("AWS::DynamoDB::Table").values()
        if "StreamSpecification" in table["Properties"]
    }
    prefix = resource_prefix(synthesized.config.name)
    expected = {EXECUTION_HISTORY.name(prefix)}
    if synthesized.config.auth_stack_exports is None:  # cross-stack: the auth stack's table
        expected.add(BROKER_ACCOUNTS.name(prefix))
    assert set(streamed) == expected
    # The view each definition declares (`shared_utils.tables`), which the broadcaster parses.
    views = {EXECUTION_HISTORY.name(prefix): EXECUTION_HISTORY, BROKER_ACCOUNTS.name(prefix): BROKER_ACCOUNTS}
    for name, spec in streamed.items():
        assert views[name].stream_view_type in {"NEW_IMAGE", "NEW_AND_OLD_IMAGES"}
        assert spec == {"StreamViewType": views[name].stream_view_type}


def _stream_mappings(synth: Synthesized) -> dict[str, dict[str, Any]]:
    """The broadcaster's mappings by source: a table's logical id, or `import:<export>`."""
    broadcaster = function_by_module(synth, FEED_BROADCASTER)
    found = {}
    for mapping in synth.of_type("AWS::Lambda::EventSourceMapping").values():
        properties = mapping["Properties"]
        if ref_target(properties["FunctionName"]) != broadcaster:
            continue
        source = properties["EventSourceArn"]
        if "Fn::ImportValue" in source:
            found[f"import:{source['Fn::ImportValue']}"] = properties
        else:
            assert source["Fn::GetAtt"][1] == "StreamArn"
            found[source["Fn::GetAtt"][0]] = properties
    return found


def test_the_broadcaster_reads_both_streams_in_small_fresh_batches(synthesized: Synthesized) -> None:
    mappings = _stream_mappings(synthesized)
    exports = synthesized.config.auth_stack_exports
    accounts = (
        f"import:{AUTH_EXPORTS.broker_accounts_stream}"
        if exports is not None
        else _table_id(synthesized, BROKER_ACCOUNTS.suffix)
    )
    assert set(mappings) == {_table_id(synthesized, EXECUTION_HISTORY.suffix), accounts}
    queues = synthesized.of_type("AWS::SQS::Queue")
    for mapping in mappings.values():
        assert mapping["StartingPosition"] == "LATEST"
        assert mapping["BatchSize"] == STREAM_BATCH_SIZE <= 100
        assert mapping["MaximumBatchingWindowInSeconds"] == 0
        assert mapping["BisectBatchOnFunctionError"] is True
        assert mapping["MaximumRetryAttempts"] == STREAM_RETRY_ATTEMPTS == 2
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        # A feed record older than a few minutes is worthless: skipped, and reported.
        assert 60 <= mapping["MaximumRecordAgeInSeconds"] <= 300
        assert ref_target(mapping["DestinationConfig"]["OnFailure"]["Destination"]) in queues
        assert "ParallelizationFactor" not in mapping  # one batch per shard: updates stay in order


def test_the_broadcaster_is_the_one_target_of_quotes_refreshed(synthesized: Synthesized) -> None:
    broadcasters = [
        function
        for function in platform_functions(synthesized).values()
        if function["Properties"]["Handler"].endswith(f".{FEED_BROADCASTER}.handler")
    ]
    assert len(broadcasters) == 1
    (rule,) = [
        rule["Properties"]
        for rule in synthesized.of_type("AWS::Events::Rule").values()
        if rule["Properties"]["EventPattern"] == rule_pattern(DetailType.QUOTES_REFRESHED)
    ]
    (target,) = rule["Targets"]
    assert ref_target(target["Arn"]) == function_by_module(synthesized, FEED_BROADCASTER)
    assert ref_target(target["DeadLetterConfig"]["Arn"]) in synthesized.of_type("AWS::SQS::Queue")


def test_only_the_broadcaster_manages_connections_and_only_of_this_apis_stage(
    synthesized: Synthesized,
) -> None:
    api_id, _ = _one(synthesized, "AWS::ApiGatewayV2::Api")
    managing = {}
    for module in {"feed_authorizer", "feed_connections", "feed_broadcaster", "strategy_executor"}:
        statements = [
            s
            for s in _statements(synthesized, module)
            if "execute-api:ManageConnections" in as_list(s["Action"])
        ]
        if statements:
            managing[module] = statements
    assert set(managing) == {FEED_BROADCASTER}
    (statement,) = managing[FEED_BROADCASTER]
    assert as_list(statement["Action"]) == ["execute-api:ManageConnections"]
    (resource,) = as_list(statement["Resource"])
    assert rendered(resource) == (
        f"arn:<AWS::Partition>:execute-api:{synthesized.config.region}:<AWS::AccountId>:<{api_id}>/"
        f"{synthesized.config.name}/*/@connections/*"
    )
    endpoint = synthesized.resources[function_by_module(synthesized, FEED_BROADCASTER)]["Properties"][
        "Environment"
    ]["Variables"]["FEED_ENDPOINT_URL"]
    assert rendered(endpoint) == (
        f"https://<{api_id}>.execute-api.{synthesized.config.region}.<AWS::URLSuffix>/{synthesized.config.name}"
    )


def _dynamodb_access(synth: Synthesized, module: str) -> dict[str, set[str]]:
    """Table (or stream) reference -> DynamoDB actions of the module's role."""
    access: dict[str, set[str]] = {}
    for statement in _statements(synth, module):
        actions = {a for a in as_list(statement["Action"]) if a.startswith("dynamodb:")}
        if not actions:
            continue
        for resource in as_list(statement["Resource"]):
            access.setdefault(rendered(resource), set()).update(actions)
    return access


def test_each_feed_function_touches_only_its_tables(standalone: Synthesized) -> None:
    history = _table_id(standalone, EXECUTION_HISTORY.suffix)
    trading = _table_id(standalone, "trading-configurations")
    accounts = _table_id(standalone, BROKER_ACCOUNTS.suffix)
    connections = _table_id(standalone, CONNECTIONS_TABLE.suffix)
    # The authorizer checks a token against the pool's published keys: no table at all.
    assert _dynamodb_access(standalone, FEED_AUTHORIZER) == {}
    connections_access = _dynamodb_access(standalone, FEED_CONNECTIONS)
    assert set(connections_access) == {f"<{connections}.Arn>"}
    assert {"dynamodb:PutItem", "dynamodb:DeleteItem"} <= connections_access[f"<{connections}.Arn>"]

    broadcaster = _dynamodb_access(standalone, FEED_BROADCASTER)
    idempotency = _table_id(standalone, "idempotency")
    assert set(broadcaster) == {
        *(f"<{table}.Arn>" for table in (history, trading, connections, idempotency)),
        *(f"<{table}.Arn>/index/*" for table in (history, trading)),
        *(f"<{table}.StreamArn>" for table in (history, accounts)),
        "*",
    }
    # QuotesRefreshed is handled once per tick (Powertools Idempotency), as every timer event.
    assert "dynamodb:PutItem" in broadcaster[f"<{idempotency}.Arn>"]
    writes = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem"}
    for table in (history, trading, connections):
        assert "dynamodb:Query" in broadcaster[f"<{table}.Arn>"]
        assert not broadcaster[f"<{table}.Arn>"] & writes
    assert "dynamodb:DeleteItem" in broadcaster[f"<{connections}.Arn>"]  # gone connections
    assert "dynamodb:DeleteItem" not in broadcaster[f"<{history}.Arn>"] | broadcaster[f"<{trading}.Arn>"]
    for table in (history, accounts):
        assert {"dynamodb:GetRecords", "dynamodb:GetShardIterator"} <= broadcaster[f"<{table}.StreamArn>"]
    assert f"<{accounts}.Arn>" not in broadcaster  # the stream's new image is all it needs
    assert broadcaster["*"] == {"dynamodb:ListStreams"}  # AWS documents it on '*' only


def test_the_feed_functions_run_outside_the_broker_egress_vpc(staging: Synthesized) -> None:
    """The authorizer fetches the user pool's keys over HTTPS; none of them calls a broker."""
    assert staging.of_type("AWS::EC2::VPC")
    for module in (FEED_AUTHORIZER, FEED_CONNECTIONS, FEED_BROADCASTER):
        assert "VpcConfig" not in staging.resources[function_by_module(staging, module)]["Properties"]


def test_the_authorizer_accepts_tokens_of_the_pool_issued_to_the_console(synthesized: Synthesized) -> None:
    variables = synthesized.resources[function_by_module(synthesized, FEED_AUTHORIZER)]["Properties"][
        "Environment"
    ]["Variables"]
    exports = synthesized.config.auth_stack_exports
    if exports is None:
        (pool_id,) = synthesized.of_type("AWS::Cognito::UserPool")
        clients = synthesized.of_type("AWS::Cognito::UserPoolClient")
        (console_client,) = [
            k for k, c in clients.items() if c["Properties"].get("AllowedOAuthFlows") == ["code"]
        ]
        assert ref_target(variables["COGNITO_USER_POOL_ID"]) == pool_id
        assert ref_target(variables["COGNITO_APP_CLIENT_ID"]) == console_client
    else:
        assert variables["COGNITO_USER_POOL_ID"] == {"Fn::ImportValue": exports.user_pool_id}
        assert variables["COGNITO_APP_CLIENT_ID"] == {"Fn::ImportValue": exports.console_client_id}


def test_a_broadcaster_behind_its_streams_alarms_the_operators(synthesized: Synthesized) -> None:
    (topic_id,) = synthesized.of_type("AWS::SNS::Topic")
    (alarm,) = [
        alarm["Properties"]
        for alarm in synthesized.of_type("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("MetricName") == "IteratorAge"
    ]
    assert alarm["Namespace"] == "AWS/Lambda"
    assert [ref_target(d["Value"]) for d in alarm["Dimensions"] if d["Name"] == "FunctionName"] == [
        function_by_module(synthesized, FEED_BROADCASTER)
    ]
    assert (alarm["Statistic"], alarm["Period"]) == ("Maximum", 60)
    assert alarm["Threshold"] == FEED_ITERATOR_AGE_ALARM.to_milliseconds() == 60_000  # IteratorAge is in ms
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["AlarmName"] == f"{resource_prefix(synthesized.config.name)}-feed-broadcaster-iterator-age"
    assert [ref_target(action) for action in alarm["AlarmActions"]] == [topic_id]
