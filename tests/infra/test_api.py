"""REST API: every catalog route exists, behind the Cognito authorizer, validated and throttled."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from cdk_stack.api import API_ACCESS, path_parameters
from cdk_stack.application import build_app, default_routes
from cdk_stack.config import ConfigError, load_environment
from shared_utils.api.catalog import LINKING_ROUTES, PUBLIC_ROUTES, ApiRoute
from tests.infra.conftest import Synthesized
from tests.infra.helpers import function_by_module, platform_functions, ref_target

pytestmark = pytest.mark.infra


def _paths(synth: Synthesized) -> dict[str, str]:
    """Resource logical id -> full path, rebuilt from ParentId / PathPart."""
    resources = synth.of_type("AWS::ApiGateway::Resource")
    paths: dict[str, str] = {}

    def path_of(resource_id: str) -> str:
        if resource_id not in paths:
            properties = resources[resource_id]["Properties"]
            parent = ref_target(properties["ParentId"])
            prefix = path_of(parent) if parent in resources else ""
            paths[resource_id] = f"{prefix}/{properties['PathPart']}"
        return paths[resource_id]

    for resource_id in resources:
        path_of(resource_id)
    return paths


def _methods(synth: Synthesized) -> list[dict[str, Any]]:
    return [method["Properties"] for method in synth.of_type("AWS::ApiGateway::Method").values()]


def test_every_catalog_route_reaches_its_module_function(synthesized: Synthesized) -> None:
    paths = _paths(synthesized)
    served = {}
    for method in _methods(synthesized):
        if method["HttpMethod"] == "OPTIONS":
            continue
        key = (method["HttpMethod"], paths[ref_target(method["ResourceId"]) or ""])
        served[key] = "".join(str(part) for part in method["Integration"]["Uri"]["Fn::Join"][1])
    # The public routes too: no authorizer (tests/infra/test_signals.py), a function of their own.
    routes = (*default_routes(synthesized.config), *PUBLIC_ROUTES)
    assert set(served) == {(route.method.upper(), route.path) for route in routes}
    linking = {(route.method, route.path) for route in LINKING_ROUTES}
    # Cross-stack: the auth stack links accounts; its routes are not deployed here.
    assert (linking <= set(served)) is (synthesized.config.auth_stack_exports is None)
    for route in routes:
        assert function_by_module(synthesized, route.module) in served[(route.method.upper(), route.path)]
    functions = {function_by_module(synthesized, route.module) for route in routes}
    assert len(functions) == len({route.module for route in routes})


def test_every_method_requires_the_cognito_authorizer(synthesized: Synthesized) -> None:
    (authorizer_id,) = synthesized.of_type("AWS::ApiGateway::Authorizer")
    authorizer = synthesized.resources[authorizer_id]["Properties"]
    assert authorizer["Type"] == "COGNITO_USER_POOLS"
    assert authorizer["IdentitySource"] == "method.request.header.Authorization"
    methods = _methods(synthesized)
    assert methods
    paths = _paths(synthesized)
    public = {(route.method, route.path) for route in PUBLIC_ROUTES}
    for method in methods:
        if (method["HttpMethod"], paths[ref_target(method["ResourceId"]) or ""]) in public:
            continue  # a signal webhook: no authorizer on purpose (tests/infra/test_signals.py)
        if method["HttpMethod"] == "OPTIONS":
            # CORS preflight: browsers send it without credentials; it is a mock reaching nothing.
            assert method["Integration"]["Type"] == "MOCK"
            assert method["AuthorizationType"] == "NONE"
            continue
        assert method["AuthorizationType"] == "COGNITO_USER_POOLS"
        assert ref_target(method["AuthorizerId"]) == authorizer_id


def test_requests_are_validated_and_path_parameters_required(synthesized: Synthesized) -> None:
    (validator_id,) = synthesized.of_type("AWS::ApiGateway::RequestValidator")
    validator = synthesized.resources[validator_id]["Properties"]
    assert validator["ValidateRequestParameters"] is True
    paths = _paths(synthesized)
    for method in _methods(synthesized):
        if method["HttpMethod"] == "OPTIONS":
            continue
        assert ref_target(method["RequestValidatorId"]) == validator_id
        expected = {
            f"method.request.path.{name}": True
            for name in path_parameters(paths[method["ResourceId"]["Ref"]])
        }
        assert method.get("RequestParameters", {}) == expected


def test_stage_is_throttled_logged_and_traced_per_environment(synthesized: Synthesized) -> None:
    (stage,) = synthesized.of_type("AWS::ApiGateway::Stage").values()
    properties = stage["Properties"]
    assert properties["StageName"] == synthesized.config.name
    assert properties["TracingEnabled"] is True
    (settings,) = properties["MethodSettings"]
    throttling = synthesized.config.api_throttling
    assert settings["ThrottlingRateLimit"] == throttling.rate_limit
    assert settings["ThrottlingBurstLimit"] == throttling.burst_limit
    assert settings["DataTraceEnabled"] is False
    log_group = synthesized.resources[ref_target(properties["AccessLogSetting"]["DestinationArn"]) or ""]
    assert log_group["Properties"]["RetentionInDays"] == synthesized.config.log_retention_days
    assert "$context.requestId" in properties["AccessLogSetting"]["Format"]


def _console_origin(synth: Synthesized, quoted: bool = False) -> dict[str, Any]:
    """`https://{the console distribution's domain}` as the template joins it."""
    (distribution_id,) = synth.of_type("AWS::CloudFront::Distribution")
    quote = "'" if quoted else ""
    return {"Fn::Join": ["", [f"{quote}https://", {"Fn::GetAtt": [distribution_id, "DomainName"]}, quote]]}


def test_cors_allows_only_the_console_and_the_configured_frontends(synthesized: Synthesized) -> None:
    """The console's origin is the static answer; the configured ones are echoed when they ask."""
    origins = set(synthesized.config.cors_allowed_origins)
    preflights = [method for method in _methods(synthesized) if method["HttpMethod"] == "OPTIONS"]
    assert preflights
    for method in preflights:
        (response,) = method["Integration"]["IntegrationResponses"]
        allowed = response["ResponseParameters"]["method.response.header.Access-Control-Allow-Origin"]
        assert allowed == _console_origin(synthesized, quoted=True)
        echoed = re.findall(r'\$origin == "([^"]+)"', response["ResponseTemplates"]["application/json"])
        assert set(echoed) == origins


