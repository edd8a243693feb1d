"""Backtests as jobs: a private results bucket that forgets after 30 days, a one-vCPU job function
of 15 minutes that Lambda never retries, least-privilege grants on both sides, the routes behind
the Cognito authorizer and an alarm on the job function's errors."""

from __future__ import annotations

from typing import Any

import pytest

from cdk_stack.backtests import RUNNER_CONCURRENCY, RUNNER_MEMORY_MB
from lambda_functions.option_baskets import BACKTEST_RUNNER
from shared_utils.backtest.job_models import JOB_TIMEOUT, RETENTION, START_WITHIN
from shared_utils.keys import BACKTEST_OBJECT_PREFIX
from shared_utils.tables import BACKTEST_JOBS, resource_prefix
from tests.infra.conftest import Synthesized
from tests.infra.helpers import (
    as_list,
    function_by_module,
    policy_statements_of_role,
    ref_target,
    rendered,
    statement_targets,
)

pytestmark = pytest.mark.infra

API_MODULE = "backtests"
WRITE_ACTIONS = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}


def _bucket(synth: Synthesized) -> str:
    (bucket_id,) = [key for key in synth.of_type("AWS::S3::Bucket") if key.startswith("BacktestsResults")]
    return bucket_id


def _table(synth: Synthesized, suffix: str) -> str:
    name = f"{resource_prefix(synth.config.name)}-{suffix}"
    (table_id,) = [
        key
        for key, table in synth.of_type("AWS::DynamoDB::Table").items()
        if table["Properties"]["TableName"] == name
    ]
    return table_id


def _statements(synth: Synthesized, module: str) -> list[dict[str, Any]]:
    role = ref_target(synth.resources[function_by_module(synth, module)]["Properties"]["Role"]) or ""
    return policy_statements_of_role(synth, role)


def _actions_on(synth: Synthesized, module: str, target: str) -> set[str]:
    return {
        action
        for statement in _statements(synth, module)
        if target in statement_targets(statement)
        for action in as_list(statement["Action"])
    }


