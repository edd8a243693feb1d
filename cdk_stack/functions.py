"""The one place that builds Lambda functions, so every function is configured the same way.

Each function gets its own role (no shared role, no managed policy), its own log group with the
environment's retention, X-Ray tracing, the Powertools variables, and the run-time settings
produced by `RuntimeSettings.as_environment()` — the same model the handlers validate at cold
start, so a variable name cannot differ between the stack and the code. Callers add
least-privilege `grant_*` calls next to the function they create. Functions of the modules in
`brokers.BROKER_CALLING_MODULES` also get their broker-secret prefix and grant here, and run in the
broker egress VPC when the environment enables it, so no broker caller can be built without them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Acknowledgment, Duration, Stack, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_stack.brokers import ACCOUNT_ROUTES_MODULE, BrokerAccess, calls_brokers, manages_sessions
from cdk_stack.config import EnvironmentConfig
from cdk_stack.data import TableHandle, log_retention, removal_policy
from lambda_functions.option_baskets import handler_path
from shared_utils.settings import RuntimeSettings
from shared_utils.tables import resource_prefix

RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64
SERVICE_NAME = "options-trading"
METRICS_NAMESPACE = "OptionsTrading"
XRAY_WILDCARD_REASON = (
    "Active X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords "
    "support no resource-level permissions, so the statement CDK adds must use '*'."
)
ENI_WILDCARD_REASON = (
    " In the broker egress VPC, Lambda manages the function's network interfaces with "
    "ec2:CreateNetworkInterface, ec2:DescribeNetworkInterfaces, ec2:DescribeSubnets, "
    "ec2:DeleteNetworkInterface, ec2:Assign/UnassignPrivateIpAddresses, which AWS documents on '*'."
)


def function_name(config: EnvironmentConfig, module: str) -> str:
    """The deployed name of `module`'s function (known before it is built: a caller's settings
    can name it without a reference to the function)."""
    return f"{resource_prefix(config.name)}-{module.replace('_', '-')}"


class FunctionFactory(Construct):
    """Holds the shared code asset and dependency layer; `create` adds one configured function."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        settings: RuntimeSettings,
        app_asset: Path,
        layer_asset: Path,
        brokers: BrokerAccess,
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self._settings = settings
        self._brokers = brokers
        self._code = lambda_.Code.from_asset(str(app_asset))
        self.layer = lambda_.LayerVersion(
            self,
            "DependenciesLayer",
            code=lambda_.Code.from_asset(str(layer_asset)),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="Run-time dependencies (requirements.txt, requirements-layer-nodeps.txt), "
            "built for Lambda arm64 / Python 3.13",
            removal_policy=removal_policy(config),
        )
        self.functions: dict[str, lambda_.Function] = {}

    def create(
        self,
        scope: Construct,
        module: str,
        *,
        description: str,
        timeout: Duration | None = None,
        memory_size: int = 256,
        settings: dict[str, Any] | None = None,
        wildcard_reason: str = "",
        reserved_concurrency: int | None = None,
    ) -> lambda_.Function:
        """A function running `lambda_functions.option_baskets.<module>.handler`.

        `settings` adds the optional `RuntimeSettings` fields only this function needs
        (e.g. the timer starter's state machine ARN), by field name. `wildcard_reason` explains
        any other action on `*` its caller grants (added to the role's acknowledgement).
        `reserved_concurrency` caps (and reserves) the function's concurrent executions.
        """
        if module in self.functions:
            raise ValueError(f"function for module {module!r} already exists")
        broker_caller = calls_brokers(module)
        if broker_caller:
            settings = {**(settings or {}), "broker_secret_prefix": self._brokers.secret_prefix}
            document = self._brokers.client_egress_document()
            if document is not None:
                settings["client_egress"] = document
        if manages_sessions(module, self._config):
            settings = {
                **(settings or {}),
                "broker_secret_prefix": self._brokers.secret_prefix,
                "broker_app_secret_prefix": self._brokers.app_secret_prefix,
                "broker_secret_kms_key": self._brokers.key.key_arn,
            }
        if (
            module == ACCOUNT_ROUTES_MODULE
            and (document := self._brokers.client_egress_document()) is not None
        ):
            # The account routes show each account's static IP (to register with the broker).
            settings = {**(settings or {}), "client_egress": document}
        in_vpc = broker_caller and self._brokers.egress is not None
        construct_id = "".join(part.capitalize() for part in module.split("_"))
        name = function_name(self._config, module)
        role = iam.Role(
            scope,
            f"{construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Execution role of {name} only",
        )
        log_group = logs.LogGroup(
            scope,
            f"{construct_id}Logs",
            log_group_name=f"/aws/lambda/{name}",
            retention=log_retention(self._config),
            removal_policy=removal_policy(self._config),
        )
        log_group.grant_write(role)
        function = lambda_.Function(
            scope,
            construct_id,
            function_name=name,
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=handler_path(module),
            code=self._code,
            layers=[self.layer],
            role=role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            timeout=timeout or Duration.seconds(30),
            memory_size=memory_size,
            reserved_concurrent_executions=reserved_concurrency,
            environment={
                "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": self._config.log_level,
                **self._settings.model_copy(update=settings or {}).as_environment(),
            },
            **(self._brokers.function_options() if broker_caller else {}),
        )
        if broker_caller:
            self._brokers.grant(function)
        if manages_sessions(module, self._config):
            self._brokers.grant_sessions(function)
        Validations.of(function).acknowledge(
            Acknowledgment(
                id="AwsSolutions-L1",
                reason="Pinned to Python 3.13 on purpose: the dependency layer is built for cp313 "
                "wheels (make build) and the code is tested on 3.11-3.13; moving runtime is a "
                "deliberate change of RUNTIME and the layer platform together.",
            )
        )
        Validations.of(role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason=XRAY_WILDCARD_REASON
                + (ENI_WILDCARD_REASON if in_vpc else "")
                + (f" {wildcard_reason}" if wildcard_reason else ""),
            )
        )
        self.functions[module] = function
        return function

    def grant_market_data_secret(self, function: lambda_.Function, secret_name: str) -> None:
        """Read the market-data source's login (kept beside the broker secrets, same key)."""
        self._brokers.grant_market_data(function, secret_name)


def grant_table(function: lambda_.Function, handle: TableHandle, *, write: bool) -> None:
    """Read-only or read/write access to one table (and its own indexes, if it has any).

    CDK grants a table's indexes as `<table arn>/index/*`; that pattern covers only the indexes
    of this one table, which cdk-nag reports as a wildcard finding, acknowledged here.
    """
    if write:
        handle.table.grant_read_write_data(function)
    else:
        handle.table.grant_read_data(function)
    if handle.definition.indexes and isinstance(handle.table, dynamodb.Table):
        logical_id = Stack.of(handle.table).get_logical_id(handle.table.node.default_child)  # type: ignore[arg-type]
        names = ", ".join(index.name for index in handle.definition.indexes)
        Validations.of(function.role).acknowledge(  # type: ignore[arg-type]
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>/index/*]",
                reason=f"Queries the {names} index(es) of the {handle.definition.suffix} table; "
                "the ARN pattern is limited to that table's own indexes.",
            )
        )
