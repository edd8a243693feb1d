"""Broker access: only broker callers read broker secrets (by prefix) and, where the environment
enables it, leave through NAT gateways with Elastic IPs; everything else stays outside both."""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any
from unittest.mock import Mock

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from cdk_stack.brokers import (
    BROKER_CALLING_MODULES,
    LAMBDA_ENI_ACTIONS,
    SESSION_MANAGING_MODULES,
    BrokerAccess,
    broker_app_secret_prefix,
    broker_secret_prefix,
    manages_broker_sessions,
    market_data_secret,
)
from cdk_stack.config import BrokerEgressVpc, ClientEgressConfig
from shared_utils.brokers.credentials import SecretsManagerCredentialsProvider
from tests.infra.conftest import Synthesized, deployed_config
from tests.infra.helpers import as_list, platform_functions, policy_statements_of_role, ref_target

pytestmark = pytest.mark.infra

ACCOUNT = "123456789012"
HANDLER_PREFIX = "lambda_functions.option_baskets."


def _functions_by_module(synth: Synthesized) -> dict[str, dict[str, Any]]:
    return {
        function["Properties"]["Handler"].removeprefix(HANDLER_PREFIX).removesuffix(".handler"): function[
            "Properties"
        ]
        for function in platform_functions(synth).values()
    }


def _statements(synth: Synthesized, function: dict[str, Any]) -> list[dict[str, Any]]:
    return policy_statements_of_role(synth, ref_target(function["Role"]) or "")


