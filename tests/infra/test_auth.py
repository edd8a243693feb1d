"""Auth modes: imports from the auth stack, or a user pool and broker-accounts table of our own."""

from __future__ import annotations

import json

import pytest

from shared_utils.api.identity import ADMINS_GROUP
from shared_utils.tables import resource_prefix
from tests.infra.conftest import AUTH_EXPORTS, Synthesized
from tests.infra.helpers import function_by_module, ref_target

pytestmark = pytest.mark.infra


def test_standalone_creates_a_user_pool_with_admins_and_the_broker_accounts_table(
    standalone: Synthesized,
) -> None:
    (pool_id,) = standalone.of_type("AWS::Cognito::UserPool")
    pool = standalone.resources[pool_id]["Properties"]
    assert pool["MfaConfiguration"] == "ON"
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    (group,) = standalone.of_type("AWS::Cognito::UserPoolGroup").values()
    assert group["Properties"]["GroupName"] == ADMINS_GROUP
    assert ref_target(group["Properties"]["UserPoolId"]) == pool_id
    (authorizer,) = standalone.of_type("AWS::ApiGateway::Authorizer").values()
    assert [ref_target(arn) for arn in authorizer["Properties"]["ProviderARNs"]] == [pool_id]
    name = f"{resource_prefix('dev')}-broker-accounts"
    tables = [
        t for t in standalone.of_type("AWS::DynamoDB::Table").values() if t["Properties"]["TableName"] == name
    ]
    assert len(tables) == 1
    variables = standalone.resources[function_by_module(standalone, "schedule_trigger")]["Properties"][
        "Environment"
    ]
    assert ref_target(variables["Variables"]["BROKER_ACCOUNTS_TABLE_NAME"]) in standalone.resources


def test_cross_stack_imports_the_auth_stack_exports(cross_stack: Synthesized) -> None:
    assert not cross_stack.of_type("AWS::Cognito::UserPool")
    assert not cross_stack.of_type("AWS::Cognito::UserPoolGroup")
    names = {t["Properties"]["TableName"] for t in cross_stack.of_type("AWS::DynamoDB::Table").values()}
    assert f"{resource_prefix('production')}-broker-accounts" not in names
    (authorizer,) = cross_stack.of_type("AWS::ApiGateway::Authorizer").values()
    assert {"Fn::ImportValue": AUTH_EXPORTS.user_pool_id} in _walk(authorizer["Properties"]["ProviderARNs"])
    for function in cross_stack.of_type("AWS::Lambda::Function").values():
        imported = function["Properties"]["Environment"]["Variables"]["BROKER_ACCOUNTS_TABLE_NAME"]
        assert imported == {"Fn::ImportValue": AUTH_EXPORTS.broker_accounts_table}
    assert cross_stack.template["Outputs"]["AuthApiGatewayId"]["Value"] == {
        "Fn::ImportValue": AUTH_EXPORTS.api_gateway_id
    }
    # Broker-account reads are granted on the imported table's ARN, not on a wildcard.
    role = cross_stack.resources[function_by_module(cross_stack, "strategy_executor")]["Properties"]["Role"]
    policies = [
        p
        for p in cross_stack.of_type("AWS::IAM::Policy").values()
        if ref_target(role) in map(ref_target, p["Properties"]["Roles"])
    ]
    text = json.dumps(policies)
    assert AUTH_EXPORTS.broker_accounts_table in text


def _walk(node: object) -> list[object]:
    found = [node]
    if isinstance(node, dict):
        for child in node.values():
            found += _walk(child)
    elif isinstance(node, list):
        for child in node:
            found += _walk(child)
    return found
