"""The trader console's hosting: a private S3 bucket behind a CloudFront distribution.

- The bucket blocks all public access, accepts TLS only and is encrypted with S3-managed keys;
  CloudFront reads it through an Origin Access Control (the bucket policy allows the CloudFront
  service principal for this distribution's ARN only). No versioning: the contents are a build of
  the repository (`make build` writes `.build/console`), so a rollback is a deploy of the earlier
  commit. Where the environment's resources are destroyed with the stack, the deployment empties
  the bucket first (CloudFormation cannot delete a bucket holding objects).
- HTTPS only (HTTP is redirected), `index.html` at the root, and a response headers policy with a
  strict Content-Security-Policy: scripts, styles, images and fonts from the console's own origin,
  connections to it, the REST API, the live feed and the user pool's hosted UI (the PKCE token
  exchange and refresh are `fetch` calls there), nothing third-party; no framing, no referrer.
  The console is plain ES modules with hash routing, so no error response rewrites to index.html.
- Caching follows the build (`console/build.mjs`): its JavaScript modules and stylesheets are
  named after a hash of their content, so they are stored `public, max-age=31536000, immutable`
  and never pruned (a page loaded before a deploy may still import the old ones); everything else
  (`index.html`, `config.json`, the icon, the manifest) is stored `no-cache`, uploaded after the
  hashed files it names. A deploy so shows at once without a CloudFront invalidation (which CDK's
  `BucketDeployment` would grant on every distribution of the account,
  `cloudfront:CreateInvalidation` on `*`): browsers and the edge revalidate with the ETag.
- `config.json`, written beside the build at deploy time, tells the console where the REST API,
  the feed and the sign-in are (`deploy`).

Construction order (`stack.OptionsTradingStack`): the distribution comes first, because the REST
API's CORS origins, every function's `CORS_ALLOWED_ORIGINS` and the console's app client (its
callback URL) need its address. The policy's `connect-src` names the APIs built after it: it is
rendered when the stack is synthesized, from the origins `allow_connections` was given.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import (
    Acknowledgment,
    CfnOutput,
    DefaultStackSynthesizer,
    Duration,
    IStableStringProducer,
    Lazy,
    Stack,
    Token,
    Validations,
)
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct, IValidation

from cdk_stack.config import EnvironmentConfig
from cdk_stack.data import log_retention, removal_policy
from shared_utils.tables import resource_prefix

CONFIG_OBJECT = "config.json"
# `console/build.mjs` renames these after a hash of their content: they never change.
HASHED_FILES = ("*.js", "*.css")
INDEX_DOCUMENT = "index.html"


@jsii.implements(IStableStringProducer)
class _ContentSecurityPolicy:
    """The policy's text, rendered at synthesis from the connect sources known by then."""

    def __init__(self) -> None:
        self.connect_sources: list[str] = []

    def produce(self) -> str:
        return "; ".join(
            [
                "default-src 'self'",
                "script-src 'self'",
                "style-src 'self'",
                "img-src 'self'",
                "font-src 'self'",
                " ".join(["connect-src 'self'", *self.connect_sources]),
                "object-src 'none'",
                "base-uri 'self'",
                "form-action 'self'",
                "frame-ancestors 'none'",
                "upgrade-insecure-requests",
            ]
        )


@jsii.implements(IValidation)
class _Complete:
    """Synthesis fails if the stack never said where the console connects or what it serves."""

    def __init__(self, hosting: ConsoleHosting) -> None:
        self._hosting = hosting

    def validate(self) -> list[str]:
        problems = []
        if not self._hosting.csp.connect_sources:
            problems.append("the console's connect-src names no API: call allow_connections")
        if self._hosting.deployment is None:
            problems.append("the console's contents are never deployed: call deploy")
        return problems