def test_api_gateways_own_errors_are_readable_by_the_console(synthesized: Synthesized) -> None:
    """A 401 from the authorizer (an expired token) reaches the console, which signs in again."""
    responses = {
        response["Properties"]["ResponseType"]: response["Properties"]["ResponseParameters"]
        for response in synthesized.of_type("AWS::ApiGateway::GatewayResponse").values()
    }
    assert set(responses) == {"DEFAULT_4XX", "DEFAULT_5XX"}
    for parameters in responses.values():
        assert parameters == {
            "gatewayresponse.header.Access-Control-Allow-Origin": _console_origin(synthesized, quoted=True)
        }


def test_every_function_answers_the_console_and_the_configured_origins(synthesized: Synthesized) -> None:
    expected = {
        "Fn::Join": [
            "",
            [
                "https://",
                _console_origin(synthesized)["Fn::Join"][1][1],
                "".join(f",{origin}" for origin in synthesized.config.cors_allowed_origins),
            ],
        ]
    }
    for function in platform_functions(synthesized).values():
        assert function["Properties"]["Environment"]["Variables"]["CORS_ALLOWED_ORIGINS"] == expected


def test_every_catalog_module_has_a_decided_table_access() -> None:
    assert {route.module for route in default_routes()} <= set(API_ACCESS)


def test_a_module_without_an_access_entry_stops_synthesis(
    built_assets: None, console_build: Path, tmp_path: Path
) -> None:
    routes = [*default_routes(), ApiRoute("GET", "/options/reports", "report_builder", "listReports")]
    with pytest.raises(
        ConfigError, match=r"API module 'report_builder' \(GET /options/reports\).*API_ACCESS"
    ):
        build_app(load_environment("dev"), outdir=str(tmp_path), routes=routes, console_dir=console_build)