def test_the_results_bucket_is_private_encrypted_tls_only_and_forgets_after_30_days(
    synthesized: Synthesized,
) -> None:
    bucket_id = _bucket(synthesized)
    bucket = synthesized.resources[bucket_id]["Properties"]
    assert bucket["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"], True
    )
    (encryption,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    (rule,) = bucket["LifecycleConfiguration"]["Rules"]
    assert (rule["Prefix"], rule["ExpirationInDays"], rule["Status"]) == (
        BACKTEST_OBJECT_PREFIX,
        30,
        "Enabled",
    )
    assert RETENTION.days == 30  # the jobs' items expire with their results
    (policy,) = [
        p["Properties"]
        for p in synthesized.of_type("AWS::S3::BucketPolicy").values()
        if ref_target(p["Properties"]["Bucket"]) == bucket_id
    ]
    denials = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert {"Bool": {"aws:SecureTransport": "false"}} in [s["Condition"] for s in denials]
    assert not [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]


def test_the_jobs_table_is_keyed_by_user_and_expires_with_the_results(synthesized: Synthesized) -> None:
    table = synthesized.resources[_table(synthesized, BACKTEST_JOBS.suffix)]["Properties"]
    assert [(key["AttributeName"], key["KeyType"]) for key in table["KeySchema"]] == [
        ("pk", "HASH"),
        ("sk", "RANGE"),
    ]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["BillingMode"] == "PAY_PER_REQUEST"


def test_the_job_function_has_a_full_vcpu_15_minutes_a_small_reserve_and_no_retries(
    synthesized: Synthesized,
) -> None:
    runner_id = function_by_module(synthesized, BACKTEST_RUNNER)
    runner = synthesized.resources[runner_id]["Properties"]
    assert runner["MemorySize"] == RUNNER_MEMORY_MB == 1769
    assert runner["Timeout"] == JOB_TIMEOUT.total_seconds() == 900
    assert runner["ReservedConcurrentExecutions"] == RUNNER_CONCURRENCY <= 10
    api = synthesized.resources[function_by_module(synthesized, API_MODULE)]["Properties"]
    assert runner["Layers"] == api["Layers"] and runner["Code"] == api["Code"]
    (config,) = [
        c["Properties"]
        for c in synthesized.of_type("AWS::Lambda::EventInvokeConfig").values()
        if ref_target(c["Properties"]["FunctionName"]) == runner_id
    ]
    assert config["MaximumRetryAttempts"] == 0
    assert config["MaximumEventAgeInSeconds"] == START_WITHIN.total_seconds() == 3600
    # What failed anyway (a timeout) or expired waiting is kept in a queue that alarms.
    queue = ref_target(config["DestinationConfig"]["OnFailure"]["Destination"])
    assert synthesized.resources[queue or ""]["Type"] == "AWS::SQS::Queue"
    assert any(
        ref_target(d["Value"]) == queue
        for a in synthesized.of_type("AWS::CloudWatch::Alarm").values()
        for d in a["Properties"].get("Dimensions", [])
    )


def test_both_functions_are_told_the_table_the_bucket_and_the_api_the_job_function(
    synthesized: Synthesized,
) -> None:
    runner = synthesized.resources[function_by_module(synthesized, BACKTEST_RUNNER)]["Properties"]
    api = synthesized.resources[function_by_module(synthesized, API_MODULE)]["Properties"]
    jobs, bucket = _table(synthesized, BACKTEST_JOBS.suffix), _bucket(synthesized)
    for function in (runner, api):
        variables = function["Environment"]["Variables"]
        assert ref_target(variables["BACKTEST_JOBS_TABLE_NAME"]) == jobs
        assert ref_target(variables["BACKTEST_RESULTS_BUCKET"]) == bucket
    assert api["Environment"]["Variables"]["BACKTEST_RUNNER_FUNCTION"] == runner["FunctionName"]
    assert "BACKTEST_RUNNER_FUNCTION" not in runner["Environment"]["Variables"]


def test_the_job_function_reads_strategies_updates_jobs_and_writes_results_only(
    synthesized: Synthesized,
) -> None:
    trading = _table(synthesized, "trading-configurations")
    jobs, bucket = _table(synthesized, BACKTEST_JOBS.suffix), _bucket(synthesized)
    statements = _statements(synthesized, BACKTEST_RUNNER)
    tables = {
        target
        for statement in statements
        for target in statement_targets(statement)
        if synthesized.resources.get(target, {}).get("Type") == "AWS::DynamoDB::Table"
    }
    assert tables == {trading, jobs}
    assert not _actions_on(synthesized, BACKTEST_RUNNER, trading) & WRITE_ACTIONS
    assert _actions_on(synthesized, BACKTEST_RUNNER, jobs) == {"dynamodb:GetItem", "dynamodb:UpdateItem"}
    (objects,) = [s for s in statements if bucket in statement_targets(s)]
    assert objects["Action"] == "s3:PutObject"
    assert rendered(objects["Resource"]) == f"<{bucket}.Arn>/{BACKTEST_OBJECT_PREFIX}*"
    assert not any(action.startswith("lambda:") for s in statements for action in as_list(s["Action"]))


def test_the_api_starts_only_the_job_function_and_reads_only_the_results(synthesized: Synthesized) -> None:
    runner = function_by_module(synthesized, BACKTEST_RUNNER)
    bucket = _bucket(synthesized)
    statements = _statements(synthesized, API_MODULE)
    (invoke,) = [s for s in statements if "lambda:InvokeFunction" in as_list(s["Action"])]
    assert statement_targets(invoke) == {runner} and invoke["Resource"] == {"Fn::GetAtt": [runner, "Arn"]}
    (objects,) = [s for s in statements if bucket in statement_targets(s)]
    assert objects["Action"] == "s3:GetObject"
    assert rendered(objects["Resource"]) == f"<{bucket}.Arn>/{BACKTEST_OBJECT_PREFIX}*"
    assert _actions_on(synthesized, API_MODULE, _table(synthesized, BACKTEST_JOBS.suffix)) & WRITE_ACTIONS
    assert (
        not _actions_on(synthesized, API_MODULE, _table(synthesized, "trading-configurations"))
        & WRITE_ACTIONS
    )
    # No other function may start jobs.
    starters = [
        [ref_target(role) for role in policy["Properties"]["Roles"]]
        for policy in synthesized.of_type("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if runner in statement_targets(statement)
        and any(action.startswith("lambda:") for action in as_list(statement["Action"]))
    ]
    api_role = synthesized.resources[function_by_module(synthesized, API_MODULE)]["Properties"]["Role"]
    assert starters == [[ref_target(api_role)]]


def test_the_routes_reach_the_backtests_function_behind_the_cognito_authorizer(
    synthesized: Synthesized,
) -> None:
    function = function_by_module(synthesized, API_MODULE)
    (authorizer,) = synthesized.of_type("AWS::ApiGateway::Authorizer")
    methods = [
        m["Properties"]
        for m in synthesized.of_type("AWS::ApiGateway::Method").values()
        if m["Properties"]["HttpMethod"] != "OPTIONS"
        and function in rendered(m["Properties"]["Integration"]["Uri"])
    ]
    assert sorted(m["HttpMethod"] for m in methods) == ["GET", "GET", "POST"]
    for method in methods:
        assert method["AuthorizationType"] == "COGNITO_USER_POOLS"
        assert ref_target(method["AuthorizerId"]) == authorizer
    (by_id,) = [m for m in methods if m.get("RequestParameters")]
    assert by_id["RequestParameters"] == {"method.request.path.backtest_id": True}


def test_the_job_functions_errors_alarm_the_operators(synthesized: Synthesized) -> None:
    runner = function_by_module(synthesized, BACKTEST_RUNNER)
    (topic,) = synthesized.of_type("AWS::SNS::Topic")
    (alarm,) = [
        a["Properties"]
        for a in synthesized.of_type("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "Errors"
        and any(ref_target(d["Value"]) == runner for d in a["Properties"].get("Dimensions", []))
    ]
    assert alarm["AlarmName"] == f"{resource_prefix(synthesized.config.name)}-backtest-runner-errors"
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert [ref_target(action) for action in alarm["AlarmActions"]] == [topic]
