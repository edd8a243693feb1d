"""Auth modes: imports from the auth stack, or a user pool and broker-accounts table of our own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from cdk_stack.auth import Auth
from shared_utils.api.identity import ADMINS_GROUP
from shared_utils.tables import resource_prefix
from tests.infra.conftest import AUTH_EXPORTS, Synthesized, deployed_config
from tests.infra.helpers import function_by_module, platform_functions, ref_target

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
    for function in platform_functions(cross_stack).values():
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


def test_where_real_money_is_traded_the_pool_has_threat_protection(staging: Synthesized) -> None:
    """Staging and production (when it runs standalone) are on the Plus plan, enforced."""
    (pool,) = staging.of_type("AWS::Cognito::UserPool").values()
    assert pool["Properties"]["UserPoolTier"] == "PLUS"
    assert pool["Properties"]["UserPoolAddOns"] == {"AdvancedSecurityMode": "ENFORCED"}
    acknowledged = pool.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    assert not [rule for rule in acknowledged if rule["id"].startswith("AwsSolutions-COG")]


def test_production_as_configured_builds_its_own_pool_with_threat_protection(tmp_path: Path) -> None:
    """environments.json names no auth-stack exports for production, so `deploy.sh -e production`
    builds the pool here (the session's production template is the cross-stack variant): the
    Auth construct alone shows which pool that is."""
    config = deployed_config("production")
    assert config.auth_stack_exports is None
    stack = Stack(App(outdir=str(tmp_path)), "Auth")
    Auth(stack, "Auth", config=config)
    template = Template.from_stack(stack).to_json()
    (pool,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::Cognito::UserPool"]
    assert pool["Properties"]["UserPoolTier"] == "PLUS"
    assert pool["Properties"]["UserPoolAddOns"] == {"AdvancedSecurityMode": "ENFORCED"}


def test_only_devs_test_pool_is_acknowledged_off_the_plus_plan(standalone: Synthesized) -> None:
    (pool,) = standalone.of_type("AWS::Cognito::UserPool").values()
    assert "UserPoolTier" not in pool["Properties"]
    (acknowledgement,) = pool["Metadata"]["cdk_nag"]["rules_to_suppress"]
    assert acknowledgement["id"] == "AwsSolutions-COG8"
    assert "dev pool holds test users only" in acknowledgement["reason"]


def test_no_acknowledgement_claims_the_auth_stack_owns_a_pool_synthesized_here(
    synthesized: Synthesized,
) -> None:
    """A pool in this template is this stack's, whatever the environment."""
    for pool in synthesized.of_type("AWS::Cognito::UserPool").values():
        text = json.dumps(pool.get("Metadata", {})).lower()
        assert "auth stack" not in text and "production pool" not in text


def _walk(node: object) -> list[object]:
    found = [node]
    if isinstance(node, dict):
        for child in node.values():
            found += _walk(child)
    elif isinstance(node, list):
        for child in node:
            found += _walk(child)
    return found