class ConsoleHosting(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        prefix = resource_prefix(config.name)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            encryption=s3.BucketEncryption.S3_MANAGED,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=removal_policy(config),
        )
        Validations.of(self.bucket).acknowledge(
            Acknowledgment(
                id="AwsSolutions-S1",
                reason="Holds the console's public build only (no user data), read by CloudFront "
                "alone; who calls the platform is logged by the APIs' access logs.",
            )
        )
        self.csp = _ContentSecurityPolicy()
        headers = cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            response_headers_policy_name=f"{prefix}-console-security",
            comment="Trader console: strict CSP (own origin, the platform's APIs and sign-in), HSTS",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=Lazy.string(self.csp), override=True
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.days(365), include_subdomains=True, override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
                ),
            ),
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"{prefix} trader console",
            default_root_object=INDEX_DOCUMENT,
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=headers,
                compress=True,
            ),
            # Price class 200 includes the edge locations in India (100 is North America and
            # Europe only, which would serve Indian traders from Europe).
            price_class=cloudfront.PriceClass.PRICE_CLASS_200,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
        )
        Validations.of(self.distribution).acknowledge(
            Acknowledgment(
                id="AwsSolutions-CFR1",
                reason="No geo restriction: traders sign in from wherever they are; every call "
                "that reads or changes data needs a Cognito token.",
            ),
            Acknowledgment(
                id="AwsSolutions-CFR2",
                reason="Serves the console's static files only; the data is behind the Cognito-"
                "authorised, throttled APIs, so a WAF web ACL here would guard nothing of value.",
            ),
            Acknowledgment(
                id="AwsSolutions-CFR3",
                reason="Static files of a public build: CloudFront standard logs would need an "
                "ACL-enabled log bucket for nothing to audit; the APIs keep the access logs.",
            ),
            Acknowledgment(
                id="AwsSolutions-CFR4",
                reason="No custom domain yet: with the default *.cloudfront.net certificate "
                "CloudFront fixes the viewer security policy (browsers negotiate TLS 1.2/1.3); a "
                "custom domain's certificate would allow TLSv1.2_2021.",
            ),
        )
        self.deployment: s3deploy.BucketDeployment | None = None
        self.node.add_validation(_Complete(self))
        CfnOutput(self, "ConsoleUrl", value=self.url).override_logical_id("ConsoleUrl")

    @property
    def origin(self) -> str:
        """`https://{distribution domain}`: the console's origin (CORS)."""
        return f"https://{self.distribution.distribution_domain_name}"

    @property
    def url(self) -> str:
        """The console's address with the trailing slash: the OAuth redirect URI."""
        return f"{self.origin}/"

    def allow_connections(self, *sources: str) -> None:
        """Origins (`https://host`, `wss://host`) the console may `fetch` or open a WebSocket to."""
        self.csp.connect_sources.extend(sources)

    def deploy(self, content: Path, settings: Mapping[str, Any]) -> s3deploy.BucketDeployment:
        """Upload the console build in `content` and `config.json` holding `settings`."""
        if self.deployment is not None:
            raise ValueError("the console is deployed once")
        role = iam.Role(
            self,
            "DeploymentRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="CDK's bucket deployment of the trader console only",
        )
        log_group = logs.LogGroup(
            self,
            "DeploymentLogs",
            retention=log_retention(self._config),
            removal_policy=removal_policy(self._config),
        )
        log_group.grant_write(role)
        # Both uploads run on CDK's one handler function, with this role.
        common: dict[str, Any] = {
            "destination_bucket": self.bucket,
            # Destroyed with the stack: emptied first, so the bucket can go too.
            "retain_on_delete": self._config.removal_policy == "retain",
            "memory_limit": 512,
            "role": role,
            "log_group": log_group,
        }
        hashed = s3deploy.BucketDeployment(
            self,
            "HashedFiles",
            sources=[s3deploy.Source.asset(str(content))],
            exclude=["*"],
            include=list(HASHED_FILES),
            # A page loaded before a deploy still imports its modules by their old names.
            prune=False,
            cache_control=[
                s3deploy.CacheControl.set_public(),
                s3deploy.CacheControl.max_age(Duration.days(365)),
                s3deploy.CacheControl.immutable(),
            ],
            **common,
        )
        self.deployment = s3deploy.BucketDeployment(
            self,
            "Content",
            sources=[
                s3deploy.Source.asset(str(content)),
                s3deploy.Source.json_data(CONFIG_OBJECT, dict(settings)),
            ],
            exclude=list(HASHED_FILES),
            prune=True,
            cache_control=[s3deploy.CacheControl.no_cache()],
            **common,
        )
        # index.html names the hashed files: they are in the bucket before it is.
        self.deployment.node.add_dependency(hashed)
        # Each deployment builds an AWS CLI layer for the handler, which exists once (the first
        # deployment's): the second layer would be an unused resource.
        self.deployment.node.try_remove_child("AwsCliLayer")
        self._acknowledge_deployment(role)
        return self.deployment

    def _acknowledge_deployment(self, role: iam.Role) -> None:
        """What CDK's bucket deployment grants and runs, acknowledged where cdk-nag finds it."""
        stack = Stack.of(self)
        bucket_id = stack.get_logical_id(self.bucket.node.default_child)  # type: ignore[arg-type]
        read = (
            "CDK's bucket deployment copies the console build from the CDK assets bucket into "
            "the console bucket with `aws s3 sync`"
        )
        Validations.of(role).acknowledge(
            *(
                Acknowledgment(
                    id=f"AwsSolutions-IAM5[Action::{action}]",
                    reason=f"{read}: {action} (CDK's grant) on those two buckets and their objects only.",
                )
                for action in ("s3:GetObject*", "s3:GetBucket*", "s3:List*", "s3:DeleteObject*", "s3:Abort*")
            ),
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::{_nag_assets_bucket(stack)}/*]",
                reason=f"{read}: it reads the objects of the CDK assets bucket (the zipped build).",
            ),
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/*]",
                reason=f"{read}: it writes and prunes the objects of the console bucket, all of them.",
            ),
        )
        # CDK's singleton handler of every bucket deployment, at the stack's root.
        for child in stack.node.children:
            if child.node.id.startswith("Custom::CDKBucketDeployment"):
                Validations.of(child).acknowledge(
                    Acknowledgment(
                        id="AwsSolutions-L1",
                        reason="CDK's own bucket-deployment handler (AWS CLI layer): its runtime "
                        "is chosen by aws-cdk-lib and moves with it; it runs at deploy time only.",
                    )
                )


def console_settings(
    *, api_base_url: str, feed_url: str, hosted_ui_url: str, client_id: str, redirect_uri: str
) -> dict[str, Any]:
    """The console's `config.json`."""
    return {
        "api_base_url": api_base_url,
        "feed_url": feed_url,
        "auth": {
            "mode": "cognito",
            "domain": hosted_ui_url,
            "client_id": client_id,
            "redirect_uri": redirect_uri,
        },
    }


def rest_api_origin(scope: Construct, rest_api_id: str) -> str:
    """`https://{id}.execute-api.{region}.amazonaws.com`, from the API's id alone (its URL names
    the stage, which depends on every method: the console's policy must not)."""
    stack = Stack.of(scope)
    return f"https://{rest_api_id}.execute-api.{stack.region}.{stack.url_suffix}"


def _nag_assets_bucket(stack: Stack) -> str:
    """The CDK assets bucket's ARN as cdk-nag prints it (pseudo parameters as `<AWS::...>`)."""
    region = "<AWS::Region>" if Token.is_unresolved(stack.region) else stack.region
    account = "<AWS::AccountId>" if Token.is_unresolved(stack.account) else stack.account
    name = (
        DefaultStackSynthesizer.DEFAULT_FILE_ASSETS_BUCKET_NAME.replace(
            "${Qualifier}", DefaultStackSynthesizer.DEFAULT_QUALIFIER
        )
        .replace("${AWS::AccountId}", account)
        .replace("${AWS::Region}", region)
    )
    return f"arn:<AWS::Partition>:s3:::{name}"