def _render(value: Any, synth: Synthesized) -> str:
    """An ARN built with Fn::Join / pseudo parameters, as it would read in a fixed account."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_render(part, synth) for part in parts)
    pseudo = {"AWS::Partition": "aws", "AWS::AccountId": ACCOUNT, "AWS::Region": synth.config.region}
    return pseudo[value["Ref"]]


def _secret_arn(synth: Synthesized, name: str) -> str:
    # Secrets Manager appends "-" and six random characters to every secret's name.
    return f"arn:aws:secretsmanager:{synth.config.region}:{ACCOUNT}:secret:{name}-Ab12Cd"


def test_only_broker_callers_may_read_broker_secrets_and_only_under_the_prefix(
    synthesized: Synthesized,
) -> None:
    prefix = broker_secret_prefix(synthesized.config)
    provider = SecretsManagerCredentialsProvider(prefix, secrets=Mock(), metrics=Mock())
    functions = _functions_by_module(synthesized)
    callers = BROKER_CALLING_MODULES & set(functions)
    # Every order of a run (the executor), deleting with `close_positions` and the minute's
    # broker-position check; nothing else builds a broker adapter (the timer handlers and the kill
    # switch only queue runs).
    assert callers == {"strategy_executor", "duplicate_order_checker", "strategy_manager", "basket_manager"}
    for module, function in functions.items():
        statements = _statements(synthesized, function)
        secret_statements = [
            s for s in statements if any(a.startswith("secretsmanager:") for a in as_list(s["Action"]))
        ]
        variable = function["Environment"]["Variables"]["BROKER_SECRET_PREFIX"]
        if module in SESSION_MANAGING_MODULES:
            continue  # test_linking_functions_write_app_credentials_and_sessions_only
        if module in NOTIFICATION_SECRET_READERS:
            assert variable == "", f"{module} must have no broker prefix"
            continue
        if module in MARKET_DATA_READERS and market_data_secret(synthesized.config) is not None:
            assert variable == ""
            continue  # the feed's secret only: test_the_feed_secret_is_read_by_its_readers_only
        if module not in callers:
            assert secret_statements == [], module
            assert variable == "", f"{module} must have no prefix (its credentials lookup fails closed)"
            continue
        assert variable == prefix
        # The notification routes' bot-token writes (CreateSecret ... under their own prefix) are
        # checked in tests/infra/test_notifications.py.
        (statement,) = [
            s for s in secret_statements if "secretsmanager:CreateSecret" not in as_list(s["Action"])
        ]
        assert as_list(statement["Action"]) == ["secretsmanager:GetSecretValue"]
        (pattern,) = [_render(resource, synthesized) for resource in as_list(statement["Resource"])]
        assert fnmatchcase(_secret_arn(synthesized, provider.secret_name("ZERODHA-AB1234")), pattern)
        for outside in (
            f"{broker_app_secret_prefix(synthesized.config)}ZERODHA-AB1234",  # app credentials
            f"{synthesized.config.name}-broker-AB1234",
            f"ql-algo-trading/{synthesized.config.name}/other/AB1234",
            "ql-algo-trading/someotherenv/broker/AB1234",
        ):
            assert not fnmatchcase(_secret_arn(synthesized, outside), pattern), (module, outside)


# The minute's refresh quotes from the feed; the daily start downloads its instrument master.
MARKET_DATA_READERS = frozenset({"market_data_refresher", "timer_starter"})
# Reads the users' Telegram bot tokens, under the notification prefix only, decrypting with the
# same key through Secrets Manager (tests/infra/test_notifications.py checks its grants).
NOTIFICATION_SECRET_READERS = frozenset({"notification_sender"})


@pytest.mark.parametrize("module", sorted(MARKET_DATA_READERS))
def test_the_feed_secret_is_read_by_its_readers_only(synthesized: Synthesized, module: str) -> None:
    secret = market_data_secret(synthesized.config)
    function = _functions_by_module(synthesized)[module]
    statements = [
        s
        for s in _statements(synthesized, function)
        if as_list(s["Action"]) == ["secretsmanager:GetSecretValue"]
    ]
    variables = function["Environment"]["Variables"]
    if secret is None:  # the simulated source logs in nowhere
        assert statements == [] and "MARKET_DATA_SECRET" not in variables
        return
    assert variables["MARKET_DATA_SECRET"] == secret
    (statement,) = statements
    assert as_list(statement["Action"]) == ["secretsmanager:GetSecretValue"]
    (pattern,) = [_render(resource, synthesized) for resource in as_list(statement["Resource"])]
    assert fnmatchcase(_secret_arn(synthesized, secret), pattern)
    prefix = broker_secret_prefix(synthesized.config)
    assert not fnmatchcase(_secret_arn(synthesized, f"{prefix}ZERODHA-AB1234"), pattern)


def test_broker_secrets_key_rotates_and_decrypts_only_through_secrets_manager_for_callers(
    synthesized: Synthesized,
) -> None:
    key_id = ref_target(synthesized.template["Outputs"]["BrokerSecretsKeyArn"]["Value"])
    assert key_id in synthesized.of_type("AWS::KMS::Key")
    assert synthesized.resources[key_id]["Properties"]["EnableKeyRotation"] is True
    assert synthesized.template["Outputs"]["BrokerSecretPrefix"]["Value"] == broker_secret_prefix(
        synthesized.config
    )
    readers = set(BROKER_CALLING_MODULES)
    if market_data_secret(synthesized.config) is not None:
        readers |= MARKET_DATA_READERS
    for module, function in _functions_by_module(synthesized).items():
        if module in SESSION_MANAGING_MODULES:
            continue  # test_linking_functions_write_app_credentials_and_sessions_only
        decrypts = [s for s in _statements(synthesized, function) if "kms:Decrypt" in as_list(s["Action"])]
        if module not in readers | NOTIFICATION_SECRET_READERS:
            assert decrypts == [], module
            continue
        # The bot-token writers' grant (encrypting too) is checked in test_notifications.py.
        (statement,) = [s for s in decrypts if "kms:Encrypt" not in as_list(s["Action"])]
        assert as_list(statement["Action"]) == ["kms:Decrypt"]
        assert [ref_target(resource) for resource in as_list(statement["Resource"])] == [key_id]
        assert statement["Condition"] == {
            "StringEquals": {"kms:ViaService": f"secretsmanager.{synthesized.config.region}.amazonaws.com"}
        }


def test_linking_functions_write_app_credentials_and_sessions_only(synthesized: Synthesized) -> None:
    """The account routes and the starter (the morning's logins, the evening's logouts) write
    both kinds of secret, under their two prefixes only, encrypting with the brokers' key."""
    config = synthesized.config
    sessions, apps = broker_secret_prefix(config), broker_app_secret_prefix(config)
    functions = _functions_by_module(synthesized)
    if not manages_broker_sessions(config):  # cross-stack: the auth stack keeps them
        for module in SESSION_MANAGING_MODULES & set(functions):
            statements = _statements(synthesized, functions[module])
            assert not [s for s in statements if "secretsmanager:CreateSecret" in as_list(s["Action"])]
            assert functions[module]["Environment"]["Variables"]["BROKER_APP_SECRET_PREFIX"] == ""
        return
    for module in SESSION_MANAGING_MODULES:
        function = functions[module]
        variables = function["Environment"]["Variables"]
        assert (variables["BROKER_SECRET_PREFIX"], variables["BROKER_APP_SECRET_PREFIX"]) == (sessions, apps)
        assert variables["BROKER_SECRET_KMS_KEY"]
        statements = _statements(synthesized, function)
        (write,) = [s for s in statements if "secretsmanager:CreateSecret" in as_list(s["Action"])]
        patterns = [_render(resource, synthesized) for resource in as_list(write["Resource"])]
        for name in (f"{sessions}acct-1", f"{apps}acct-1"):
            assert any(fnmatchcase(_secret_arn(synthesized, name), p) for p in patterns), (module, name)
        outside = _secret_arn(synthesized, f"ql-algo-trading/{config.name}/other/acct-1")
        assert not any(fnmatchcase(outside, p) for p in patterns)
        (encrypt,) = [s for s in statements if "kms:Encrypt" in as_list(s["Action"])]
        assert encrypt["Condition"] == {
            "StringEquals": {"kms:ViaService": f"secretsmanager.{config.region}.amazonaws.com"}
        }


