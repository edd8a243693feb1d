"""The signal webhooks' public endpoint on the synthesized dev stack: /signals/{token} has no
authorizer, every other method still has Cognito's, and its function may write only the webhooks'
own partitions, number signals and queue runs."""

from __future__ import annotations

from typing import Any

import pytest

from shared_utils.api.catalog import PUBLIC_ROUTES, SIGNAL_WEBHOOK
from shared_utils.tables import resource_prefix
from tests.infra.conftest import Synthesized
from tests.infra.helpers import (
    as_list,
    function_by_module,
    policy_statements_of_role,
    ref_target,
    statement_targets,
)

pytestmark = pytest.mark.infra

WRITE_ACTIONS = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
# CloudFormation's quota per stack; the API's functions share one to stay under it.
STACK_RESOURCE_LIMIT = 500


def _methods_by_path(synth: Synthesized) -> dict[tuple[str, str], dict[str, Any]]:
    resources = synth.of_type("AWS::ApiGateway::Resource")
    paths: dict[str, str] = {}

    def path_of(resource_id: str) -> str:
        if resource_id not in paths:
            properties = resources[resource_id]["Properties"]
            parent = ref_target(properties["ParentId"])
            paths[resource_id] = f"{path_of(parent) if parent in resources else ''}/{properties['PathPart']}"
        return paths[resource_id]

    return {
        (
            method["Properties"]["HttpMethod"],
            path_of(ref_target(method["Properties"]["ResourceId"]) or ""),
        ): method["Properties"]
        for method in synth.of_type("AWS::ApiGateway::Method").values()
    }


def _table(synth: Synthesized, suffix: str) -> str:
    name = f"{resource_prefix(synth.config.name)}-{suffix}"
    (table_id,) = [
        key
        for key, table in synth.of_type("AWS::DynamoDB::Table").items()
        if table["Properties"]["TableName"] == name
    ]
    return table_id


def test_only_the_signal_webhook_is_served_without_an_authorizer(standalone: Synthesized) -> None:
    methods = _methods_by_path(standalone)
    (public,) = PUBLIC_ROUTES
    webhook = methods[(public.method, public.path)]
    function = function_by_module(standalone, SIGNAL_WEBHOOK)

    assert (public.method, public.path) == ("POST", "/signals/{token}")
    assert webhook["AuthorizationType"] == "NONE" and "AuthorizerId" not in webhook
    assert webhook["RequestParameters"] == {"method.request.path.token": True}
    assert ref_target(webhook["RequestValidatorId"])
    assert function in "".join(str(part) for part in webhook["Integration"]["Uri"]["Fn::Join"][1])
    assert ("OPTIONS", public.path) not in methods  # no browser calls it: no CORS preflight
    others = {key: method for key, method in methods.items() if key != (public.method, public.path)}
    assert len(others) > 60
    for (http_method, path), method in others.items():
        if http_method == "OPTIONS":
            assert method["Integration"]["Type"] == "MOCK", path
            continue
        assert method["AuthorizationType"] == "COGNITO_USER_POOLS", (http_method, path)
        assert ref_target(method["AuthorizerId"]), (http_method, path)


def test_the_webhook_function_writes_only_webhook_partitions_numbers_signals_and_queues_runs(
    standalone: Synthesized,
) -> None:
    function = standalone.resources[function_by_module(standalone, SIGNAL_WEBHOOK)]
    statements = policy_statements_of_role(standalone, ref_target(function["Properties"]["Role"]) or "")
    trading, history = _table(standalone, "trading-configurations"), _table(standalone, "execution-history")
    writes: dict[str, list[dict[str, Any]]] = {}
    for statement in statements:
        actions = set(as_list(statement["Action"]))
        for target in statement_targets(statement):
            if actions & WRITE_ACTIONS and standalone.resources[target]["Type"] == "AWS::DynamoDB::Table":
                writes.setdefault(target, []).append(statement)

    assert set(writes) == {trading, history}  # never the broker accounts or any other table
    (partition_writes,) = writes[trading]
    assert partition_writes["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["WEBHOOK#*"]}
    }
    assert [set(as_list(statement["Action"])) for statement in writes[history]] == [{"dynamodb:UpdateItem"}]
    queue_sends = [s for s in statements if "sqs:SendMessage" in as_list(s["Action"])]
    (run_queue,) = {target for s in queue_sends for target in statement_targets(s)}
    assert standalone.resources[run_queue]["Type"] == "AWS::SQS::Queue"
    assert not [s for s in statements if any(a.startswith("secretsmanager:") for a in as_list(s["Action"]))]


def test_the_stack_stays_under_cloudformations_resource_limit(standalone: Synthesized) -> None:
    assert len(standalone.resources) < STACK_RESOURCE_LIMIT
