"""Broker access: where broker credentials live, who may read them, and the static-IP egress.

Credentials are Secrets Manager secrets named `{secret_prefix}{broker_account_id}` (the naming of
`shared_utils.brokers.credentials`), encrypted with this construct's customer-managed key.
Onboarding a broker account creates its secret (with that key); the stack creates no secret, so
no credential value is ever part of a template. Only the functions in `BROKER_CALLING_MODULES`
get the prefix, `secretsmanager:GetSecretValue` on that prefix and decrypt through Secrets
Manager; every other function has an empty prefix, so a real broker account fails closed there.

With `broker_egress_vpc.enabled` those functions run in private subnets whose only way out is a
NAT gateway with an Elastic IP: the static address SEBI requires API orders to come from, to be
registered with each broker (stack output `BrokerEgressIps`).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, ArnFormat, CfnOutput, CfnTag, Fn, Stack, Token, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_stack.config import BrokerEgressVpc, EnvironmentConfig
from cdk_stack.data import log_retention, removal_policy
from cdk_stack.egress import ClientEgress
from shared_utils.brokers.egress import EGRESS_ENVIRONMENT_VARIABLE
from shared_utils.settings import MarketDataSourceName
from shared_utils.tables import resource_prefix

# Functions that build broker adapters (`Platform.brokers_for_user`, `shared_utils/composition.py`):
# every entry, exit and retry (the strategy executor: the timer handlers and the kill switch only
# queue runs), deleting a strategy or basket with `close_positions`, and the minute's
# broker-position check. Execution history reads only the stored records (positions are marked at
# the last recorded price), so it gets no credentials.
BROKER_CALLING_MODULES = frozenset(
    {
        "strategy_executor",
        "duplicate_order_checker",
        "strategy_manager",
        "basket_manager",
    }
)
# Functions that link accounts and keep their daily sessions (`shared_utils/accounts/linking.py`):
# the account routes (link, log in, complete a login) and the timer starter (the morning's
# logins, the evening's logouts). They write app credentials and sessions; nothing else reads
# the app credentials.
ACCOUNT_ROUTES_MODULE = "broker_accounts"  # also shows each account's static IP (CLIENT_EGRESS)
SESSION_MANAGING_MODULES = frozenset({ACCOUNT_ROUTES_MODULE, "timer_starter"})
SECRET_NAMESPACE = "ql-algo-trading"
MARKET_DATA_SECRET_NAME = "market-data"
HTTPS = 443
# What Lambda needs to attach a function to a VPC; AWS documents these with resource "*".
LAMBDA_ENI_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)


def broker_secret_prefix(config: EnvironmentConfig) -> str:
    return f"{SECRET_NAMESPACE}/{config.name}/broker/"


def broker_app_secret_prefix(config: EnvironmentConfig) -> str:
    """Linked accounts' app credentials: apart from the sessions, so no order path reads them."""
    return f"{SECRET_NAMESPACE}/{config.name}/broker-app/"


def manages_broker_sessions(config: EnvironmentConfig) -> bool:
    """Standalone: this stack links accounts and keeps their sessions. Cross-stack: the auth
    stack does both, and this stack only reads its accounts and tokens."""
    return config.auth_stack_exports is None


def manages_sessions(module: str, config: EnvironmentConfig) -> bool:
    return module in SESSION_MANAGING_MODULES and manages_broker_sessions(config)


def market_data_secret(config: EnvironmentConfig) -> str | None:
    """The market-data source's login (api key, daily access token), kept like a broker
    account's; None for the simulated source, which needs none."""
    if config.market_data.source is MarketDataSourceName.SIMULATED:
        return None
    return f"{broker_secret_prefix(config)}{MARKET_DATA_SECRET_NAME}"


def calls_brokers(module: str) -> bool:
    return module in BROKER_CALLING_MODULES