def test_no_secret_is_created_by_the_stack(synthesized: Synthesized) -> None:
    """Per-account secrets come from onboarding: no credential value can sit in a template."""
    assert synthesized.of_type("AWS::SecretsManager::Secret") == {}


def test_without_the_egress_option_nothing_runs_in_a_vpc(standalone: Synthesized) -> None:
    assert standalone.config.broker_egress_vpc.enabled is False
    assert not [
        resource for resource in standalone.resources.values() if resource["Type"].startswith("AWS::EC2::")
    ]
    assert all("VpcConfig" not in function for function in _functions_by_module(standalone).values())
    assert "BrokerEgressIps" not in standalone.template["Outputs"]


@pytest.fixture(params=["cross_stack", "staging"])
def with_egress(request: pytest.FixtureRequest) -> Synthesized:
    synth: Synthesized = request.getfixturevalue(request.param)
    assert synth.config.broker_egress_vpc.enabled
    return synth


def _private_subnets(synth: Synthesized) -> set[str]:
    """Subnets whose default route goes to a NAT gateway (and so leaves through its Elastic IP)."""
    nat_tables = {
        ref_target(route["Properties"]["RouteTableId"])
        for route in synth.of_type("AWS::EC2::Route").values()
        if route["Properties"].get("DestinationCidrBlock") == "0.0.0.0/0"
        and "NatGatewayId" in route["Properties"]
    }
    return {
        ref_target(association["Properties"]["SubnetId"]) or ""
        for association in synth.of_type("AWS::EC2::SubnetRouteTableAssociation").values()
        if ref_target(association["Properties"]["RouteTableId"]) in nat_tables
    }


def test_broker_callers_leave_through_nat_gateways_with_elastic_ips(with_egress: Synthesized) -> None:
    options = with_egress.config.broker_egress_vpc
    eips = with_egress.of_type("AWS::EC2::EIP")
    nats = with_egress.of_type("AWS::EC2::NatGateway")
    assert len(eips) == len(nats) == options.nat_gateways
    assert {ref_target(nat["Properties"]["AllocationId"]) for nat in nats.values()} == set(eips)
    retained = with_egress.config.removal_policy == "retain"
    assert all((eip.get("DeletionPolicy") == "Retain") == retained for eip in eips.values())
    output = with_egress.template["Outputs"]["BrokerEgressIps"]["Value"]
    parts = output["Fn::Join"][1] if "Fn::Join" in output else [output]  # one address: no join
    assert {tuple(part["Fn::GetAtt"]) for part in parts} == {(eip_id, "PublicIp") for eip_id in eips}

    private = _private_subnets(with_egress)
    assert len(private) == options.max_azs
    (security_group_id,) = [
        key
        for key, group in with_egress.of_type("AWS::EC2::SecurityGroup").items()
        if "outbound HTTPS only" in group["Properties"]["GroupDescription"]
    ]
    for module, function in _functions_by_module(with_egress).items():
        if module not in BROKER_CALLING_MODULES:
            assert "VpcConfig" not in function, module
            continue
        vpc_config = function["VpcConfig"]
        assert {ref_target(subnet) for subnet in vpc_config["SubnetIds"]} == private, module
        assert [ref_target(group) for group in vpc_config["SecurityGroupIds"]] == [security_group_id]
        eni = [
            s
            for s in _statements(with_egress, function)
            if "ec2:CreateNetworkInterface" in as_list(s["Action"])
        ]
        assert [set(as_list(s["Action"])) for s in eni] == [set(LAMBDA_ENI_ACTIONS)]


