"""The REST API: routes from `shared_utils.api.catalog.API_ROUTES`, one function per handler module.

Every method requires a Cognito user-pool token, except the CORS preflight `OPTIONS` mocks, which
browsers send without credentials and which reach no function, and the catalog's `PUBLIC_ROUTES`
(`add_public_route`: a chart platform's signal webhook, authenticated by its URL token).
Path parameters are declared required and checked by a request validator before a function
runs (the validator also checks bodies of methods that declare a model; the handlers validate
bodies with pydantic and answer with the API's own error model).

CORS: the preflight allows `cors_origins`, the trader console's origin (this stack's CloudFront
distribution) first, then the environment's `cors_allowed_origins`. API Gateway's own 4XX/5XX
answers (a 401 for an expired token) can name one origin only: the console's.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol

from aws_cdk import Acknowledgment, CfnOutput, Duration, Stack, Validations
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_stack.config import ConfigError, EnvironmentConfig
from cdk_stack.data import DataTables, TableHandle, log_retention, removal_policy
from cdk_stack.functions import FunctionFactory, grant_table
from shared_utils.tables import resource_prefix

READ_METHODS = frozenset({"GET", "HEAD"})
PATH_PARAMETER = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)\}$")
CORS_ALLOW_HEADERS = ["Authorization", "Content-Type", "Idempotency-Key", "X-Amz-Date"]


class Route(Protocol):
    """What the stack needs from a route record of the API catalog."""

    @property
    def method(self) -> str: ...

    @property
    def path(self) -> str: ...

    @property
    def module(self) -> str: ...


# Tables each handler module touches. "routes": read/write when the module serves any mutating
# method, read-only when it only serves GET; "read": always read-only. Every module of the
# catalog needs an entry (there is no default): a new module's access is decided, not guessed.
AccessMode = Literal["routes", "read"]
API_ACCESS: dict[str, dict[str, AccessMode]] = {
    "broker_accounts": {"broker_accounts": "routes"},
    # Deleting a basket or a strategy holds its lease and checks it holds no open position, or
    # first closes them (`close_positions`: an exit through the caller's brokers). The basket
    # manager also serves the user's portfolio rules (configurations) with today's portfolio
    # exits (history): a function of its own would cost a dozen of the stack's 500 resources.
    "basket_manager": {"trading": "routes", "history": "routes", "broker_accounts": "read"},
    "strategy_manager": {"trading": "routes", "history": "routes", "broker_accounts": "read"},
    # Allocations name a broker account of the caller, checked against the accounts table.
    "strategy_broker_allocator": {"trading": "routes", "broker_accounts": "read"},
    "strategy_templates": {},  # static data shipped with the code
    # Entry/exit records and positions, both from the stored records (`ExecutionStore`); positions
    # are marked with the quote cache and the calendar's closes (configurations table).
    "execution_history": {"history": "read", "trading": "read"},
    # Sets the switch and its operation's progress (history), reads open positions and the retry
    # list (history) to know whom to square off, and queues one run per user: the executor pauses
    # strategies and places the exits, so the route calls no broker (it reads the calendar only).
    "kill_switch": {"history": "routes", "trading": "read"},
    # Listings live in the configurations table; owners' fee statements read execution records.
    "marketplace": {"trading": "routes", "history": "read"},
    # Subscriptions too, allocated to the subscriber's own (checked) broker accounts; the
    # subscriber's monthly statement reads execution records.
    "subscriptions": {"trading": "routes", "broker_accounts": "read", "history": "read"},
    # Admins' calendar changes live in the configurations table.
    "market_calendar": {"trading": "routes"},
    # Backtest jobs: reads the strategies (configurations), writes the jobs; it also starts the
    # job function and signs links to the results (`backtests.Backtests.allow_starting`).
    "backtests": {"trading": "read", "backtest_jobs": "routes"},
}


def path_parameters(path: str) -> list[str]:
    return [match.group(1) for part in path.split("/") if (match := PATH_PARAMETER.match(part))]


class RestApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        factory: FunctionFactory,
        user_pool: cognito.IUserPool,
        data: DataTables,
        broker_accounts: TableHandle,
        routes: Sequence[Route],
        cors_origins: Sequence[str],
        module_settings: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """`module_settings`: optional `RuntimeSettings` fields only some modules' functions get
        (by module, then field name)."""
        super().__init__(scope, construct_id)
        if not routes:
            raise ValueError("the API catalog has no routes")
        if not cors_origins:
            raise ValueError("no CORS origin: the console's at least")
        prefix = resource_prefix(config.name)
        access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=log_retention(config),
            removal_policy=removal_policy(config),
        )
        self.api = apigateway.RestApi(
            self,
            "Api",
            rest_api_name=f"{prefix}-options-api",
            description="Options baskets, strategies, broker allocations and marketplace",
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=removal_policy(config),
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            deploy_options=apigateway.StageOptions(
                stage_name=config.name,
                throttling_rate_limit=config.api_throttling.rate_limit,
                throttling_burst_limit=config.api_throttling.burst_limit,
                access_log_destination=apigateway.LogGroupLogDestination(access_logs),
                access_log_format=apigateway.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                logging_level=apigateway.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                tracing_enabled=True,
                metrics_enabled=True,
            ),
        )
        Validations.of(self.api).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonAPIGatewayPushToCloudWatchLogs]",
                reason="The account-level role API Gateway uses to write the access and execution "
                "logs; AWS maintains that policy for exactly this service role.",
            ),
            Acknowledgment(
                id="AwsSolutions-APIG3",
                reason="Every method requires a Cognito token and the stage is throttled per "
                "environment; a WAF web ACL is not part of this stack.",
            ),
        )
        self._add_error_responses(cors_origins[0])
        authorizer = apigateway.CognitoUserPoolsAuthorizer(
            self, "Authorizer", cognito_user_pools=[user_pool], authorizer_name=f"{prefix}-cognito"
        )
        validator = self.api.add_request_validator(
            "RequestValidator", validate_request_parameters=True, validate_request_body=True
        )
        self._validator = validator

        by_module: dict[str, list[Route]] = defaultdict(list)
        for route in routes:
            by_module[route.module].append(route)
        tables = {
            "trading": data.trading,
            "history": data.history,
            "broker_accounts": broker_accounts,
            "backtest_jobs": data.backtest_jobs,
        }
        self.functions: dict[str, lambda_.Function] = {}
        for module, module_routes in by_module.items():
            extra = (module_settings or {}).get(module)
            function = factory.create(
                self,
                module,
                description=f"API: {_summary(module_routes)}",
                settings=dict(extra) if extra else None,
            )
            mutating = any(route.method.upper() not in READ_METHODS for route in module_routes)
            for table_key, mode in _access(module, module_routes).items():
                grant_table(function, tables[table_key], write=mode == "routes" and mutating)
            if mutating:
                # Powertools Idempotency keeps create requests retried by clients single.
                grant_table(function, data.idempotency, write=True)
            self.functions[module] = function

        self.methods: list[apigateway.Method] = []
        cors_resources: dict[str, apigateway.Resource] = {}
        for route in routes:
            resource = self.api.root.resource_for_path(route.path)
            self.methods.append(
                resource.add_method(
                    route.method.upper(),
                    # One invoke permission per function for this API (any of its methods and
                    # stages), not two per method: a CloudFormation stack holds 500 resources.
                    apigateway.LambdaIntegration(
                        self.functions[route.module], scope_permission_to_method=False
                    ),
                    authorizer=authorizer,
                    authorization_type=apigateway.AuthorizationType.COGNITO,
                    request_validator=validator,
                    request_parameters={
                        f"method.request.path.{name}": True for name in path_parameters(route.path)
                    },
                )
            )
            cors_resources[route.path] = resource
        for resource in cors_resources.values():
            preflight = resource.add_cors_preflight(
                allow_origins=list(cors_origins),
                allow_headers=CORS_ALLOW_HEADERS,
                allow_methods=apigateway.Cors.ALL_METHODS,
                max_age=Duration.hours(1),
            )
            reason = (
                "CORS preflight: browsers send OPTIONS without credentials; this mock integration "
                "returns only CORS headers and reaches no function."
            )
            Validations.of(preflight).acknowledge(
                Acknowledgment(id="AwsSolutions-APIG4", reason=reason),
                Acknowledgment(id="AwsSolutions-COG4", reason=reason),
            )
        CfnOutput(self, "ApiUrl", value=self.api.url).override_logical_id("ApiUrl")

    def add_public_route(
        self, route: Route, function: lambda_.IFunction, *, reason: str
    ) -> apigateway.Method:
        """A method WITHOUT the Cognito authorizer (`PUBLIC_ROUTES`: its function authenticates
        the request itself, e.g. a signal webhook's URL token), validated like the others; `reason`
        tells cdk-nag why it has no authorizer. No CORS preflight: browsers never call it."""
        resource = self.api.root.resource_for_path(route.path)
        method = resource.add_method(
            route.method.upper(),
            apigateway.LambdaIntegration(function, scope_permission_to_method=False),
            authorization_type=apigateway.AuthorizationType.NONE,
            request_validator=self._validator,
            request_parameters={f"method.request.path.{name}": True for name in path_parameters(route.path)},
        )
        Validations.of(method).acknowledge(
            Acknowledgment(id="AwsSolutions-APIG4", reason=reason),
            Acknowledgment(id="AwsSolutions-COG4", reason=reason),
        )
        self.methods.append(method)
        return method

    @property
    def base_url(self) -> str:
        """The stage's URL without the trailing slash: `https://{id}.execute-api.{region}.
        amazonaws.com/{stage}`, what clients prefix paths (`/options/...`) with."""
        stack = Stack.of(self)
        return (
            f"https://{self.api.rest_api_id}.execute-api.{stack.region}.{stack.url_suffix}/"
            f"{self.api.deployment_stage.stage_name}"
        )

    def _add_error_responses(self, origin: str) -> None:
        """Let the browser read API Gateway's own 4XX/5XX (e.g. 401 from the authorizer).

        `Access-Control-Allow-Origin` takes one origin: the first of the CORS origins.
        """
        headers = {"Access-Control-Allow-Origin": f"'{origin}'"}
        for response_type in (apigateway.ResponseType.DEFAULT_4_XX, apigateway.ResponseType.DEFAULT_5_XX):
            self.api.add_gateway_response(
                f"Cors{response_type.response_type}", type=response_type, response_headers=headers
            )


def _access(module: str, routes: Sequence[Route]) -> dict[str, AccessMode]:
    """The module's table access from `API_ACCESS`; a module without an entry stops synthesis."""
    if module not in API_ACCESS:
        raise ConfigError(
            f"API module {module!r} ({_summary(routes)}) has no entry in API_ACCESS "
            "(cdk_stack/api.py): add the tables it reads and writes"
        )
    return API_ACCESS[module]


def _summary(routes: Sequence[Route]) -> str:
    text = ", ".join(f"{route.method.upper()} {route.path}" for route in routes)
    return text if len(text) <= 250 else text[:247] + "..."