class BrokerEgress(Construct):
    """A VPC whose private subnets reach the internet only through NAT gateways with Elastic IPs."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, options: BrokerEgressVpc
    ) -> None:
        super().__init__(scope, construct_id)
        prefix = resource_prefix(config.name)
        # The public addresses, when the stack allocates them (None: allocated outside the stack).
        self.addresses: list[str] | None = None
        if options.eip_allocation_ids:
            allocation_ids = list(options.eip_allocation_ids)
        else:
            # Allocated here, one per NAT gateway, and kept on stack deletion where the
            # environment retains resources: a registered address must not change silently.
            eips = [
                ec2.CfnEIP(
                    self,
                    f"NatEip{number}",
                    domain="vpc",
                    tags=[CfnTag(key="Name", value=f"{prefix}-broker-egress-{number}")],
                )
                for number in range(1, options.nat_gateways + 1)
            ]
            for eip in eips:
                eip.apply_removal_policy(removal_policy(config))
            allocation_ids = [eip.attr_allocation_id for eip in eips]
            self.addresses = [eip.attr_public_ip for eip in eips]

        flow_logs = logs.LogGroup(
            self, "FlowLogs", retention=log_retention(config), removal_policy=removal_policy(config)
        )
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            vpc_name=f"{prefix}-broker-egress",
            ip_addresses=ec2.IpAddresses.cidr(options.cidr),
            max_azs=options.max_azs,
            nat_gateways=options.nat_gateways,
            nat_gateway_provider=ec2.NatProvider.gateway(eip_allocation_ids=allocation_ids),
            subnet_configuration=[
                ec2.SubnetConfiguration(name="Nat", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(
                    name="Functions", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=22
                ),
            ],
            # Nothing uses the default security group; restricting it would add a Node.js
            # custom-resource function with AWS-managed policies to the stack.
            restrict_default_security_group=False,
            flow_logs={
                "All": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
                    traffic_type=ec2.FlowLogTrafficType.ALL,
                )
            },
        )
        self.subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
        self.security_group = ec2.SecurityGroup(
            self,
            "FunctionsSecurityGroup",
            vpc=self.vpc,
            description="Broker-calling functions: no inbound, outbound HTTPS only",
            allow_all_outbound=False,
        )
        self.security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(HTTPS), "HTTPS to brokers and AWS"
        )
        # DynamoDB stays on the AWS network (and off the NAT's per-GB charge); credentials are
        # fetched through a private Secrets Manager endpoint, never through the NAT.
        self.vpc.add_gateway_endpoint(
            "DynamoDb", service=ec2.GatewayVpcEndpointAwsService.DYNAMODB, subnets=[self.subnets]
        )
        self.endpoint_security_group = ec2.SecurityGroup(
            self,
            "EndpointSecurityGroup",
            vpc=self.vpc,
            description="Secrets Manager endpoint: HTTPS from the broker-calling functions only",
            allow_all_outbound=False,
        )
        secrets_endpoint = self.vpc.add_interface_endpoint(
            "SecretsManager",
            service=ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
            subnets=self.subnets,
            private_dns_enabled=True,
            open=False,
            security_groups=[self.endpoint_security_group],
        )
        secrets_endpoint.connections.allow_default_port_from(
            self.security_group, "Broker-calling functions read their credentials"
        )

    def function_options(self) -> dict[str, Any]:
        """`lambda_.Function` keyword arguments that place a function in the private subnets."""
        return {"vpc": self.vpc, "vpc_subnets": self.subnets, "security_groups": [self.security_group]}


class BrokerAccess(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig) -> None:
        super().__init__(scope, construct_id)
        prefix = resource_prefix(config.name)
        self.secret_prefix = broker_secret_prefix(config)
        self.app_secret_prefix = broker_app_secret_prefix(config)
        self.secrets_arn_pattern = Stack.of(self).format_arn(
            service="secretsmanager",
            resource="secret",
            resource_name=f"{self.secret_prefix}*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.app_secrets_arn_pattern = Stack.of(self).format_arn(
            service="secretsmanager",
            resource="secret",
            resource_name=f"{self.app_secret_prefix}*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.key = kms.Key(
            self,
            "SecretsKey",
            alias=f"alias/{prefix}/broker-secrets",
            description=f"Encrypts the broker credential secrets under {self.secret_prefix} ({config.name})",
            enable_key_rotation=True,
            removal_policy=removal_policy(config),
        )
        options = config.broker_egress_vpc
        self.egress = (
            BrokerEgress(self, "Egress", config=config, options=options) if options.enabled else None
        )

        # One static IP per client group (the exchange's rule since 2026-04-01), inside the
        # egress VPC: the broker callers reach each group's proxy from their security group.
        self.client_egress: ClientEgress | None = None
        if self.egress is not None and config.client_egress is not None:
            self.client_egress = ClientEgress(
                self,
                "ClientEgress",
                options=config.client_egress,
                vpc=self.egress.vpc,
                clients=self.egress.security_group,
                name_prefix=prefix,
                removal_policy=removal_policy(config),
            )

        CfnOutput(self, "SecretPrefix", value=self.secret_prefix).override_logical_id("BrokerSecretPrefix")
        CfnOutput(self, "SecretsKeyArn", value=self.key.key_arn).override_logical_id("BrokerSecretsKeyArn")
        if self.egress is not None and self.egress.addresses is not None:
            CfnOutput(
                self,
                "EgressIps",
                value=Fn.join(", ", self.egress.addresses),
                description="Static IPs broker API orders leave from: register each with every broker",
            ).override_logical_id("BrokerEgressIps")
        elif self.egress is not None:
            CfnOutput(
                self,
                "EgressAllocations",
                value=", ".join(options.eip_allocation_ids),
                description="Elastic IP allocations broker API orders leave from (registered with brokers)",
            ).override_logical_id("BrokerEgressEipAllocationIds")

    def function_options(self) -> dict[str, Any]:
        return self.egress.function_options() if self.egress is not None else {}

    def client_egress_document(self) -> str | None:
        """What broker callers get as `CLIENT_EGRESS` (None: no per-client egress here)."""
        if self.client_egress is None:
            return None
        return self.client_egress.environment()[EGRESS_ENVIRONMENT_VARIABLE]

    def grant(self, function: lambda_.Function) -> None:
        """Read any broker secret under the prefix (and nothing else), decrypting via Secrets Manager."""
        self._grant_secrets(function, self.secrets_arn_pattern)
        if self.egress is not None:
            # Lambda's own ENI management; the factory's `Resource::*` acknowledgement says so.
            function.add_to_role_policy(
                iam.PolicyStatement(actions=list(LAMBDA_ENI_ACTIONS), resources=["*"])
            )
        Validations.of(function.role).acknowledge(  # type: ignore[arg-type]
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::{_nag_arn(Stack.of(self), self.secret_prefix)}]",
                reason="Broker credentials are one secret per broker account, created at onboarding "
                "under this prefix (Secrets Manager also appends a random suffix), so the ARN "
                "pattern names only this environment's broker-secret prefix.",
            )
        )

    def grant_sessions(self, function: lambda_.Function) -> None:
        """Create, read, replace and delete the app credentials and sessions of linked accounts
        (under the two prefixes only), encrypting with this construct's key."""
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=[
                    "secretsmanager:CreateSecret",
                    "secretsmanager:PutSecretValue",
                    "secretsmanager:GetSecretValue",
                    "secretsmanager:DeleteSecret",
                ],
                resources=[self.secrets_arn_pattern, self.app_secrets_arn_pattern],
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                resources=[self.key.key_arn],
                conditions={
                    "StringEquals": {
                        "kms:ViaService": f"secretsmanager.{Stack.of(self).region}.amazonaws.com"
                    }
                },
            )
        )
        stack = Stack.of(self)
        for prefix in (self.secret_prefix, self.app_secret_prefix):
            Validations.of(function.role).acknowledge(  # type: ignore[arg-type]
                Acknowledgment(
                    id=f"AwsSolutions-IAM5[Resource::{_nag_arn(stack, prefix)}]",
                    reason="One secret per linked broker account (app credentials, daily session), "
                    "created at linking under this environment's prefix with a random suffix.",
                )
            )

    def grant_market_data(self, function: lambda_.Function, secret_name: str) -> None:
        """Read the market-data source's one secret (not any broker account's)."""
        arn = Stack.of(self).format_arn(
            service="secretsmanager",
            resource="secret",
            resource_name=f"{secret_name}-??????",  # Secrets Manager's random suffix
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self._grant_secrets(function, arn)

    def _grant_secrets(self, function: lambda_.Function, arn_pattern: str) -> None:
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["secretsmanager:GetSecretValue"], resources=[arn_pattern])
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt"],
                resources=[self.key.key_arn],
                conditions={
                    "StringEquals": {
                        "kms:ViaService": f"secretsmanager.{Stack.of(self).region}.amazonaws.com"
                    }
                },
            )
        )


def _nag_arn(stack: Stack, secret_prefix: str) -> str:
    """The secret-prefix ARN as cdk-nag prints it in a finding id: unresolved pseudo parameters
    appear as `<AWS::...>`, a region or account fixed by the environment as itself."""
    region = "<AWS::Region>" if Token.is_unresolved(stack.region) else stack.region
    account = "<AWS::AccountId>" if Token.is_unresolved(stack.account) else stack.account
    return f"arn:<AWS::Partition>:secretsmanager:{region}:{account}:secret:{secret_prefix}*"