def test_broker_callers_may_only_send_https_and_receive_nothing(with_egress: Synthesized) -> None:
    groups = with_egress.of_type("AWS::EC2::SecurityGroup")
    (functions_group,) = [
        group["Properties"]
        for group in groups.values()
        if "outbound HTTPS only" in group["Properties"]["GroupDescription"]
    ]
    assert "SecurityGroupIngress" not in functions_group
    assert [
        (rule["IpProtocol"], rule["FromPort"], rule["ToPort"], rule.get("CidrIp"))
        for rule in functions_group["SecurityGroupEgress"]
    ] == [("tcp", 443, 443, "0.0.0.0/0")]
    for egress in with_egress.of_type("AWS::EC2::SecurityGroupEgress").values():
        assert (egress["Properties"]["FromPort"], egress["Properties"]["ToPort"]) == (443, 443)
    for ingress in with_egress.of_type("AWS::EC2::SecurityGroupIngress").values():
        assert "CidrIp" not in ingress["Properties"], "no ingress from an address range"


def test_egress_vpc_logs_flows_and_reaches_dynamodb_and_secrets_privately(with_egress: Synthesized) -> None:
    (vpc_id,) = with_egress.of_type("AWS::EC2::VPC")
    (flow_log,) = with_egress.of_type("AWS::EC2::FlowLog").values()
    assert ref_target(flow_log["Properties"]["ResourceId"]) == vpc_id
    assert flow_log["Properties"]["TrafficType"] == "ALL"
    log_group = with_egress.resources[ref_target(flow_log["Properties"]["LogGroupName"]) or ""]
    assert log_group["Properties"]["RetentionInDays"] == with_egress.config.log_retention_days

    endpoints = [endpoint["Properties"] for endpoint in with_egress.of_type("AWS::EC2::VPCEndpoint").values()]
    services = {_render(endpoint["ServiceName"], with_egress): endpoint for endpoint in endpoints}
    region = with_egress.config.region
    dynamodb = services[f"com.amazonaws.{region}.dynamodb"]
    assert dynamodb["VpcEndpointType"] == "Gateway"
    nat_routes = {
        ref_target(route["Properties"]["RouteTableId"])
        for route in with_egress.of_type("AWS::EC2::Route").values()
        if "NatGatewayId" in route["Properties"]
    }
    assert {ref_target(table) for table in dynamodb["RouteTableIds"]} == nat_routes
    secrets = services[f"com.amazonaws.{region}.secretsmanager"]
    assert secrets["VpcEndpointType"] == "Interface"
    assert secrets["PrivateDnsEnabled"] is True
    assert {ref_target(subnet) for subnet in secrets["SubnetIds"]} == _private_subnets(with_egress)


def test_pre_allocated_elastic_ips_are_used_instead_of_new_ones(tmp_path: Path) -> None:
    """Addresses already registered with brokers survive a stack replacement."""
    allocations = ("eipalloc-0123456789abcdef0", "eipalloc-0fedcba9876543210")
    config = deployed_config("production").model_copy(
        update={
            "broker_egress_vpc": BrokerEgressVpc(
                enabled=True, max_azs=2, nat_gateways=2, eip_allocation_ids=allocations
            )
        }
    )
    stack = Stack(App(outdir=str(tmp_path)), "Brokers")
    BrokerAccess(stack, "Brokers", config=config)
    template = Template.from_stack(stack).to_json()
    types = [resource["Type"] for resource in template["Resources"].values()]
    assert "AWS::EC2::EIP" not in types
    nats = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::EC2::NatGateway"]
    assert sorted(nat["AllocationId"] for nat in nats) == sorted(allocations)
    assert template["Outputs"]["BrokerEgressEipAllocationIds"]["Value"] == ", ".join(allocations)
    assert "BrokerEgressIps" not in template["Outputs"]


def test_with_client_egress_every_broker_caller_is_told_each_groups_route(tmp_path: Path) -> None:
    """Per-client static IPs: the stack builds the group proxies inside the egress VPC and gives
    every broker-calling function the document its accounts' routes are resolved from."""
    groups = [{"id": "client-a", "members": ["user-a"]}, {"id": "family-b", "members": ["user-b", "user-c"]}]
    config = deployed_config("production").model_copy(
        update={
            "client_egress": ClientEgressConfig.model_validate(
                {"instance_type": "t4g.nano", "groups": groups}
            )
        }
    )
    stack = Stack(App(outdir=str(tmp_path)), "Brokers")
    access = BrokerAccess(stack, "Brokers", config=config)
    assert access.client_egress is not None
    document = access.client_egress_document()
    assert document is not None
    rendered = json.dumps(stack.resolve(document))  # the addresses are known once deployed
    assert "client-a" in rendered and "family-b" in rendered and "user-c" in rendered
    template = Template.from_stack(stack).to_json()
    eips = [r for r in template["Resources"].values() if r["Type"] == "AWS::EC2::EIP"]
    assert len(eips) == 2 + len(groups)  # the NAT gateways' and one per client group
