"""The trader console's hosting: a private bucket read by CloudFront through an Origin Access
Control, HTTPS only, a strict Content-Security-Policy, the build deployed with a `config.json`
naming the APIs and the sign-in, and the console's own Cognito client. Template tests read the
session's templates; the missing-build tests stop before any stack is built."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Environment, Stack

from cdk_stack.application import build_app
from cdk_stack.config import ConfigError
from cdk_stack.console import ConsoleHosting
from tests.infra.conftest import CONSOLE_INDEX, Synthesized, deployed_config
from tests.infra.helpers import framework_functions, policy_statements_of_role, ref_target, rendered

pytestmark = pytest.mark.infra

MARKER = re.compile(r"<<marker:0xbaba:\d+>>")


def _one(synth: Synthesized, resource_type: str) -> tuple[str, dict[str, Any]]:
    ((logical_id, resource),) = synth.of_type(resource_type).items()
    return logical_id, resource


def _bucket(synth: Synthesized) -> tuple[str, dict[str, Any]]:
    """The console's bucket (the stack's other one holds backtest results)."""
    ((logical_id, resource),) = [
        (key, value) for key, value in synth.of_type("AWS::S3::Bucket").items() if key.startswith("Console")
    ]
    return logical_id, resource


def _distribution(synth: Synthesized) -> tuple[str, dict[str, Any]]:
    logical_id, resource = _one(synth, "AWS::CloudFront::Distribution")
    return logical_id, resource["Properties"]["DistributionConfig"]


def test_the_bucket_is_private_tls_only_and_encrypted(synthesized: Synthesized) -> None:
    _, bucket = _bucket(synthesized)
    properties = bucket["Properties"]
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (encryption,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert properties["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert "WebsiteConfiguration" not in properties
    expected = "Retain" if synthesized.config.removal_policy == "retain" else "Delete"
    assert bucket["DeletionPolicy"] == expected


def test_only_this_distribution_may_read_the_bucket(synthesized: Synthesized) -> None:
    bucket_id, _ = _bucket(synthesized)
    distribution_id, _ = _distribution(synthesized)
    (policy,) = [
        p["Properties"]
        for p in synthesized.of_type("AWS::S3::BucketPolicy").values()
        if ref_target(p["Properties"]["Bucket"]) == bucket_id
    ]
    statements = policy["PolicyDocument"]["Statement"]
    (allow,) = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == "s3:GetObject"
    assert rendered(allow["Resource"]) == f"<{bucket_id}.Arn>/*"
    source = allow["Condition"]["StringEquals"]["AWS:SourceArn"]
    assert (
        rendered(source)
        == f"arn:<AWS::Partition>:cloudfront::<AWS::AccountId>:distribution/<{distribution_id}>"
    )
    assert any(
        s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )


def test_the_distribution_reads_through_an_origin_access_control_over_https_only(
    synthesized: Synthesized,
) -> None:
    bucket_id, _ = _bucket(synthesized)
    _, config = _distribution(synthesized)
    (origin,) = config["Origins"]
    assert ref_target(origin["DomainName"]) == bucket_id
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # no legacy OAI
    control_id = ref_target(origin["OriginAccessControlId"])
    (control_resource_id, control) = _one(synthesized, "AWS::CloudFront::OriginAccessControl")
    assert control_id == control_resource_id
    assert control["Properties"]["OriginAccessControlConfig"] | {"Name": None} == {
        "Name": None,
        "OriginAccessControlOriginType": "s3",
        "SigningBehavior": "always",
        "SigningProtocol": "sigv4",
    }
    behavior = config["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behavior["AllowedMethods"] == ["GET", "HEAD"]
    assert config["DefaultRootObject"] == "index.html"
    # Plain ES modules with hash routing: no path needs rewriting to index.html.
    assert "CustomErrorResponses" not in config
    (headers_id,) = synthesized.of_type("AWS::CloudFront::ResponseHeadersPolicy")
    assert ref_target(behavior["ResponseHeadersPolicyId"]) == headers_id
    assert rendered(synthesized.template["Outputs"]["ConsoleUrl"]["Value"]) == (
        f"https://<{_distribution(synthesized)[0]}.DomainName>/"
    )


def _policy(synth: Synthesized) -> dict[str, list[str]]:
    _, headers = _one(synth, "AWS::CloudFront::ResponseHeadersPolicy")
    security = headers["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    text = rendered(security["ContentSecurityPolicy"]["ContentSecurityPolicy"])
    directives = {}
    for directive in text.split(";"):
        name, *values = directive.split()
        directives[name] = values
    return directives


def test_the_content_security_policy_allows_only_the_console_its_apis_and_its_sign_in(
    synthesized: Synthesized,
) -> None:
    directives = _policy(synthesized)
    region = synthesized.config.region
    (rest_api_id,) = synthesized.of_type("AWS::ApiGateway::RestApi")
    (feed_api_id,) = synthesized.of_type("AWS::ApiGatewayV2::Api")
    exports = synthesized.config.auth_stack_exports
    if exports is None:
        (domain_id,) = synthesized.of_type("AWS::Cognito::UserPoolDomain")
        sign_in = f"https://<{domain_id}>.auth.{region}.amazoncognito.com"
    else:
        sign_in = f"<import:{exports.user_pool_domain_url}>"
    assert directives["connect-src"] == [
        "'self'",
        f"https://<{rest_api_id}>.execute-api.{region}.<AWS::URLSuffix>",
        f"wss://<{feed_api_id}>.execute-api.{region}.<AWS::URLSuffix>",
        sign_in,
    ]
    for name in ("default-src", "script-src", "style-src", "img-src", "font-src", "base-uri", "form-action"):
        assert directives[name] == ["'self'"], name
    assert directives["object-src"] == directives["frame-ancestors"] == ["'none'"]
    assert "upgrade-insecure-requests" in directives


def test_the_other_security_headers_forbid_framing_sniffing_and_referrers(synthesized: Synthesized) -> None:
    _, headers = _one(synthesized, "AWS::CloudFront::ResponseHeadersPolicy")
    security = headers["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 365 * 24 * 3600
    assert security["FrameOptions"]["FrameOption"] == "DENY"
    assert security["ReferrerPolicy"]["ReferrerPolicy"] == "no-referrer"
    assert security["ContentTypeOptions"] == {"Override": True}
    assert all(header["Override"] is True for header in security.values())


def _deployments(synth: Synthesized) -> tuple[tuple[str, dict[str, Any]], tuple[str, dict[str, Any]]]:
    """(the hashed modules' upload, the upload of everything else with config.json), each as
    (logical id, resource)."""
    deployments = synth.of_type("Custom::CDKBucketDeployment")
    (hashed,) = [item for item in deployments.items() if "Include" in item[1]["Properties"]]
    (rest,) = [item for item in deployments.items() if item[0] != hashed[0]]
    return hashed, rest


def _config_json(synth: Synthesized) -> dict[str, Any]:
    """The deployed `config.json`: its staged asset with CDK's markers put back as references."""
    deployment = _deployments(synth)[1][1]["Properties"]
    for key, markers in zip(deployment["SourceObjectKeys"], deployment["SourceMarkers"], strict=True):
        staged = synth.outdir / f"asset.{key.removesuffix('.zip')}" / "config.json"
        if staged.exists():
            # Each marker's value is a JSON string literal (quotes included) joined at deploy time.
            text = MARKER.sub(
                lambda match, markers=markers: rendered(markers[match.group(0)]), staged.read_text()
            )
            result: dict[str, Any] = json.loads(text)
            return result
    raise AssertionError("no config.json among the deployment's sources")


def test_hashed_modules_are_cached_for_a_year_and_the_rest_revalidated(synthesized: Synthesized) -> None:
    """console/build.mjs names modules and stylesheets after their content; index.html and
    config.json keep their names, so browsers and the edge revalidate them (no invalidation)."""
    bucket_id, _ = _bucket(synthesized)
    (hashed_id, hashed), (_, rest) = _deployments(synthesized)
    immutable, entry = hashed["Properties"], rest["Properties"]
    assert (immutable["Include"], immutable["Exclude"]) == (["*.js", "*.css"], ["*"])
    assert immutable["SystemMetadata"] == {"cache-control": "public, max-age=31536000, immutable"}
    assert immutable["Prune"] is False  # a page loaded before a deploy still imports the old names
    assert entry["Exclude"] == ["*.js", "*.css"] and "Include" not in entry
    assert entry["SystemMetadata"] == {"cache-control": "no-cache"}
    assert entry["Prune"] is True
    assert hashed_id in rest["DependsOn"]  # index.html goes up after the files it names
    for deployment in (immutable, entry):
        assert ref_target(deployment["DestinationBucketName"]) == bucket_id
        assert "DistributionId" not in deployment
        assert deployment["RetainOnDelete"] is (synthesized.config.removal_policy == "retain")
    (build,) = {key.removesuffix(".zip") for key in immutable["SourceObjectKeys"]}
    assert build in {key.removesuffix(".zip") for key in entry["SourceObjectKeys"]}
    assert (synthesized.outdir / f"asset.{build}" / "index.html").read_text() == CONSOLE_INDEX


def test_config_json_names_the_api_the_feed_and_the_sign_in(synthesized: Synthesized) -> None:
    config = _config_json(synthesized)
    region, stage = synthesized.config.region, synthesized.config.name
    (rest_api_id,) = synthesized.of_type("AWS::ApiGateway::RestApi")
    (rest_stage_id,) = synthesized.of_type("AWS::ApiGateway::Stage")
    (feed_api_id,) = synthesized.of_type("AWS::ApiGatewayV2::Api")
    distribution_id, _ = _distribution(synthesized)
    exports = synthesized.config.auth_stack_exports
    if exports is None:
        (domain_id,) = synthesized.of_type("AWS::Cognito::UserPoolDomain")
        (client_id,) = [
            k
            for k, c in synthesized.of_type("AWS::Cognito::UserPoolClient").items()
            if c["Properties"].get("AllowedOAuthFlows") == ["code"]
        ]
        domain, client = f"https://<{domain_id}>.auth.{region}.amazoncognito.com", f"<{client_id}>"
    else:
        domain = f"<import:{exports.user_pool_domain_url}>"
        client = f"<import:{exports.console_client_id}>"
    assert config == {
        # No trailing slash: the console appends `/options/...`.
        "api_base_url": f"https://<{rest_api_id}>.execute-api.{region}.<AWS::URLSuffix>/<{rest_stage_id}>",
        "feed_url": f"wss://<{feed_api_id}>.execute-api.{region}.<AWS::URLSuffix>/{stage}",
        "auth": {
            "mode": "cognito",
            "domain": domain,
            "client_id": client,
            "redirect_uri": f"https://<{distribution_id}.DomainName>/",
        },
    }


def test_standalone_the_console_signs_in_with_its_own_public_pkce_client(standalone: Synthesized) -> None:
    (pool_id,) = standalone.of_type("AWS::Cognito::UserPool")
    (domain,) = standalone.of_type("AWS::Cognito::UserPoolDomain").values()
    assert ref_target(domain["Properties"]["UserPoolId"]) == pool_id
    assert rendered(domain["Properties"]["Domain"]) == "ql-algo-trading-dev-<AWS::AccountId>"
    (client,) = [
        c["Properties"]
        for c in standalone.of_type("AWS::Cognito::UserPoolClient").values()
        if c["Properties"].get("AllowedOAuthFlows") == ["code"]
    ]
    distribution_id, _ = _distribution(standalone)
    console_url = f"https://<{distribution_id}.DomainName>/"
    assert client["GenerateSecret"] is False  # a browser keeps no secret: PKCE guards the code
    assert [rendered(url) for url in client["CallbackURLs"]] == [console_url]
    assert [rendered(url) for url in client["LogoutURLs"]] == [console_url]
    assert "openid" in client["AllowedOAuthScopes"]
    assert client["SupportedIdentityProviders"] == ["COGNITO"]
    assert ref_target(standalone.template["Outputs"]["ConsoleClientId"]["Value"]) is not None


def test_cross_stack_the_auth_stack_owns_the_sign_in(cross_stack: Synthesized) -> None:
    assert not cross_stack.of_type("AWS::Cognito::UserPoolDomain")
    assert not cross_stack.of_type("AWS::Cognito::UserPoolClient")


def test_the_deployment_handler_has_its_own_role_and_log_retention(synthesized: Synthesized) -> None:
    (handler_id,) = framework_functions(synthesized)
    handler = synthesized.resources[handler_id]["Properties"]
    role_id = ref_target(handler["Role"]) or ""
    assert "ManagedPolicyArns" not in synthesized.resources[role_id]["Properties"]
    log_group = synthesized.resources[ref_target(handler["LoggingConfig"]["LogGroup"]) or ""]
    assert log_group["Properties"]["RetentionInDays"] == synthesized.config.log_retention_days
    actions = {
        action
        for statement in policy_statements_of_role(synthesized, role_id)
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    }
    assert not {action for action in actions if action.startswith("cloudfront:")}  # no invalidations


def test_synthesis_without_the_console_build_says_to_run_make_build(
    built_assets: None, tmp_path: Path
) -> None:
    missing = tmp_path / "not-built"
    with pytest.raises(ConfigError, match=r"not-built/index.html not found: .*run `make build`"):
        build_app(deployed_config("dev"), outdir=str(tmp_path / "out"), console_dir=missing)
    with pytest.raises(ConfigError, match=r"not-built/index.html not found"):
        build_app(deployed_config("dev"), outdir=str(tmp_path / "out"), context={"console_dir": str(missing)})


def test_a_console_that_names_no_api_or_deploys_nothing_does_not_synthesize(tmp_path: Path) -> None:
    """Its policy's connect-src is rendered at synthesis: a forgotten call stops synthesis."""
    app = App(outdir=str(tmp_path))
    stack = Stack(app, "Console", env=Environment(region="ap-south-1"))
    ConsoleHosting(stack, "Console", config=deployed_config("dev"))
    with pytest.raises(RuntimeError) as error:
        app.synth()
    assert "connect-src names no API: call allow_connections" in str(error.value)
    assert "contents are never deployed: call deploy" in str(error.value)
